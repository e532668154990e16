/**
 * The per-isolate runtime, and the middleware that puts it on the request context.
 *
 * Everything a request needs that outlives the request is built once per isolate from the validated
 * Config: imported keys, the JWKS cache, the account cache, the NetEase client, the schemas. (The
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
import { type Config, ConfigError, parseConfig } from "./config.ts";
import { rtcTokenRequestSchema, tokenRequestSchema } from "./contract/requests.ts";
import { Metrics } from "./core/metrics.ts";
import type { Env } from "./env.ts";
import { nimServerApi } from "./nim/connect.ts";
import type { NimServerApi } from "./nim/server-api.ts";
import { SessionVerifier } from "./session/verify.ts";

/** Everything a request needs that outlives the request. Frozen: requests share it. */
export interface Runtime {
  readonly config: Config;
  readonly verifier: SessionVerifier;
  readonly nim: NimServerApi;
  /** The KV records (reads; writes are the account objects'). */
  readonly store: AccountStore;
  /** The per-uid account objects, through which every change to a record goes. */
  readonly accountObjects: AccountObjectClient;
  /** uid → account for the token path: the isolate's cache, KV, and the uid's object on first use. */
  readonly lookup: AccountLookup;
  /** Metrics to Analytics Engine (writes nothing without the METRICS binding). */
  readonly metrics: Metrics;
  /** Checks Cloudflare Access assertions of operators; undefined without ACCESS_TEAM_DOMAIN. */
  readonly access: AccessVerifier | undefined;
  /** The POST /v1/token body schema for this config's ttl range. */
  readonly tokenRequestSchema: ReturnType<typeof tokenRequestSchema>;
  /** The POST /v1/rtc/token body schema for this config's RTC ttl range. */
  readonly rtcTokenRequestSchema: ReturnType<typeof rtcTokenRequestSchema>;
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
  const nim = nimServerApi(config, metrics);
  const store = new AccountStore(config.accounts);
  const cache = new AccountCache();
  const accountObjects = new AccountObjectClient(config.accountObjects, cache);
  const { createPacing } = config;
  const pacing = createPacing && new CreatePacing(createPacing.pacers, config.appKey, createPacing.rate);
  return Object.freeze({
    config,
    verifier: new SessionVerifier(config.session),
    nim,
    store,
    accountObjects,
    lookup: new AccountLookup(accountObjects, store, cache, metrics, pacing),
    metrics,
    access: config.access && new AccessVerifier(config.access),
    tokenRequestSchema: tokenRequestSchema(config.ttl),
    rtcTokenRequestSchema: rtcTokenRequestSchema(config.rtcTtl),
  });
}
