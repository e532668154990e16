/**
 * The per-isolate runtime: the composition root.
 *
 * Everything a token request needs that outlives the request is built once per isolate from the
 * validated Config: imported keys, the JWKS cache, and per NetEase app (`AppRuntime`, reached through
 * `runtime.app()`) its account cache. What only the Hono app's routes use (NetEase's
 * server API, chatroom links, the Access verifier) is built beside it by `services.ts`, which only
 * those routes import, so a token request never loads it (src/index.ts says why). (The
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
import { chooseApp, type SessionFacts } from "./apps/routing.ts";
import { type AppConfig, type Config, ConfigError, loadSettingParsers, parseConfig } from "./config.ts";
import { DEFAULT_APP } from "./core/constants.ts";
import { DomainError } from "./core/errors.ts";
import { Metrics } from "./core/metrics.ts";
import type { Env } from "./env.ts";
import { SessionVerifier } from "./session/verify.ts";

/** One NetEase app's part of the runtime: its settings and its account path. Frozen: requests share it. */
export interface AppRuntime {
  readonly config: AppConfig;
  /** Metrics about this app (its name is a dimension). */
  readonly metrics: Metrics;
  /** The app's KV records (reads; writes are the account objects'). */
  readonly store: AccountStore;
  /** The app's account objects, through which every change to a record goes. */
  readonly accountObjects: AccountObjectClient;
  /** uid → account for the token path: the isolate's cache, KV, and the account's object on first use. */
  readonly lookup: AccountLookup;
  /** Its turns at NetEase's creation rate (`accounts/create-pacer.ts`); undefined when unpaced. */
  readonly pacing: CreatePacing | undefined;
  /**
   * The key its per-uid limit counts `uid` under: `uid:<uid>` for the default app (as before there
   * were apps), `app:<app>/uid:<uid>` for another. No default uid makes another app's key: those
   * start `app:`, and an app's name holds no `/`.
   */
  limitKey(uid: string): string;
}

/** Everything a request needs that outlives the request. Frozen: requests share it. */
export interface Runtime {
  readonly config: Config;
  readonly verifier: SessionVerifier;
  /** Metrics about the deployment (the home app's dimension); each app has its own in `AppRuntime`. */
  readonly metrics: Metrics;
  /** Every app, in the order NIM_APPS lists them. */
  readonly apps: readonly AppRuntime[];
  /**
   * A NetEase app's settings and account path: `name`'s, or the home app's when none is named.
   * Throws `misconfigured` for a name this deployment does not serve (a name from the code or an
   * account object; a name a caller sent goes through `namedApp`).
   */
  app(name?: string): AppRuntime;
  /** The app a caller named (in a path): 404 `unknown_app` for a name this deployment does not serve. */
  namedApp(name: string): AppRuntime;
  /** The app whose app key NetEase sent (its login callback), or undefined. */
  appWithKey(appKey: string): AppRuntime | undefined;
  /** The app a verified session uses: the one named, or by the apps' rules (`apps/routing.ts`). */
  appFor(session: SessionFacts, name?: string): AppRuntime;
}

const runtimes = new WeakMap<object, Promise<Runtime | ConfigError>>();

/**
 * The runtime for `env`, built on first use, or the ConfigError saying why it cannot be built. The
 * first call loads the parsers the settings need (config.ts `loadSettingParsers`); the later ones
 * share its promise, so an isolate builds one runtime however many requests arrive at once.
 */
export function runtimeFor(env: Env): Promise<Runtime | ConfigError> {
  let runtime = runtimes.get(env);
  if (!runtime) {
    runtime = loadRuntime(env);
    runtimes.set(env, runtime);
    // Anything but a ConfigError (a module that failed to load) is not the settings' answer: the
    // next request tries again.
    const pending = runtime;
    pending.catch(() => {
      if (runtimes.get(env) === pending) runtimes.delete(env);
    });
  }
  return runtime;
}

async function loadRuntime(env: Env): Promise<Runtime | ConfigError> {
  const parsers = await loadSettingParsers(env);
  try {
    return buildRuntime(parseConfig(env, parsers));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error;
  }
}

function buildRuntime(config: Config): Runtime {
  const apps = [...config.apps.values()].map((app) => buildAppRuntime(config, app));
  const byName = new Map(apps.map((app) => [app.config.name, app]));
  const byKey = new Map(apps.map((app) => [app.config.appKey, app]));
  const home = byName.get(config.homeApp)!;
  const matched = apps.filter((app) => app.config.match !== undefined);
  const namedApp = (name: string): AppRuntime => {
    const found = byName.get(name);
    if (!found) throw new DomainError("unknown_app", { detail: "no NetEase app by the name in the path" });
    return found;
  };
  return Object.freeze({
    config,
    verifier: new SessionVerifier(config.session),
    metrics: home.metrics,
    apps,
    app(name?: string): AppRuntime {
      if (name === undefined) return home;
      const found = byName.get(name);
      if (!found) throw new DomainError("misconfigured", { detail: "no NetEase app by that name" });
      return found;
    },
    namedApp,
    appWithKey: (appKey: string) => byKey.get(appKey),
    appFor(session: SessionFacts, name?: string): AppRuntime {
      // The one-app deployment's path: nothing to choose, nothing to check.
      if (name === undefined && matched.length === 0 && home.config.match === undefined) return home;
      return chooseApp(session, name === undefined ? undefined : namedApp(name), matched, home);
    },
  });
}

function buildAppRuntime(config: Config, app: AppConfig): AppRuntime {
  const metrics = new Metrics(config.metrics, app.name, config.metricsSampleInterval);
  const store = new AccountStore(config.accounts, app.name);
  const cache = new AccountCache();
  const accountObjects = new AccountObjectClient(config.accountObjects, cache, app.name);
  const pacers = config.createPacers;
  const pacing = pacers && app.createRate > 0 ? new CreatePacing(pacers, app.appKey, app.createRate) : undefined;
  const prefix = app.name === DEFAULT_APP ? "uid:" : `app:${app.name}/uid:`;
  return Object.freeze({
    config: app,
    metrics,
    store,
    accountObjects,
    lookup: new AccountLookup(accountObjects, store, cache, metrics, pacing),
    pacing,
    limitKey: (uid: string) => prefix + uid,
  });
}
