/**
 * The first token request on a new isolate, end to end, for this Worker and the minimal issuer:
 * HS256 sessions, and ES256 sessions whose keys come from a JWKS.
 *
 * workerd compiles and evaluates a Worker's start modules when it loads the Worker, before it
 * serves; the first request then pays for the rest: the configuration parse, the key import, the
 * first KV read (and for JWKS, the key fetch and the modules that fetch it). So a cold request is
 * measured in two parts, each the median of several fresh starts: V8's compile and evaluation of
 * the start modules (bench/startup-probe.mjs, the same figure as the startup check), and the first
 * request's latency on a freshly started workerd that has answered nothing yet. The second request on
 * the same isolate is the warm figure beside it.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { importDerivationKey } from "../src/accounts/object/derive.ts";
import { benchRecord, esJwt, hsJwt } from "./services.ts";
import { BENCH_IDP, log, median, ROOT, run, SECRETS } from "./settings.ts";
import { bundleModules, type LazyLoad, lazyLoads } from "./startup.ts";

/** One path's figures, ms (medians over SAMPLES fresh starts). */
export interface ColdFigures {
  /** V8 compile + evaluate of the start modules. */
  startMs: number;
  /** The first request on the fresh isolate. */
  firstRequestMs: number;
  /** startMs + firstRequestMs. */
  coldMs: number;
  /** The second request on the same isolate. */
  warmMs: number;
}

export interface ColdResult {
  worker: { hs: ColdFigures; es: ColdFigures };
  minimal: { hs: ColdFigures; es: ColdFigures };
  /**
   * The floor: an empty Hono app (bench/reference/) answering the same POST (its 404), fresh
   * starts alternating with the others' in the HS256 pass. Its first request is what any Worker's
   * first request costs here, through Miniflare's entry and workerd's first dispatch (its start is
   * Hono's: no floor for the minimal issuer's).
   */
  floor: ColdFigures;
  /**
   * The judged ratio, per path: the median over samples of (Worker's start + its first request) /
   * (minimal issuer's start + its first request, started just before or after). Only the first
   * requests are paired: each start is the median of its 21 probe runs.
   */
  ratio: { hs: number; es: number };
  samples: number;
}

const SAMPLES = Number(process.env.BENCH_COLD_SAMPLES ?? 15);

/** V8 compile + evaluate of a built Worker's start modules, one fresh Node process. */
function startMs(bundlePath: string): number {
  const { compileMs, evaluateMs } = JSON.parse(
    run(process.execPath, ["--experimental-vm-modules", "--no-warnings", `${ROOT}bench/startup-probe.mjs`, bundlePath]),
  ) as { compileMs: number; evaluateMs: number };
  return compileMs + evaluateMs;
}

/**
 * One Worker as the cold measures start it, named `which`: this Worker (with its objects' bindings)
 * or another (the minimal issuer, the floor), the bench's secrets, `more` bindings over them.
 */
export function coldWorker(which: string, path: string, more: Record<string, string> = {}) {
  return {
    name: which,
    modules: bundleModules(path),
    modulesRoot: dirname(path),
    compatibilityDate: "2026-11-01",
    compatibilityFlags: ["nodejs_compat"],
    kvNamespaces: ["ACCOUNTS"],
    ...(which === "worker"
      ? {
          durableObjects: {
            ACCOUNT_OBJECTS: { className: "AccountObject", useSQLite: true },
            NIM_CREATE_PACER: { className: "CreatePacer", useSQLite: true },
          },
        }
      : {}),
    bindings: {
      ...SECRETS,
      // Never called: the user's account exists. Loopback, which a Worker accepts only locally.
      NIM_API_BASE: "http://127.0.0.1:9/nimserver",
      LOCAL_DEVELOPMENT: "true",
      ...more,
    },
  };
}

/** Measures both Workers' cold and warm token requests (run alone on the machine). */
export async function measureCold(bundlePath: string, minimalPath: string, floorPath: string): Promise<ColdResult> {
  const { publicKey, privateKey } = await generateKeyPair("ES256");
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "bench", alg: "ES256", use: "sig" }] });
  const idp = createServer((_req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end(jwks));
  await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
  const jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`;
  const uid = "bench-cold-user";
  const exp = Math.floor(Date.now() / 1000) + 3600;
  const jwts = {
    hs: hsJwt(uid, exp),
    es: await esJwt(privateKey, uid, exp),
  };
  const { record } = await benchRecord(await importDerivationKey(SECRETS.ACCID_SECRET), uid);

  /** One fresh workerd with one Worker: its first and second token request, ms. */
  async function once(
    which: "worker" | "minimal" | "floor",
    kind: "hs" | "es",
  ): Promise<{ first: number; second: number }> {
    const path = { worker: bundlePath, minimal: minimalPath, floor: floorPath }[which];
    const sessionBindings: Record<string, string> =
      kind === "hs"
        ? {}
        : {
            SESSION_JWT_SECRET: "",
            SESSION_JWKS_URL: jwksUrl,
            SESSION_JWT_ISSUER: BENCH_IDP.issuer,
            SESSION_JWT_AUDIENCE: BENCH_IDP.audience,
          };
    const worker = coldWorker(which, path, sessionBindings);
    const mf = new Miniflare({ ...convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, workers: [worker] }) });
    try {
      const url = await mf.ready;
      // Seeded through Miniflare's own KV service: the Worker's isolate has answered nothing yet.
      const kv = await mf.getKVNamespace("ACCOUNTS", which);
      await kv.put(`uid:${uid}`, record);
      const ask = async () => {
        const started = performance.now();
        const answer = await fetch(new URL("/v1/token", url), {
          method: "POST",
          headers: { authorization: `Bearer ${jwts[kind]}` },
        });
        await answer.arrayBuffer();
        // The floor has no token route: its 404 is its answer.
        if (answer.status !== (which === "floor" ? 404 : 200))
          throw new Error(`${which} ${kind}: HTTP ${answer.status}`);
        return performance.now() - started;
      };
      const first = await ask();
      return { first, second: await ask() };
    } finally {
      await mf.dispose();
    }
  }

  /** Both Workers' figures for one path, their fresh starts alternating (both see the same machine). */
  type Which = "worker" | "minimal" | "floor";
  const pair = async (kind: "hs" | "es", starts: Record<Which, number[]>, withFloor = false) => {
    const firsts: Record<Which, number[]> = { worker: [], minimal: [], floor: [] };
    const seconds: Record<Which, number[]> = { worker: [], minimal: [], floor: [] };
    const which3: readonly Which[] = withFloor ? ["worker", "minimal", "floor"] : ["worker", "minimal"];
    for (let i = 0; i < SAMPLES; i++) {
      // Which goes first alternates, so neither always meets the machine just after the other's start.
      for (const which of i % 2 === 0 ? which3 : [...which3].reverse()) {
        const { first, second } = await once(which, kind);
        firsts[which].push(first);
        seconds[which].push(second);
      }
    }
    const figures = (which: Which): ColdFigures => {
      const start = median(starts[which]);
      const firstRequestMs = median(firsts[which]);
      return { startMs: start, firstRequestMs, coldMs: start + firstRequestMs, warmMs: median(seconds[which]) };
    };
    // Each sample's Worker and minimal issuer started back to back: their ratio cancels the
    // machine's slower and faster moments, which move one first request by several ms.
    const startOf = { worker: median(starts.worker), minimal: median(starts.minimal) };
    const ratio = median(
      firsts.worker.map((first, i) => (startOf.worker + first) / (startOf.minimal + firsts.minimal[i]!)),
    );
    return {
      worker: figures("worker"),
      minimal: figures("minimal"),
      floor: withFloor ? figures("floor") : undefined,
      ratio,
    };
  };

  try {
    log(`cold token requests: ${SAMPLES} fresh starts per Worker and path`);
    const starts: Record<Which, number[]> = { worker: [], minimal: [], floor: [] };
    for (let i = 0; i < 21; i++) {
      starts.worker.push(startMs(bundlePath));
      starts.minimal.push(startMs(minimalPath));
      starts.floor.push(startMs(floorPath));
    }
    const hs = await pair("hs", starts, true);
    const es = await pair("es", starts);
    return {
      worker: { hs: hs.worker, es: es.worker },
      minimal: { hs: hs.minimal, es: es.minimal },
      floor: hs.floor!,
      ratio: { hs: hs.ratio, es: es.ratio },
      samples: SAMPLES,
    };
  } finally {
    idp.close();
  }
}

/**
 * What a token request and `/healthz` each load lazily on a fresh isolate (`lazyLoads`): an existing
 * user's HS256 IM token, with no body or an empty one, must load nothing; an NERTC token loads
 * NERTC's module (its signing, the channel policy, its body's check), not the Hono app; `/healthz`
 * loads the Hono app.
 */
export async function lazyProof(bundlePath: string): Promise<LazyLoad[]> {
  const uid = "bench-lazy-user";
  const { record } = await benchRecord(await importDerivationKey(SECRETS.ACCID_SECRET), uid);
  const authorization = `Bearer ${hsJwt(uid, Math.floor(Date.now() / 1000) + 3600)}`;
  return lazyLoads(
    bundlePath,
    {
      ...SECRETS,
      NIM_API_BASE: "http://127.0.0.1:9/nimserver",
      LOCAL_DEVELOPMENT: "true",
      // Without the pacer's binding: a token for an existing user never asks for a creation turn.
      NIM_CREATE_RATE: "0",
      ACCOUNTS: { [`uid:${uid}`]: record },
    },
    [
      { method: "POST", path: "/v1/token", headers: { authorization } },
      // An empty body (a stream of no bytes, not none) is no body to check either.
      { method: "POST", path: "/v1/token", headers: { authorization }, body: "" },
      {
        method: "POST",
        path: "/v1/rtc/token",
        headers: { authorization, "content-type": "application/json" },
        body: JSON.stringify({ channelName: "bench room 1" }),
      },
      { method: "GET", path: "/healthz" },
    ],
  );
}
