/**
 * The launch-day burst: BURST_USERS new uids arriving evenly over BURST_SPREAD_SECONDS against an
 * emulator that, like NetEase, allows 100 calls a second per app and answers 416 (then refuses the
 * app for ~10 s) past it. Run twice, one after the other, with pacing on (NIM_CREATE_RATE 80, the
 * default) and off (0), each with its own emulator and its own Worker so neither inherits the
 * other's block or queue.
 *
 * Each user behaves like the client package: it asks for a token, and on 503 or 429 waits for
 * `Retry-After` (plus up to a second of jitter) or, without one, a second, and asks again, until
 * BURST_DEADLINE_SECONDS. Five seconds in, an operator blocks a known user; that call is timed.
 */

import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { Worker } from "node:worker_threads";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { startEmulator } from "../emulator/serve.ts";
import type { OperatorResult, OperatorTask } from "./operator.ts";
import { hsJwt } from "./services.ts";
import { log, median, SECRETS } from "./settings.ts";
import { bundleModules } from "./startup.ts";

export const BURST_USERS = Number(process.env.BENCH_BURST_USERS ?? 3000);
export const BURST_SPREAD_SECONDS = Number(process.env.BENCH_BURST_SECONDS ?? 10);
const BURST_DEADLINE_SECONDS = Number(process.env.BENCH_BURST_DEADLINE ?? 120);
/** NetEase's documented cap on account creations (and the emulator's on every call), a second. */
export const NETEASE_RATE = 100;
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdefghijklmnop";

/** What one burst did. */
export interface BurstResult {
  mode: "paced" | "unpaced";
  users: number;
  served: number;
  /** Calls NetEase (the emulator) answered 416. */
  rateRefusals: number;
  /** Answers of 5xx without a Retry-After (a client cannot know when to come back). */
  fiveXxWithoutRetryAfter: number;
  /** 503s with a Retry-After: the queue said when to come back. */
  refusedWithRetryAfter: number;
  /** From a user's first request to their token, counting retries (ms). */
  p50Ms: number;
  p99Ms: number;
  /** NetEase create calls per served new uid (a repeated create for one accid is answered "already registered"). */
  createCallsPerUid: number;
  /** Accounts NetEase (the emulator) holds afterwards that it did not before. */
  accountsCreated: number;
  /** The most create calls one accid received. */
  maxCreatesPerAccid: number;
  /** The operator's block five seconds in: its status, its answer's time, and when NetEase had it (ms). */
  adminBlock: { status: number; ms: number; netEaseMs: number; workerMs: number };
  /** From the first arrival to the last token (ms). */
  drainedMs: number;
  /** The Worker's log lines during the run, by event or error code. */
  events: Record<string, number>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one burst against the bundle at `bundlePath`. */
export async function runBurst(bundlePath: string, mode: "paced" | "unpaced"): Promise<BurstResult> {
  const events: Record<string, number> = {};
  let blockWorkerMs = Number.NaN;
  const storage = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/nim-burst-") : undefined;
  const emulator = await startEmulator({
    appKey: SECRETS.NIM_APP_KEY,
    appSecret: SECRETS.NIM_APP_SECRET,
    rateLimitPerSecond: NETEASE_RATE,
  });
  const mf = new Miniflare({
    ...convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      workers: [
        {
          name: `burst-${mode}`,
          // The script and its Text modules (the OpenAPI document), as wrangler uploads them.
          modules: bundleModules(bundlePath),
          compatibilityDate: "2026-11-01",
          compatibilityFlags: ["nodejs_compat"],
          unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
          kvNamespaces: { ACCOUNTS: `burst-${mode}` },
          durableObjects: {
            ACCOUNT_OBJECTS: { className: "AccountObject", useSQLite: true },
            NIM_CREATE_PACER: { className: "CreatePacer", useSQLite: true },
          },
          bindings: {
            ...SECRETS,
            NIM_API_BASE: `${emulator.url}/nimserver`,
            // Its NetEase is the emulator on loopback, which a Worker accepts only in local development.
            LOCAL_DEVELOPMENT: "true",
            NIM_CREATE_RATE: mode === "paced" ? "80" : "0",
            ADMIN_TOKEN,
          },
        },
      ],
    }),
    // Storage on tmpfs: locally every new object's SQLite database is a file on this one disk, and
    // thousands created in a minute queue every object's storage (an operator's block included)
    // behind the disk for seconds (measured: the block reached NetEase 9.6 s late). In production
    // each object's storage is its own.
    ...(storage ? { resourcePersistencePath: storage } : {}),
    logRequests: false,
    // Which events the Worker logged (the pacer unreachable, NetEase's 416 block, …), counted.
    handleStructuredLogs: ({ message }) => {
      const event = /"(?:event|error)":"([a-z_]+)"/.exec(message)?.[1] ?? "other";
      events[event] = (events[event] ?? 0) + 1;
      // The block's own access-log line: how long the Worker itself took, from arrival to answer.
      if (message.includes('"route":"/admin/v1/accounts/:uid/block"')) {
        blockWorkerMs = Number(/"latencyMs":(\d+)/.exec(message)?.[1] ?? Number.NaN);
      }
    },
  });
  try {
    await mf.ready;
    const origin = (await mf.unsafeGetDirectURL(`burst-${mode}`)).origin;
    const exp = Math.floor(Date.now() / 1000) + 3600;
    // Each user from an address of its own, as a launch's users arrive (one network may hold only
    // so many booked creation turns).
    const addresses = new Map<string, string>();
    const addressOf = (uid: string) => {
      let address = addresses.get(uid);
      if (!address) {
        const n = addresses.size + 1;
        address = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
        addresses.set(uid, address);
      }
      return address;
    };
    const token = (uid: string) =>
      fetch(`${origin}/v1/token`, {
        method: "POST",
        headers: { authorization: `Bearer ${hsJwt(uid, exp)}`, "cf-connecting-ip": addressOf(uid) },
      });

    // A known user for the operator to block mid-burst; then let NetEase's one-second window pass.
    const known = `burst-known-${mode}`;
    const first = await token(known);
    if (first.status !== 200) throw new Error(`burst ${mode}: the known user got HTTP ${first.status}`);
    await sleep(1_500);
    const before = (await (await fetch(`${emulator.url}/emulator/stats`)).json()) as {
      calls: Record<string, number>;
      rateRefusals: number;
      accounts: number;
      maxCallsPerAccid: Record<string, number>;
    };

    log(`burst (${mode}): ${BURST_USERS} new users over ${BURST_SPREAD_SECONDS} s, NetEase at ${NETEASE_RATE}/s`);
    const started = performance.now();
    const deadline = started + BURST_DEADLINE_SECONDS * 1000;
    let fiveXxWithoutRetryAfter = 0;
    let refusedWithRetryAfter = 0;
    const times: number[] = [];
    let lastToken = started;
    const user = async (index: number) => {
      await sleep((index * BURST_SPREAD_SECONDS * 1000) / BURST_USERS);
      const uid = `burst-${mode}-${index}`;
      const from = performance.now();
      while (performance.now() < deadline) {
        let status: number;
        let retryAfter: string | null;
        try {
          const answer = await token(uid);
          status = answer.status;
          retryAfter = answer.headers.get("Retry-After");
          await answer.body?.cancel();
        } catch {
          status = 599;
          retryAfter = null;
        }
        if (status === 200) {
          lastToken = performance.now();
          times.push(lastToken - from);
          return;
        }
        if (status >= 500 && retryAfter === null) fiveXxWithoutRetryAfter++;
        if (status === 503 && retryAfter !== null) refusedWithRetryAfter++;
        await sleep((retryAfter === null ? 1_000 : Number(retryAfter) * 1000) + Math.random() * 1000);
      }
    };
    const knownAccid = ((await first.json()) as { accid: string }).accid;
    // The operator is another client: its own thread, event loop and connections (bench/operator.ts).
    const task: OperatorTask = {
      origin,
      emulatorUrl: emulator.url,
      adminToken: ADMIN_TOKEN,
      uid: known,
      accid: knownAccid,
      delayMs: 5_000,
    };
    const operator = new Worker(new URL("./operator.ts", import.meta.url), { workerData: task });
    const adminBlock = new Promise<OperatorResult>((resolve, reject) => {
      operator.once("message", (result: OperatorResult) => {
        resolve(result);
        void operator.terminate();
      });
      operator.once("error", reject);
    });
    await Promise.all(Array.from({ length: BURST_USERS }, (_, index) => user(index)));
    const after = (await (await fetch(`${emulator.url}/emulator/stats`)).json()) as typeof before;
    const sorted = times.sort((a, b) => a - b);
    const createCalls = (after.calls.create ?? 0) - (before.calls.create ?? 0);
    return {
      mode,
      users: BURST_USERS,
      served: sorted.length,
      rateRefusals: after.rateRefusals - before.rateRefusals,
      fiveXxWithoutRetryAfter,
      refusedWithRetryAfter,
      p50Ms: sorted.length ? median(sorted) : Number.NaN,
      p99Ms: sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))]! : Number.NaN,
      createCallsPerUid: sorted.length ? createCalls / sorted.length : Number.NaN,
      accountsCreated: after.accounts - before.accounts,
      maxCreatesPerAccid: after.maxCallsPerAccid.create ?? 0,
      adminBlock: { ...(await adminBlock), workerMs: blockWorkerMs },
      drainedMs: lastToken - started,
      events,
    };
  } finally {
    await mf.dispose();
    await emulator.dispose();
    if (storage) rmSync(storage, { recursive: true, force: true });
  }
}

/** Prints the bursts side by side, writes bench/burst-results.json, and returns whether the paced one met its goals. */
export function reportBurst(
  results: BurstResult[],
  resultsPath: string,
  write: (path: string, text: string) => void,
): boolean {
  const seconds = (ms: number) => (Number.isFinite(ms) ? (ms / 1000).toFixed(1) : "—");
  const lines = [
    `Launch-day burst: ${BURST_USERS} new users over ${BURST_SPREAD_SECONDS} s; NetEase (the emulator) allows ${NETEASE_RATE} calls a second, then answers 416 and refuses the app for ~10 s.`,
    "",
    "| pacing | served | NetEase 416s | 5xx without Retry-After | 503 with Retry-After | first request → token p50 / p99 s | creates per new uid (accounts) | admin block mid-burst | all served after s |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...results.map(
      (r) =>
        `| ${r.mode === "paced" ? "on (80/s)" : "off"} | ${r.served}/${r.users} | ${r.rateRefusals} | ${r.fiveXxWithoutRetryAfter} | ${r.refusedWithRetryAfter} | ${seconds(r.p50Ms)} / ${seconds(r.p99Ms)} | ${r.createCallsPerUid.toFixed(3)} (${r.accountsCreated}) | HTTP ${r.adminBlock.status} in ${r.adminBlock.ms.toFixed(0)} ms (at NetEase: ${Number.isNaN(r.adminBlock.netEaseMs) ? "never" : `${r.adminBlock.netEaseMs.toFixed(0)} ms`}; in the Worker: ${r.adminBlock.workerMs} ms) | ${seconds(r.drainedMs)} |`,
    ),
  ];
  const paced = results.find((r) => r.mode === "paced");
  const checks = paced
    ? [
        { target: "paced burst: no NetEase 416", ok: paced.rateRefusals === 0, value: `${paced.rateRefusals}` },
        {
          target: "paced burst: no 5xx without Retry-After",
          ok: paced.fiveXxWithoutRetryAfter === 0,
          value: `${paced.fiveXxWithoutRetryAfter}`,
        },
        {
          target: "paced burst: every user served",
          ok: paced.served === paced.users,
          value: `${paced.served}/${paced.users}`,
        },
        {
          target: "paced burst: one NetEase create per new uid",
          ok: Math.abs(paced.createCallsPerUid - 1) < 1e-9,
          value: `${paced.createCallsPerUid.toFixed(3)}; ${paced.accountsCreated} accounts for ${paced.users} users; at most ${paced.maxCreatesPerAccid} creates for one accid`,
        },
        {
          target: "paced burst: an admin block mid-burst is in force at NetEase within 1 s",
          ok: paced.adminBlock.status === 200 && paced.adminBlock.netEaseMs <= 1000,
          value: `at NetEase in ${paced.adminBlock.netEaseMs.toFixed(0)} ms`,
        },
        {
          target: "paced burst: the operator's answer within 1 s",
          ok: paced.adminBlock.status === 200 && paced.adminBlock.ms <= 1000,
          value: `HTTP ${paced.adminBlock.status} in ${paced.adminBlock.ms.toFixed(0)} ms`,
        },
      ]
    : [];
  for (const r of results) lines.push("", `${r.mode} log events: ${JSON.stringify(r.events)}`);
  console.log([...lines, "", ...checks.map((c) => `- ${c.ok ? "✓" : "✗"} ${c.target}: ${c.value}`)].join("\n"));
  write(resultsPath, `${JSON.stringify({ date: new Date().toISOString(), results, checks }, null, 2)}\n`);
  return checks.every((c) => c.ok);
}
