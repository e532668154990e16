/**
 * GET /readyz: whether the service can actually issue tokens, not only whether it is configured.
 * A wrong NIM_APP_SECRET otherwise goes unnoticed (known users keep getting tokens that NetEase will
 * refuse, and /healthz stays 200), so this makes a real signed NetEase call.
 *
 * Checks, each named in the answer with its outcome and latency: configuration; KV (one read);
 * the JWKS, when configured (one fetch); NetEase (a `getUinfos` signed with our app key and secret:
 * `credentials_rejected` for a wrong secret, distinct from `unreachable`). 200 when all pass, else
 * 503 naming the failed ones; never a secret, a token or NetEase's raw answer. The NetEase result is
 * reused for 30 s per isolate, so polling cannot exhaust NetEase's rate. /healthz stays the cheap,
 * I/O-free liveness check.
 */

import { Hono } from "hono";
import { NIM, TIMING } from "../constants.ts";
import type { AppEnv, Runtime } from "../runtime.ts";

/** Routes under /readyz. */
export const readyRoutes = new Hono<AppEnv>();

interface Check {
  ok: boolean;
  outcome: string;
  latencyMs: number;
}

const probes = new WeakMap<Runtime, { at: number; check: Check }>();

async function timed(run: () => Promise<string>): Promise<Check> {
  const started = Date.now();
  let outcome: string;
  try {
    outcome = await Promise.race([
      run(),
      new Promise<string>((resolve) => setTimeout(() => resolve("timeout"), TIMING.readyCheckTimeoutMs)),
    ]);
  } catch {
    outcome = "failed";
  }
  return { ok: outcome === "ok", outcome, latencyMs: Date.now() - started };
}

async function neteaseCheck(runtime: Runtime): Promise<Check> {
  const cached = probes.get(runtime);
  if (cached && Date.now() - cached.at < TIMING.readyProbeCacheMs) return { ...cached.check, latencyMs: 0 };
  const check = await timed(() => runtime.nim.probe(NIM.readyProbeAccid));
  probes.set(runtime, { at: Date.now(), check });
  return check;
}

readyRoutes.get("/", async (c) => {
  const headers = { "Cache-Control": "no-store" };
  const problem = c.var.configError;
  if (problem) {
    const config = { ok: false, outcome: `invalid: ${problem.problems.map((p) => p.name).join(", ")}`, latencyMs: 0 };
    return c.json({ status: "not_ready", failed: ["config"], checks: { config } }, 503, headers);
  }
  const runtime = c.var.runtime;
  const jwksUrl = runtime.config.session.jwksUrl;
  const [kv, netease, jwks] = await Promise.all([
    timed(async () => {
      await runtime.store.get(NIM.readyProbeAccid);
      return "ok";
    }),
    neteaseCheck(runtime),
    jwksUrl
      ? timed(async () => {
          const response = await fetch(jwksUrl, { signal: AbortSignal.timeout(TIMING.jwksFetchTimeoutMs) });
          const body = (await response.json().catch(() => null)) as { keys?: unknown } | null;
          return response.ok && Array.isArray(body?.keys) ? "ok" : `HTTP ${response.status}`;
        })
      : undefined,
  ]);
  const checks: Record<string, Check> = { config: { ok: true, outcome: "ok", latencyMs: 0 }, kv, netease };
  if (jwks) checks.jwks = jwks;
  const failed = Object.entries(checks)
    .filter(([, check]) => !check.ok)
    .map(([name]) => name);
  return c.json(
    { status: failed.length === 0 ? "ready" : "not_ready", failed, checks },
    failed.length ? 503 : 200,
    headers,
  );
});
