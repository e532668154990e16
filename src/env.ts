/**
 * Every setting and binding the Worker reads, each described once: docs/configuration.md is
 * generated from these doc comments (`npm run docs:config`; test/node/docs.test.ts keeps it in step).
 */

import type { MetricsDataset } from "./metrics.ts";

/** The Worker's bindings, as declared in wrangler.toml and set with `wrangler secret put`. */
export interface Env {
  NIM_APP_KEY?: string;
  NIM_APP_SECRET?: string;
  /** The previous app secret, accepted on login-callback signatures while a rotation is under way. */
  NIM_APP_SECRET_PREVIOUS?: string;
  /**
   * Until when (ISO 8601 with a time zone, at most a day ahead) dynamic tokens signed with
   * NIM_APP_SECRET_PREVIOUS are still valid at the login callback. Unset: never.
   */
  NIM_APP_SECRET_PREVIOUS_UNTIL?: string;
  /** `cn` (default) or `sg`: picks NetEase's built-in domain list. */
  NIM_REGION?: string;
  /** Overrides the region's list: comma-separated bases, primary first. */
  NIM_API_BASE?: string;
  /** NetEase's server API to speak: `v1` (default: form posts) or `v2` (REST, IM 10.x). */
  NIM_API_VERSION?: string;
  /** HS256 key for app-session JWTs; joins the one configured issuer, or a `secret` entry of SESSION_ISSUERS. */
  SESSION_JWT_SECRET?: string;
  /** An identity provider in one line: `<provider>:<where>`, e.g. `firebase:my-project` (see session/issuers.ts). */
  SESSION_PROVIDER?: string;
  /** Any OpenID provider by its issuer URL (its discovery document names the keys). */
  SESSION_OIDC_ISSUER?: string;
  SESSION_JWKS_URL?: string;
  SESSION_JWT_ISSUER?: string;
  /** Accepted audiences (comma-separated) for the one configured issuer. */
  SESSION_JWT_AUDIENCE?: string;
  /** Clerk: the origins (comma-separated) a token's `azp` must be one of. */
  SESSION_AUTHORIZED_PARTIES?: string;
  /** Cognito: `id` (default) or `access`, the kind of token accepted. */
  SESSION_TOKEN_USE?: string;
  /** The claim that becomes the uid (default `sub`). */
  SESSION_UID_CLAIM?: string;
  /**
   * A claim with the time the user signed in (seconds, ms or ISO 8601; `amr` and `fva` by their
   * providers' shapes), replacing the provider's own rule for what a revocation is compared with.
   */
  SESSION_SIGN_IN_CLAIM?: string;
  /** Several issuers at once: a JSON list of issuer entries (replaces the one-issuer settings). */
  SESSION_ISSUERS?: string;
  ACCID_SECRET?: string;
  TOKEN_TTL_DEFAULT?: string;
  TOKEN_TTL_MIN?: string;
  TOKEN_TTL_MAX?: string;
  /** NERTC token lifetime (seconds): default, and the range a caller may ask for (at most 86399). */
  RTC_TOKEN_TTL_DEFAULT?: string;
  RTC_TOKEN_TTL_MIN?: string;
  RTC_TOKEN_TTL_MAX?: string;
  /** NERTC's permSecret (console: advanced token authentication); set, RTC answers carry a permission key. */
  NERTC_PERM_SECRET?: string;
  /** Channel grants (JSON list, see channel-policy.ts); unset, every channel is allowed with every privilege. */
  RTC_CHANNEL_POLICY?: string;
  /** Name of a session JWT claim with channel grants that narrow RTC_CHANNEL_POLICY. */
  RTC_POLICY_CLAIM?: string;
  /** A permission key's lifetime (seconds) when no grant sets one; default 3600, at most 86400. */
  RTC_PERM_KEY_TTL?: string;
  /** Bearer token for the admin API. With neither it nor Cloudflare Access set, the admin API is off (404). */
  ADMIN_TOKEN?: string;
  /** Cloudflare Access team domain (`<team>.cloudflareaccess.com`): operators sign in through Access. */
  ACCESS_TEAM_DOMAIN?: string;
  /** The Access application's AUD tag(s), comma-separated; required with ACCESS_TEAM_DOMAIN. */
  ACCESS_AUD?: string;
  /** Workers Analytics Engine dataset for metrics; absent, no metrics are written. */
  METRICS?: MetricsDataset;
  /** Cloudflare account id, for reading metrics back through the Analytics Engine SQL API (the console). */
  ANALYTICS_ACCOUNT_ID?: string;
  /** An API token with Account Analytics: Read, for the same; set with `wrangler secret put`. */
  ANALYTICS_READ_TOKEN?: string;
  /** The dataset METRICS writes to (default nim_token_worker, as wrangler.toml names it). */
  ANALYTICS_DATASET?: string;
  /** Cloudflare's API base (default https://api.cloudflare.com/client/v4); tests point it at a stand-in. */
  ANALYTICS_SQL_API?: string;
  /** The static assets (console/): the operator console's files. */
  ASSETS?: Fetcher;
  /** Comma-separated exact origins allowed to call from browsers; empty means no CORS headers. */
  ALLOWED_ORIGINS?: string;
  ACCOUNTS?: KVNamespace;
  /** The per-uid Durable Objects (class AccountObject) that are the single writers of account records. */
  ACCOUNT_OBJECTS?: ObjectNamespace;
  /** First-time account creations a second across the deployment (default 80, below NetEase's ~100); 0 turns pacing off. */
  NIM_CREATE_RATE?: string;
  /** The Durable Object (class CreatePacer) that paces first-time creations; needed unless NIM_CREATE_RATE is 0. */
  NIM_CREATE_PACER?: ObjectNamespace;
  /** Rate limit per uid on /v1/token (optional binding). */
  TOKEN_RATE_LIMITER?: RateLimit;
  /** Rate limit per client IP on failed authentication (optional binding). */
  AUTH_FAILURE_RATE_LIMITER?: RateLimit;
}

/**
 * What the Worker uses of a Durable Object namespace. Structural, so that the binding's generated
 * type (which names the object's class, a module above this one) fits without importing it; the
 * account objects' client types the stub from the class (src/account-object/client.ts).
 */
export interface ObjectNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): unknown;
}

type Assert<T extends true> = T;
/**
 * Compile-time check that wrangler.toml and this interface agree: `npm run types` regenerates
 * worker-configuration.d.ts from wrangler.toml, and the type check fails if a binding there has a
 * type this interface does not accept.
 */
export type WranglerBindingsMatchEnv = Assert<Cloudflare.Env extends Env ? true : false>;
