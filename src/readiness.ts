/**
 * Whether the service can actually issue tokens, not only whether it is configured. A wrong app
 * secret otherwise goes unnoticed (known users keep getting tokens that NetEase will refuse, and
 * /healthz stays 200), so this makes a real signed NetEase call.
 *
 * Checks: configuration; KV (one read); each session issuer's public keys, as `keys:<issuer name>`
 * (one fetch each), and Cloudflare Access's certs as `keys:access` when operators sign in through
 * Access; NetEase, per app (`netease` for the app named `default`, `netease:<app>` for the others: a
 * `getUinfos` signed with the app's key and secret: `credentials_rejected` for a wrong secret,
 * distinct from `unreachable`, and `secret_unreadable` when a Secrets Store binding cannot be read). Never a secret, a token or NetEase's raw answer. Each
 * probe is single-flight and its result reused for 30 s per isolate, so polling cannot exhaust
 * NetEase's rate or hammer the identity provider; the NetEase probe uses a client of its own, so a
 * 416 it meets does not block real work. Anyone sees the status and the kinds of check that failed
 * (`/readyz`); operators see each check (`GET /admin/v1/ready`).
 */

import type { AppConfig } from "./config.ts";
import { DEFAULT_APP, NIM, TIMING } from "./core/constants.ts";
import { nimServerApi } from "./nim/connect.ts";
import type { Runtime } from "./runtime.ts";
import { accessOf } from "./services.ts";

/** One readiness check's outcome. */
export interface Check {
  ok: boolean;
  outcome: string;
  latencyMs: number;
}

/**
 * One probe, cached for `TIMING.readyProbeCacheMs` and single-flight: however many callers poll
 * /readyz at once, the dependency is asked at most once per period. /readyz is unauthenticated, so
 * without this it would turn every poll (or an attacker's burst) into a NetEase call or a JWKS fetch.
 */
class CachedProbe {
  #last: { at: number; check: Check } | undefined;
  #inflight: Promise<Check> | undefined;

  constructor(readonly run: () => Promise<string>) {}

  check(): Promise<Check> {
    const last = this.#last;
    if (last && Date.now() - last.at < TIMING.readyProbeCacheMs)
      return Promise.resolve({ ...last.check, latencyMs: 0 });
    this.#inflight ??= timed(this.run)
      .then((check) => {
        this.#last = { at: Date.now(), check };
        return check;
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }
}

interface Probes {
  kv: CachedProbe;
  /** One per app, by check name (`netease`, `netease:sg`). */
  netease: ReadonlyMap<string, CachedProbe>;
  /** One per session issuer with public keys, by check name (`keys:firebase`). */
  keys: ReadonlyMap<string, CachedProbe>;
}

const probes = new WeakMap<Runtime, Probes>();

function probesFor(runtime: Runtime): Probes {
  let found = probes.get(runtime);
  if (!found) {
    const { verifier } = runtime;
    const access = accessOf(runtime);
    const { store } = runtime.app();
    found = {
      kv: new CachedProbe(async () => {
        await store.get(NIM.readyProbeAccid);
        return "ok";
      }),
      netease: new Map(runtime.apps.map(({ config }) => [neteaseCheckName(config.name), neteaseProbe(config)])),
      // The verifier's own key sets: a successful check refreshes the keys the token path uses, and
      // their cool-down bounds these fetches like any other.
      keys: new Map([
        ...verifier.keySources.map((source) => [`keys:${source.name}`, new CachedProbe(source.check)] as const),
        // Operators' Cloudflare Access certs: without them no operator can sign in through Access.
        ...(access ? [["keys:access", new CachedProbe(() => access.check())] as const] : []),
      ]),
    };
    probes.set(runtime, found);
  }
  return found;
}

/** The NetEase check's name for an app: `netease` for the default app (as before there were apps). */
function neteaseCheckName(app: string): string {
  return app === DEFAULT_APP ? "netease" : `netease:${app}`;
}

/** A probe of one app's credentials at NetEase: its secret read, then a signed call. */
function neteaseProbe(config: AppConfig): CachedProbe {
  // Its own NetEase client: a 416 answered to a probe must not put the Worker's client (which the
  // admin import uses) into its 10 s "do not call" block, nor a probe's failed base into its cool-down.
  const nim = nimServerApi(config);
  return new CachedProbe(async () => {
    try {
      await config.appSecret.read();
    } catch {
      return "secret_unreadable";
    }
    return nim.probe(NIM.readyProbeAccid);
  });
}

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

/** Every readiness check with its outcome and latency, and which failed. */
export interface Readiness {
  status: "ready" | "not_ready";
  failed: string[];
  checks: Record<string, Check>;
}

/**
 * Runs (or reuses) every readiness check of `runtime`. What an operator sees, at
 * `GET /admin/v1/ready`; `/readyz` tells anyone only the status and the kinds of check that failed.
 */
export async function readinessOf(runtime: Runtime): Promise<Readiness> {
  const probe = probesFor(runtime);
  const named = (probes: ReadonlyMap<string, CachedProbe>) =>
    Promise.all([...probes].map(async ([name, each]) => [name, await each.check()] as const));
  const [kv, netease, keys] = await Promise.all([probe.kv.check(), named(probe.netease), named(probe.keys)]);
  const checks: Record<string, Check> = {
    config: { ok: true, outcome: "ok", latencyMs: 0 },
    kv,
    ...Object.fromEntries(netease),
    ...Object.fromEntries(keys),
  };
  const failed = Object.entries(checks)
    .filter(([, check]) => !check.ok)
    .map(([name]) => name);
  return { status: failed.length === 0 ? "ready" : "not_ready", failed, checks };
}
