/**
 * What a token costs on Cloudflare, counted: every billable operation this Worker and the minimal
 * issuer cause, per 1,000 tokens, priced from Cloudflare's list prices.
 *
 * Each Worker runs as built, behind bench/counting-entry.js (wrapped bindings that count KV reads and
 * writes, Durable Object requests, SQLite rows, alarms, Analytics Engine points and log lines), on a
 * fresh workerd. Three scenarios:
 * - warm tokens at production cadence: 1,000 mapped users ask once each. A user refreshes every
 *   ~8 minutes (80 % of a 600 s token), longer than the isolate's 60 s account cache, so in
 *   production nearly every refresh misses it and reads KV: this is the figure the cost is judged on;
 * - warm tokens within the cache: the same users again at once (an upper bound on savings);
 * - first-time users (this Worker only): new uids, each provisioned through its account object and
 *   NetEase (the emulator) under the create pacer.
 * CPU time per token comes from the warm throughput rounds (one core per Worker: 1000 / req/s).
 */

import { readFileSync, writeFileSync } from "node:fs";
import { basename, dirname } from "node:path";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { startEmulator } from "../emulator/serve.ts";
import { importDerivationKey } from "../src/accounts/object/derive.ts";
import { benchRecord, hsJwt } from "./services.ts";
import { log, ROOT, SECRETS } from "./settings.ts";
import { bundleModules } from "./startup.ts";

/** What the counting entry counts. */
export interface Counts {
  requests: number;
  kvReads: number;
  kvWrites: number;
  kvDeletes: number;
  kvLists: number;
  doRequests: number;
  sqlRowsRead: number;
  sqlRowsWritten: number;
  alarmsSet: number;
  analyticsPoints: number;
  logLines: number;
  logBytes: number;
}

/**
 * Cloudflare's list prices beyond each plan's included usage (Workers Paid), USD, read 2026-12-07
 * from Cloudflare's pricing pages (bench/README.md names each page).
 */
export const PRICES = {
  /** Workers: requests, per million. */
  requestPerM: 0.3,
  /** Workers: CPU time, per million ms. */
  cpuMsPerM: 0.02,
  /** Workers KV: reads, per million. */
  kvReadPerM: 0.5,
  /** Workers KV: writes, deletes and lists, per million each. */
  kvWritePerM: 5,
  /** Durable Objects: requests (each RPC call), per million. */
  doRequestPerM: 0.15,
  /** Durable Objects (SQLite storage): rows read, per million. */
  sqlRowReadPerM: 0.001,
  /** Durable Objects (SQLite storage): rows written (a setAlarm is one), per million. */
  sqlRowWrittenPerM: 1,
  /** Workers Analytics Engine: data points written, per million. */
  analyticsPointPerM: 0.25,
  /** Cloudflare Observability (Workers Logs from 2026-12-01): ingestion, per GB. */
  logIngestPerGB: 0.25,
  /** Cloudflare Observability: storage, per GB-month (7-day retention keeps ~7/30 of a month's ingestion). */
  logStoragePerGBMonth: 0.1,
} as const;

/** What each plan includes a month (Workers Paid, $5 a month). */
export const INCLUDED = {
  base: 5,
  requests: 10e6,
  cpuMs: 30e6,
  kvReads: 10e6,
  kvWrites: 1e6,
  doRequests: 1e6,
  sqlRowsRead: 25e9,
  sqlRowsWritten: 50e6,
  analyticsPoints: 10e6,
  logGB: 50,
} as const;

/** The counts per token (a scenario's counts over its tokens) and CPU ms per token. */
export interface PerToken extends Counts {
  cpuMs: number;
}

/** USD per million tokens beyond the included usage, by product. */
export function pricePerMillion(per: PerToken): Record<string, number> {
  const logGB = per.logBytes / 1e9;
  return {
    requests: per.requests * PRICES.requestPerM,
    cpu: per.cpuMs * PRICES.cpuMsPerM,
    kv: per.kvReads * PRICES.kvReadPerM + (per.kvWrites + per.kvDeletes + per.kvLists) * PRICES.kvWritePerM,
    durableObjects:
      per.doRequests * PRICES.doRequestPerM +
      per.sqlRowsRead * PRICES.sqlRowReadPerM +
      (per.sqlRowsWritten + per.alarmsSet) * PRICES.sqlRowWrittenPerM,
    analytics: per.analyticsPoints * PRICES.analyticsPointPerM,
    logs: logGB * 1e6 * (PRICES.logIngestPerGB + (7 / 30) * PRICES.logStoragePerGBMonth),
  };
}

/** The sum of `pricePerMillion`. */
export function totalPerMillion(per: PerToken): number {
  return Object.values(pricePerMillion(per)).reduce((sum, price) => sum + price, 0);
}

export interface CostResult {
  worker: { cadence: PerToken; cached: PerToken; firstTime: PerToken };
  minimal: { cadence: PerToken; cached: PerToken };
  /** $ per million warm tokens at production cadence. */
  perMillion: { worker: number; minimal: number; ratio: number };
  /** Monthly bills by daily users (docs/operations.md): this Worker and the minimal issuer. */
  monthly: { dailyUsers: number; tokens: number; worker: number; minimal: number }[];
}

const USERS = Number(process.env.BENCH_COST_USERS ?? 1000);
const NEW_USERS = Number(process.env.BENCH_COST_NEW_USERS ?? 200);
/** Tokens a daily user asks for: every 10 minutes through an 8-hour day. */
export const TOKENS_PER_DAILY_USER = 48;
/** New users a month, as a share of daily users (each pays a first-time provisioning once). */
export const NEW_USER_SHARE = 0.1;

/** A monthly bill: the base, and each product's use beyond what the plan includes. */
export function monthlyBill(tokens: number, newUsers: number, warm: PerToken, firstTime?: PerToken): number {
  const use = (key: keyof PerToken) => warm[key] * tokens + (firstTime ? firstTime[key] * newUsers : 0);
  const over = (amount: number, included: number) => Math.max(0, amount - included) / 1e6;
  return (
    INCLUDED.base +
    over(use("requests"), INCLUDED.requests) * PRICES.requestPerM +
    over(use("cpuMs"), INCLUDED.cpuMs) * PRICES.cpuMsPerM +
    over(use("kvReads"), INCLUDED.kvReads) * PRICES.kvReadPerM +
    over(use("kvWrites") + use("kvDeletes") + use("kvLists"), INCLUDED.kvWrites) * PRICES.kvWritePerM +
    over(use("doRequests"), INCLUDED.doRequests) * PRICES.doRequestPerM +
    over(use("sqlRowsRead"), INCLUDED.sqlRowsRead) * PRICES.sqlRowReadPerM +
    over(use("sqlRowsWritten") + use("alarmsSet"), INCLUDED.sqlRowsWritten) * PRICES.sqlRowWrittenPerM +
    over(use("analyticsPoints"), INCLUDED.analyticsPoints) * PRICES.analyticsPointPerM +
    Math.max(0, use("logBytes") / 1e9 - INCLUDED.logGB) *
      (PRICES.logIngestPerGB + (7 / 30) * PRICES.logStoragePerGBMonth)
  );
}

/** Counts per token: `after - before` over `tokens`, with CPU ms per token. */
function perToken(before: Counts, after: Counts, tokens: number, cpuMs: number): PerToken {
  const per = { cpuMs } as PerToken;
  for (const key of Object.keys(after) as (keyof Counts)[]) per[key] = (after[key] - before[key]) / tokens;
  return per;
}

/**
 * Counts both Workers' operations (run alone on the machine). `cpuMs`: CPU ms per warm token of
 * each, from the throughput rounds.
 */
export async function countCosts(
  bundlePath: string,
  minimalPath: string,
  cpuMs: { worker: number; minimal: number },
): Promise<CostResult> {
  const emulator = await startEmulator({ appKey: SECRETS.NIM_APP_KEY, appSecret: SECRETS.NIM_APP_SECRET });
  const key = await importDerivationKey(SECRETS.ACCID_SECRET);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const uids = Array.from({ length: USERS }, (_, i) => `bench-cost-${i}`);

  async function run(which: "worker" | "minimal") {
    const path = which === "worker" ? bundlePath : minimalPath;
    const dir = dirname(path);
    const entry = `${dir}/counting.js`;
    writeFileSync(
      entry,
      readFileSync(`${ROOT}bench/counting-entry.js`, "utf8")
        .replace("./WORKER_MAIN", `./${basename(path)}`)
        // The minimal issuer has no Durable Objects (workerd takes every named export as a handler).
        .replace(which === "minimal" ? /^export const (AccountObject|CreatePacer) = .*$/gm : /$^/, ""),
    );
    const mf = new Miniflare({
      ...convertV4MiniflareOptions({
        host: "127.0.0.1",
        port: 0,
        workers: [
          {
            name: which,
            modules: [{ type: "ESModule" as const, path: entry }, ...bundleModules(path)],
            modulesRoot: dir,
            compatibilityDate: "2026-11-01",
            compatibilityFlags: ["nodejs_compat"],
            kvNamespaces: ["ACCOUNTS"],
            analyticsEngineDatasets: { METRICS: { dataset: "bench" } },
            ...(which === "worker"
              ? {
                  durableObjects: {
                    ACCOUNT_OBJECTS: { className: "AccountObject", useSQLite: true },
                    NIM_CREATE_PACER: { className: "CreatePacer", useSQLite: true },
                  },
                }
              : {}),
            bindings: { ...SECRETS, NIM_API_BASE: `${emulator.url}/nimserver`, LOCAL_DEVELOPMENT: "true" },
          },
        ],
      }),
      handleStructuredLogs: (line: unknown) => {
        if (process.env.BENCH_DEBUG) console.error(JSON.stringify(line));
      },
    });
    try {
      const url = await mf.ready;
      const kv = await mf.getKVNamespace("ACCOUNTS", which);
      for (const uid of uids) {
        const { accid, record } = await benchRecord(key, uid);
        await kv.put(`uid:${uid}`, record);
        await kv.put(`accid:${accid}`, uid);
      }
      const counts = async () => (await (await fetch(new URL("/__bench/counts", url))).json()) as Counts;
      /** Tokens for `list`, `parallel` at a time (first-time users one at a time: the pacer's turns). */
      const tokens = async (list: string[], parallel = 10) => {
        for (let i = 0; i < list.length; i += parallel) {
          await Promise.all(
            list.slice(i, i + parallel).map(async (uid) => {
              const answer = await fetch(new URL("/v1/token", url), {
                method: "POST",
                headers: { authorization: `Bearer ${hsJwt(uid, exp)}` },
              });
              if (answer.status !== 200)
                throw new Error(`${which} cost run: HTTP ${answer.status} for ${uid}: ${await answer.text()}`);
              await answer.arrayBuffer();
            }),
          );
        }
      };
      const cpu = cpuMs[which];
      const start = await counts();
      await tokens(uids);
      const afterCadence = await counts();
      await tokens(uids);
      const afterCached = await counts();
      const cadence = perToken(start, afterCadence, uids.length, cpu);
      const cached = perToken(afterCadence, afterCached, uids.length, cpu);
      if (which === "minimal") return { cadence, cached };
      const fresh = Array.from({ length: NEW_USERS }, (_, i) => `bench-cost-new-${i}`);
      await tokens(fresh, 1);
      // What the objects finish after answering (KV writes, alarms) is counted too.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const firstTime = perToken(afterCached, await counts(), fresh.length, cpu);
      return { cadence, cached, firstTime };
    } finally {
      await mf.dispose();
    }
  }

  try {
    log(`counting billable operations: ${USERS} warm users, ${NEW_USERS} first-time users`);
    const worker = (await run("worker")) as CostResult["worker"];
    const minimal = (await run("minimal")) as CostResult["minimal"];
    const perMillion = {
      worker: totalPerMillion(worker.cadence),
      minimal: totalPerMillion(minimal.cadence),
      ratio: totalPerMillion(worker.cadence) / totalPerMillion(minimal.cadence),
    };
    const monthly = [10e3, 100e3, 1e6, 10e6].map((dailyUsers) => {
      const tokensPerMonth = dailyUsers * TOKENS_PER_DAILY_USER * 30;
      const newUsers = dailyUsers * NEW_USER_SHARE;
      return {
        dailyUsers,
        tokens: tokensPerMonth,
        worker: monthlyBill(tokensPerMonth, newUsers, worker.cadence, worker.firstTime),
        minimal: monthlyBill(tokensPerMonth, 0, minimal.cadence),
      };
    });
    return { worker, minimal, perMillion, monthly };
  } finally {
    await emulator.dispose();
  }
}
