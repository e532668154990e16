/**
 * Per-isolate state: the validated Config and everything built from it once (imported keys, the
 * JWKS cache, the account cache). Building these per request would redo key imports and lose the
 * caches, which is most of the warm path's cost.
 *
 * The Runtime is found by the Env object's identity first; if the platform hands us a new Env
 * object with the same settings, a fingerprint of the settings finds the same Runtime again.
 */

import { importAccidKey } from "./accounts/accid.ts";
import { AccountProvisioner } from "./accounts/provision.ts";
import { type Config, type Env, parseConfig } from "./config.ts";
import { NimServerApi } from "./nim/server-api.ts";
import { type Schema, tokenRequestSchema } from "./schema.ts";
import { SessionVerifier } from "./session/verify.ts";

/** Everything a request needs that outlives the request. */
export interface Runtime {
  config: Config;
  verifier: SessionVerifier;
  nim: NimServerApi;
  provisioner: AccountProvisioner;
  /** The POST /v1/token body schema for this config's ttl range, built once. */
  tokenRequestSchema: Schema;
}

/** Hono's environment type for this app. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    requestId: string;
    /** Fields the access log adds to its line (never secrets or tokens). */
    logFields: Record<string, string | number | undefined>;
  };
}

const byEnv = new WeakMap<object, Runtime>();
const byFingerprint = new Map<string, Runtime>();
const MAX_RUNTIMES = 8;

const SETTINGS = [
  "NIM_APP_KEY",
  "NIM_APP_SECRET",
  "NIM_APP_SECRET_PREVIOUS",
  "NIM_API_BASE",
  "SESSION_JWT_SECRET",
  "SESSION_JWKS_URL",
  "SESSION_JWT_ISSUER",
  "SESSION_JWT_AUDIENCE",
  "ACCID_SECRET",
  "TOKEN_TTL_DEFAULT",
  "TOKEN_TTL_MIN",
  "TOKEN_TTL_MAX",
  "ADMIN_TOKEN",
  "ALLOWED_ORIGINS",
] as const satisfies readonly (keyof Env)[];

/** The Runtime for `env`, built on first use. Throws ConfigError when the settings are unusable. */
export function runtimeFor(env: Env): Runtime {
  const known = byEnv.get(env);
  if (known) return known;
  // NUL cannot occur in a Worker variable, so the join is unambiguous. Held in memory only.
  const fingerprint = SETTINGS.map((name) => env[name] ?? "").join("\u0000");
  let runtime = byFingerprint.get(fingerprint);
  if (!runtime) {
    runtime = buildRuntime(parseConfig(env));
    if (byFingerprint.size >= MAX_RUNTIMES) byFingerprint.clear();
    byFingerprint.set(fingerprint, runtime);
  }
  byEnv.set(env, runtime);
  return runtime;
}

function buildRuntime(config: Config): Runtime {
  const nim = new NimServerApi({ apiBase: config.apiBase, appKey: config.appKey, appSecret: config.appSecret });
  return {
    config,
    verifier: new SessionVerifier(config.session),
    nim,
    provisioner: new AccountProvisioner(importAccidKey(config.accidSecret), nim),
    tokenRequestSchema: tokenRequestSchema(config.ttl),
  };
}
