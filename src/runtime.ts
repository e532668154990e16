/**
 * The per-isolate runtime: the composition root.
 *
 * Everything a request needs that outlives the request is built once per isolate from the validated
 * Config: imported keys, the JWKS cache, and per NetEase app (`AppRuntime`, reached through
 * `runtime.app()`) its account cache, NetEase client and schemas. (The
 * account objects build their own, smaller set: src/accounts/object/object.ts.) Building
 * these per request would redo key imports and lose the caches, which is most of the warm path's cost.
 *
 * The Env object is the key: workerd hands every request of an isolate the same Env, so a WeakMap
 * finds the runtime with no work. Routes read `c.get("runtime")` only; no route reads `c.env`, and
 * `config.ts` is the only module that knows binding names.
 */

import { AccountCache } from "./accounts/cache.ts";
import { CreatePacing } from "./accounts/create-pacer.ts";
import { AccountLookup } from "./accounts/lookup.ts";
import { AccountObjectClient } from "./accounts/object/client.ts";
import { AccountStore } from "./accounts/store.ts";
import { AccessVerifier } from "./admin/access.ts";
import { type AppConfig, type Config, ConfigError, parseConfig } from "./config.ts";
import { rtcTokenRequestSchema, tokenRequestSchema } from "./contract/requests.ts";
import { DEFAULT_APP } from "./core/constants.ts";
import { DomainError } from "./core/errors.ts";
import { Metrics } from "./core/metrics.ts";
import type { Env } from "./env.ts";
import { nimServerApi } from "./nim/connect.ts";
import type { NimServerApi } from "./nim/server-api.ts";
import { SessionVerifier } from "./session/verify.ts";

/** One NetEase app's part of the runtime: its settings and its account path. Frozen: requests share it. */
export interface AppRuntime {
  readonly config: AppConfig;
  readonly nim: NimServerApi;
  /** The app's KV records (reads; writes are the account objects'). */
  readonly store: AccountStore;
  /** The app's account objects, through which every change to a record goes. */
  readonly accountObjects: AccountObjectClient;
  /** uid → account for the token path: the isolate's cache, KV, and the account's object on first use. */
  readonly lookup: AccountLookup;
  /** The POST /v1/token body schema for the app's ttl range. */
  readonly tokenRequestSchema: ReturnType<typeof tokenRequestSchema>;
  /** The POST /v1/rtc/token body schema for the app's RTC ttl range. */
  readonly rtcTokenRequestSchema: ReturnType<typeof rtcTokenRequestSchema>;
}

/** Everything a request needs that outlives the request. Frozen: requests share it. */
export interface Runtime {
  readonly config: Config;
  readonly verifier: SessionVerifier;
  /** Metrics to Analytics Engine (writes nothing without the METRICS binding). */
  readonly metrics: Metrics;
  /** Checks Cloudflare Access assertions of operators; undefined without ACCESS_TEAM_DOMAIN. */
  readonly access: AccessVerifier | undefined;
  /**
   * The one way to a NetEase app's settings and account path: `name`'s, or the default app's when
   * none is named. Throws `misconfigured` for a name this deployment does not serve.
   */
  app(name?: string): AppRuntime;
}

const runtimes = new WeakMap<object, Runtime | ConfigError>();

/** The runtime for `env`, built on first use, or the ConfigError saying why it cannot be built. */
export function runtimeFor(env: Env): Runtime | ConfigError {
  let runtime = runtimes.get(env);
  if (!runtime) {
    try {
      runtime = buildRuntime(parseConfig(env));
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      runtime = error;
    }
    runtimes.set(env, runtime);
  }
  return runtime;
}

function buildRuntime(config: Config): Runtime {
  const metrics = new Metrics(config.metrics);
  const apps = new Map([...config.apps].map(([name, app]) => [name, buildAppRuntime(config, app, metrics)]));
  const first = apps.get(DEFAULT_APP)!;
  return Object.freeze({
    config,
    verifier: new SessionVerifier(config.session),
    metrics,
    access: config.access && new AccessVerifier(config.access),
    app(name?: string): AppRuntime {
      if (name === undefined) return first;
      const found = apps.get(name);
      if (!found) throw new DomainError("misconfigured", { detail: "no NetEase app by that name" });
      return found;
    },
  });
}

function buildAppRuntime(config: Config, app: AppConfig, metrics: Metrics): AppRuntime {
  const nim = nimServerApi(app, metrics);
  const store = new AccountStore(config.accounts, app.name);
  const cache = new AccountCache();
  const accountObjects = new AccountObjectClient(config.accountObjects, cache, app.name);
  const pacers = config.createPacers;
  const pacing = pacers && app.createRate > 0 ? new CreatePacing(pacers, app.appKey, app.createRate) : undefined;
  return Object.freeze({
    config: app,
    nim,
    store,
    accountObjects,
    lookup: new AccountLookup(accountObjects, store, cache, metrics, pacing),
    tokenRequestSchema: tokenRequestSchema(app.ttl),
    rtcTokenRequestSchema: rtcTokenRequestSchema(app.rtcTtl),
  });
}
