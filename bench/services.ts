/**
 * What the bench measures against, on loopback: the CommsEase emulator, an identity provider's JWKS,
 * and one Miniflare with the production bundle (HS256, ES256 via JWKS, and with the simulated rate
 * limiter) beside an empty baseline Worker, each on its own direct socket; then USERS users mapped in
 * KV with their session JWTs.
 */

import { execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { type RunningEmulator, startEmulator } from "../emulator/serve.ts";
import { deriveAccid, deriveRtcUid, importDerivationKey } from "../src/accounts/object/derive.ts";
import { BENCH_CHANNEL_POLICY, BENCH_IDP, BENCH_SG, log, SECRETS, USERS } from "./settings.ts";
import { bundleModules } from "./startup.ts";

const b64url = (data: string | Buffer) => Buffer.from(data).toString("base64url");
const HS_HEADER = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
/** A compact HS256 JWT, signed synchronously (autocannon's setupRequest is synchronous). */
export function hsJwt(uid: string, exp: number): string {
  const payload = b64url(JSON.stringify({ sub: uid, iat: exp - 3600, exp }));
  const signature = createHmac("sha256", SECRETS.SESSION_JWT_SECRET)
    .update(`${HS_HEADER}.${payload}`)
    .digest("base64url");
  return `${HS_HEADER}.${payload}.${signature}`;
}

/** A compact ES256 JWT from the bench's identity provider (BENCH_IDP) for `uid`, expiring at `exp` (Unix s). */
export function esJwt(privateKey: CryptoKey, uid: string, exp: number): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: "bench" })
    .setSubject(uid)
    .setIssuer(BENCH_IDP.issuer)
    .setAudience(BENCH_IDP.audience)
    .setIssuedAt()
    .setExpirationTime(exp)
    .sign(privateKey);
}

/** An active account record for `uid`, as the account objects write it (its accid and RTC uid derived with ACCID_SECRET). */
export async function benchRecord(
  accidKey: CryptoKey,
  uid: string,
  now = Date.now(),
): Promise<{ accid: string; rtcUid: number; record: string }> {
  const accid = await deriveAccid(accidKey, uid, 0);
  const rtcUid = await deriveRtcUid(accidKey, uid, 0);
  const record = { v: 1, accid, status: "active", createdAt: now, updatedAt: now, generation: 0, rtcUid };
  return { accid, rtcUid, record: JSON.stringify(record) };
}

/** The running services, the users' session JWTs, and how to stop it all. */
export interface Services {
  emulator: RunningEmulator;
  origins: { baseline: string; hs: string; es: string; hsrl: string; apps: string; minimal: string };
  hsJwts: string[];
  esJwts: string[];
  /** When the session JWTs expire (Unix s). */
  exp: number;
  /** The workerd process serving the Workers (its CPU time is read from /proc). */
  workerdPid: number;
  /** Log lines the Workers wrote so far (counted, not echoed). */
  workerLogLines(): number;
  close(): Promise<void>;
}

/**
 * The workerd process that listens on `origin`'s port: a child of this process (Miniflare spawns
 * one per instance; the emulator's is another), found through /proc.
 */
export function workerdChildOf(parent: number, origin: string): number {
  const port = Number(new URL(origin).port);
  const inode = (file: string) =>
    readFileSync(file, "utf8")
      .split("\n")
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .find((cols) => cols[1] && Number.parseInt(cols[1].split(":")[1]!, 16) === port && cols[3] === "0A")?.[9];
  const listening = inode("/proc/net/tcp");
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (Number(stat.split(") ")[1]!.split(" ")[1]) !== parent) continue;
      const sockets = readdirSync(`/proc/${pid}/fd`).map((fd) => {
        try {
          return readlinkSync(`/proc/${pid}/fd/${fd}`);
        } catch {
          return "";
        }
      });
      if (sockets.includes(`socket:[${listening}]`)) return Number(pid);
    } catch {
      // A process that ended meanwhile.
    }
  }
  throw new Error(`no workerd child of ${parent} listens on port ${port}`);
}

/**
 * Gives workerd the first core and this process (the load generator, the emulator, the JWKS) the
 * others, when there are at least two and `taskset` is here (BENCH_PIN=0 turns it off). Sharing
 * both cores, the load generator's bursts of work land on workerd's core at random moments: the
 * same commit measured 0.67x, 0.98x and 0.75x the minimal issuer in three rounds of one run. With
 * a core each, the two Workers compared in a round see the same machine.
 */
export function pinCores(workerdPid: number): void {
  const cores = availableParallelism();
  if (process.env.BENCH_PIN === "0" || cores < 2) return;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", "0", String(workerdPid)], { stdio: "ignore" });
    execFileSync("taskset", ["-a", "-p", "-c", `1-${cores - 1}`, String(process.pid)], { stdio: "ignore" });
    log(`pinned workerd to core 0, the load generator to ${cores === 2 ? "core 1" : `cores 1-${cores - 1}`}`);
  } catch {
    log("taskset is not available: workerd and the load generator share the cores");
  }
}

/** Lets this process run on every core again (the bursts measure behaviour, not a ratio). */
export function unpinCores(): void {
  const cores = availableParallelism();
  if (process.env.BENCH_PIN === "0" || cores < 2) return;
  try {
    execFileSync("taskset", ["-a", "-p", "-c", `0-${cores - 1}`, String(process.pid)], { stdio: "ignore" });
  } catch {
    // Never pinned.
  }
}

/** Starts the services around the bundle at `bundlePath`; `inspectorPort` opens workerd's inspector (profiles). */
export async function startServices(
  bundlePath: string,
  minimalPath: string,
  { inspectorPort }: { inspectorPort?: number } = {},
): Promise<Services> {
  let workerLogLines = 0;
  const emulator = await startEmulator({ appKey: SECRETS.NIM_APP_KEY, appSecret: SECRETS.NIM_APP_SECRET });
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256", use: "sig" }] });
  const idp = createServer((_req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end(jwks));
  await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`;

  const direct = [{ host: "127.0.0.1", port: 0 }];
  const tokenWorker = (name: string, extra: Record<string, string>, rateLimited = false) => ({
    name,
    // The script and its Text modules (the OpenAPI document), as wrangler uploads them.
    modules: bundleModules(bundlePath),
    compatibilityDate: "2026-11-01",
    compatibilityFlags: ["nodejs_compat"],
    unsafeDirectSockets: direct,
    kvNamespaces: { ACCOUNTS: "bench-accounts" },
    // First use of a uid goes through its account object, as in production (each worker its own).
    durableObjects: {
      ACCOUNT_OBJECTS: { className: "AccountObject", useSQLite: true },
      NIM_CREATE_PACER: { className: "CreatePacer", useSQLite: true },
    },
    // Miniflare simulates the Rate Limiting binding as a call to another local service, which costs
    // about a millisecond per request here; in production the counters live on the Worker's own
    // machine. So the target scenarios run without the binding, and one extra scenario measures the
    // simulated binding on its own (limit raised so the benchmark's traffic is not refused).
    ...(rateLimited
      ? {
          ratelimits: {
            TOKEN_RATE_LIMITER: {
              namespace_id: `${name}-tokens`,
              simple: { limit: 1_000_000_000, period: 60 as const },
            },
            AUTH_FAILURE_RATE_LIMITER: {
              namespace_id: `${name}-auth`,
              simple: { limit: 1_000_000_000, period: 60 as const },
            },
          },
        }
      : {}),
    bindings: {
      ...SECRETS,
      NIM_API_BASE: `${emulator.url}/nimserver`,
      // Its NetEase is the emulator on loopback, which a Worker accepts only in local development.
      LOCAL_DEVELOPMENT: "true",
      TOKEN_TTL_DEFAULT: "600",
      TOKEN_TTL_MIN: "60",
      TOKEN_TTL_MAX: "3600",
      RTC_CHANNEL_POLICY: BENCH_CHANNEL_POLICY,
      ...extra,
    },
  });
  const mf = new Miniflare({
    ...convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      workers: [
        {
          name: "baseline",
          modules: true,
          script: `export default { fetch() { return new Response('{"ok":true}', { headers: { "Content-Type": "application/json" } }); } };`,
          compatibilityDate: "2026-11-01",
          unsafeDirectSockets: direct,
        },
        tokenWorker("token-hs", {}),
        tokenWorker("token-es", {
          SESSION_JWT_SECRET: "",
          SESSION_JWKS_URL: jwksUrl,
          SESSION_JWT_ISSUER: BENCH_IDP.issuer,
          SESSION_JWT_AUDIENCE: BENCH_IDP.audience,
        }),
        tokenWorker("token-hs-rl", {}, true),
        // Several apps (NIM_APPS): the home app as the one-app Worker's, and `sg`, whose path the
        // scenario asks for by name. Its one-app settings are left empty, as NIM_APPS requires.
        tokenWorker("token-apps", {
          NIM_APP_KEY: "",
          NIM_API_BASE: "",
          TOKEN_TTL_DEFAULT: "",
          TOKEN_TTL_MIN: "",
          TOKEN_TTL_MAX: "",
          RTC_CHANNEL_POLICY: "",
          NIM_APP_SECRET_SG: BENCH_SG.secret,
          NIM_APPS: JSON.stringify([
            {
              name: "cn",
              appKey: SECRETS.NIM_APP_KEY,
              apiBase: `${emulator.url}/nimserver`,
              secret: "NIM_APP_SECRET",
              rtcPermSecret: "NERTC_PERM_SECRET",
              rtcChannelPolicy: JSON.parse(BENCH_CHANNEL_POLICY),
            },
            {
              name: BENCH_SG.name,
              appKey: BENCH_SG.appKey,
              apiBase: `${emulator.url}/nimserver`,
              secret: "NIM_APP_SECRET_SG",
              tokenTtl: { default: 600, min: 60, max: 3600 },
            },
          ]),
        }),
        {
          // The practical limit: a hand-written minimal issuer (bench/minimal/), same KV, secrets and keys.
          name: "minimal",
          modules: true,
          scriptPath: minimalPath,
          compatibilityDate: "2026-11-01",
          compatibilityFlags: ["nodejs_compat"],
          unsafeDirectSockets: direct,
          kvNamespaces: { ACCOUNTS: "bench-accounts" },
          bindings: {
            ...SECRETS,
            SESSION_JWKS_URL: jwksUrl,
            SESSION_JWT_ISSUER: BENCH_IDP.issuer,
            SESSION_JWT_AUDIENCE: BENCH_IDP.audience,
          },
        },
      ],
    }),
    logRequests: false,
    ...(inspectorPort ? { inspectorPort } : {}),
    // What the Workers log is counted and dropped instead of being echoed to this terminal. A token
    // endpoint's success writes no access-log line (as in production), so the count stays 0 in the
    // warm rounds unless something fails.
    handleStructuredLogs: () => {
      workerLogLines++;
    },
  });
  await mf.ready;
  const directUrl = async (worker: string) => (await mf.unsafeGetDirectURL(worker)).origin;
  const origins = {
    baseline: await directUrl("baseline"),
    hs: await directUrl("token-hs"),
    es: await directUrl("token-es"),
    hsrl: await directUrl("token-hs-rl"),
    apps: await directUrl("token-apps"),
    minimal: await directUrl("minimal"),
  };

  log(`mapping ${USERS} users in KV and signing their session JWTs`);
  const kv = await mf.getKVNamespace("ACCOUNTS", "token-hs");
  const accidKey = await importDerivationKey(SECRETS.ACCID_SECRET);
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const hsJwts: string[] = [];
  const esJwts: string[] = [];
  const now = Date.now();
  for (let i = 0; i < USERS; i++) {
    const uid = `bench-user-${i}`;
    const { accid, rtcUid, record } = await benchRecord(accidKey, uid, now);
    await kv.put(`accid:${accid}`, uid);
    await kv.put(`rtcuid:${rtcUid}`, uid);
    await kv.put(`uid:${uid}`, record);
    // The same user in the NIM_APPS Worker's app `sg`, under that app's own keys.
    await kv.put(`${BENCH_SG.name}/uid:${uid}`, record);
    await kv.put(`${BENCH_SG.name}/accid:${accid}`, uid);
    hsJwts.push(hsJwt(uid, exp));
    esJwts.push(await esJwt(privateKey, uid, exp));
  }

  const workerdPid = workerdChildOf(process.pid, origins.hs);
  pinCores(workerdPid);
  return {
    emulator,
    origins,
    hsJwts,
    esJwts,
    exp,
    workerdPid,
    workerLogLines: () => workerLogLines,
    async close() {
      await mf.dispose();
      await emulator.dispose();
      await new Promise((resolve) => (idp as Server).close(resolve));
    },
  };
}
