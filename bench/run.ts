/**
 * `npm run bench`: throughput and latency of the production bundle against an empty Worker, side by
 * side in one local workerd, plus bundle size and startup time.
 *
 * - Builds the bundle exactly as `wrangler deploy` would (`--dry-run --outdir`), and a reference
 *   bundle (an empty Hono app, bench/reference/) the same way; startup is judged as a ratio to it.
 * - Serves the bundle (twice: HS256 sessions, and ES256 sessions through a JWKS) and an empty
 *   baseline Worker in one Miniflare (not `wrangler dev`, whose per-request logging would dominate),
 *   each on its own direct socket (`unsafeDirectSockets`), with local KV and the CommsEase emulator.
 *   Direct sockets matter: Miniflare's entry worker costs more per request than the Worker itself,
 *   so measuring through it compresses every ratio towards 1.
 * - Traffic looks like production: requests cycle through USERS distinct users, each with their own
 *   session JWT, all already mapped in KV (one reused JWT would only measure a cache). The first-time
 *   scenario uses a new uid on every request and counts NetEase calls in the emulator.
 * - Scenarios alternate within each round; ratios compare with the same round's baseline.
 * Every load loop is bounded by duration and only loopback addresses are used.
 */

import autocannon from "autocannon";
import { measureLatency } from "./latency.ts";
import { report } from "./report.ts";
import { hsJwt, startServices } from "./services.ts";
import {
  CONNECTIONS,
  LATENCY_RATE,
  LATENCY_ROUNDS,
  LATENCY_SECONDS,
  log,
  median,
  ROOT,
  ROUNDS,
  RTC_BODY,
  type Sample,
  type Scenario,
  SECONDS,
  USERS,
} from "./settings.ts";
import { buildBundle, measureStartup } from "./startup.ts";

async function main(): Promise<void> {
  log("building the production bundle");
  const bundle = buildBundle();
  log(`bundle ${bundle.raw} B, ${bundle.gzip} B gzip; measuring startup`);
  const reference = buildBundle(`${ROOT}bench/reference/wrangler.toml`);
  const startup = measureStartup(bundle.path, true, reference.path);

  const services = await startServices(bundle.path);
  const { origins } = services;

  let firstTimeCounter = 0;
  const jwtFor: Record<Scenario, () => string | undefined> = {
    baseline: () => undefined,
    "warm-hs256": (() => {
      let i = 0;
      return () => services.hsJwts[i++ % USERS];
    })(),
    "warm-rtc-hs256": (() => {
      let i = 0;
      return () => services.hsJwts[(i++ + USERS / 2) % USERS];
    })(),
    "warm-es256-jwks": (() => {
      let i = 0;
      return () => services.esJwts[i++ % USERS];
    })(),
    "first-time": () => hsJwt(`bench-new-${firstTimeCounter++}`, services.exp),
    "warm-hs256-simulated-ratelimit": (() => {
      let i = 0;
      return () => services.hsJwts[i++ % USERS];
    })(),
  };
  const originFor: Record<Scenario, string> = {
    baseline: origins.baseline,
    "warm-hs256": origins.hs,
    "warm-rtc-hs256": origins.hs,
    "warm-es256-jwks": origins.es,
    "first-time": origins.hs,
    "warm-hs256-simulated-ratelimit": origins.hsrl,
  };

  // The NERTC scenario must measure what production advice costs: a permission key under the policy.
  const rtcProbe = await fetch(`${origins.hs}/v1/rtc/token`, {
    method: "POST",
    headers: { authorization: `Bearer ${services.hsJwts[0]}`, "content-type": "application/json" },
    body: RTC_BODY,
  });
  const rtcAnswer = (await rtcProbe.json()) as { permKey?: string; privilege?: number };
  if (rtcProbe.status !== 200 || !rtcAnswer.permKey || rtcAnswer.privilege !== 44) {
    throw new Error(`the NERTC scenario's answer carries no policy-bound permission key (HTTP ${rtcProbe.status})`);
  }

  async function load(scenario: Scenario, seconds: number): Promise<autocannon.Result> {
    const next = jwtFor[scenario];
    return autocannon({
      url: originFor[scenario],
      connections: CONNECTIONS,
      duration: seconds,
      requests: [
        {
          method: scenario === "baseline" ? "GET" : "POST",
          path: scenario === "baseline" ? "/" : scenario === "warm-rtc-hs256" ? "/v1/rtc/token" : "/v1/token",
          ...(scenario === "warm-rtc-hs256" ? { body: RTC_BODY } : {}),
          setupRequest: (request) => {
            const jwt = next();
            request.headers = {
              ...request.headers,
              ...(jwt ? { authorization: `Bearer ${jwt}` } : {}),
              ...(scenario === "warm-rtc-hs256" ? { "content-type": "application/json" } : {}),
            };
            return request;
          },
        },
      ],
    });
  }

  const scenarios: Scenario[] = [
    "baseline",
    "warm-hs256",
    "warm-rtc-hs256",
    "warm-es256-jwks",
    "first-time",
    "warm-hs256-simulated-ratelimit",
  ];
  // Latency first, on the warm path proper: the judged pair is warmed (every user's record cached)
  // and measured before any cached record is due for its refresh (30 s after it was cached), so the
  // rounds measure the Worker, not Miniflare's local KV simulator answering a thousand refreshes that
  // come due together (an artefact of caching every user in the same second; the throughput rounds,
  // which run for minutes, include the refreshes). The whole phase takes about 26 s.
  log("warming up the latency pair");
  await load("baseline", 1);
  await load("warm-hs256", 1);
  await load("warm-es256-jwks", 1);
  log(`latency at ${LATENCY_RATE} req/s for each Worker`);
  const latency: Record<"baseline" | "warm-hs256" | "warm-es256-jwks", { p50: number; p99: number }[]> = {
    baseline: [],
    "warm-hs256": [],
    "warm-es256-jwks": [],
  };
  // Baseline and HS256 alternate (the judged pair); ES256 follows on its own, for information (its
  // users were cached during its warm-up, so its later rounds may meet their refreshes).
  const schedule: (keyof typeof latency)[][] = [
    ...Array.from({ length: LATENCY_ROUNDS + 1 }, () => ["baseline", "warm-hs256"] as (keyof typeof latency)[]),
    ...Array.from({ length: LATENCY_ROUNDS + 1 }, () => ["warm-es256-jwks"] as (keyof typeof latency)[]),
  ];
  for (const [index, scenarios] of schedule.entries()) {
    const round = index % (LATENCY_ROUNDS + 1);
    for (const scenario of scenarios) {
      const next = jwtFor[scenario];
      const r = await measureLatency(
        originFor[scenario],
        scenario === "baseline" ? "GET" : "POST",
        scenario === "baseline" ? "/" : "/v1/token",
        (): Record<string, string> => {
          const jwt = next();
          return jwt ? { authorization: `Bearer ${jwt}` } : {};
        },
        LATENCY_RATE,
        round === 0 ? 1 : LATENCY_SECONDS,
      );
      if (r.failures > 0) throw new Error(`${scenario}: ${r.failures} failed requests in the latency run`);
      if (round === 0) continue; // round 0 warms the measuring client's connections and code
      latency[scenario].push(r);
      log(
        `round ${round} latency ${scenario}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (${r.count} requests)`,
      );
    }
  }
  const latencySummary = Object.fromEntries(
    Object.entries(latency).map(([scenario, runs]) => [
      scenario,
      { p50: median(runs.map((r) => r.p50)), p99: median(runs.map((r) => r.p99)) },
    ]),
  ) as Record<keyof typeof latency, { p50: number; p99: number }>;
  const p99AddedMs = median(latency["warm-hs256"].map((r, i) => r.p99 - latency.baseline[i]!.p99));

  log("warming up");
  for (const scenario of scenarios.filter((s) => s !== "first-time")) await load(scenario, 1);

  const samples: Sample[] = [];
  const statsBefore = (await (await fetch(`${services.emulator.url}/emulator/stats`)).json()) as {
    accounts: number;
    calls: Record<string, number>;
  };
  const firstTimeBefore = firstTimeCounter;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const scenario of scenarios) {
      const r = await load(scenario, SECONDS);
      samples.push({
        scenario,
        round,
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        requests: r.requests.total,
      });
      log(
        `round ${round} ${scenario}: ${r.requests.average.toFixed(0)} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, non-2xx ${r.non2xx}`,
      );
    }
  }

  const statsAfter = (await (await fetch(`${services.emulator.url}/emulator/stats`)).json()) as {
    accounts: number;
    calls: Record<string, number>;
    maxCallsPerAccid: Record<string, number>;
  };
  const newUidsSent = firstTimeCounter - firstTimeBefore;
  const createCalls = (statsAfter.calls.create ?? 0) - (statsBefore.calls.create ?? 0);
  const accountsCreated = statsAfter.accounts - statsBefore.accounts;
  const firstTime2xx = samples
    .filter((s) => s.scenario === "first-time")
    .reduce((n, s) => n + s.requests - s.non2xx, 0);

  await services.close();

  const ok = report({
    scenarios,
    samples,
    latency,
    latencySummary,
    p99AddedMs,
    bundle,
    startup,
    firstTime: {
      createCalls,
      accountsCreated,
      tokens: firstTime2xx,
      newUidsSent,
      maxPerAccid: statsAfter.maxCallsPerAccid.create ?? 0,
    },
    workerLogLines: services.workerLogLines(),
  });
  if (!ok) process.exitCode = 1;
}

await main();
