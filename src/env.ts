/**
 * Every setting and binding the Worker reads, each described once: docs/configuration.md is
 * generated from these doc comments (`npm run docs:config`; test/node/docs.test.ts keeps it in step).
 */

import type { MetricsDataset } from "./core/metrics.ts";
import type { BINDING_NAMES, EnvName } from "./env-names.ts";

/**
 * The Worker's settings and bindings. A setting is a var (`vars` in wrangler.jsonc) unless tagged
 * `@secret`: set those with `wrangler secret put NAME`, never in wrangler.jsonc. Bindings are declared
 * in wrangler.jsonc. A `// ##` line starts a group of docs/configuration.md; `//` lines after it are
 * the group's introduction.
 */
export interface Env {
  // ## NetEase app and IM tokens
  // One app; for several, `NIM_APPS` ([apps](apps.md)). A secret here may also be a Secrets Store binding
  // of the same name. Failover and the two server APIs: [architecture](architecture.md#netease-server-api).
  // Rotating the app secret: [security](security.md#rotating-secrets).
  /** Your NetEase app key (the console's "App Key"): letters and digits, at most 64. Required. */
  NIM_APP_KEY?: string;
  /**
   * Your NetEase app secret: signs tokens and server API calls, never leaves the Worker. Required.
   * @secret
   */
  NIM_APP_SECRET?: string;
  /**
   * The previous app secret during a rotation: accepted on login-callback signatures while set.
   * @secret
   */
  NIM_APP_SECRET_PREVIOUS?: string;
  /**
   * Until when dynamic tokens signed with the previous secret pass the login callback: ISO 8601 with a
   * zone, at most 24 h ahead; unset: never.
   */
  NIM_APP_SECRET_PREVIOUS_UNTIL?: string;
  /** `cn` (default) or `sg`: picks NetEase's own list of server API domains, primary first. */
  NIM_REGION?: string;
  /**
   * Overrides the region's list: comma-separated server API bases, primary first; `https` (`http` only
   * on loopback).
   */
  NIM_API_BASE?: string;
  /** NetEase's server API to speak: `v1` (default; form posts) or `v2` (REST, IM 10.x). */
  NIM_API_VERSION?: string;
  /**
   * First-time account creations a second for the app: default 80 (NetEase caps each app at about
   * 100), at most 10000; `0`: no pacing.
   */
  NIM_CREATE_RATE?: string;
  /** The `CreatePacer`s that pace first-time creations, one per app; required unless no app is paced. */
  NIM_CREATE_PACER?: ObjectNamespace;
  /**
   * Key that derives accids from uids: at least 32 bytes. Required.
   * @secret
   */
  ACCID_SECRET?: string;
  /**
   * Several NetEase apps from one deployment: a JSON list of up to 32 entries, replacing the one-app
   * settings in this group ([apps](apps.md)).
   */
  NIM_APPS?: string;
  /** IM token lifetime in seconds when the caller asks for none: default 600. */
  TOKEN_TTL_DEFAULT?: string;
  /** The shortest IM token lifetime a caller may ask for: default 60. */
  TOKEN_TTL_MIN?: string;
  /** The longest: default 3600, at most 86400. */
  TOKEN_TTL_MAX?: string;

  // ## Sessions
  // Who signs your users' session JWTs: at least one issuer. Set at most one of `SESSION_PROVIDER`,
  // `SESSION_OIDC_ISSUER` and `SESSION_JWKS_URL`, or the list `SESSION_ISSUERS` instead.
  // [Identity providers](identity-providers.md) has the presets, the entries and the sign-in rules.
  /**
   * HS256 key for session JWTs your own backend signs, at least 32 bytes; with a provider, it joins
   * that issuer.
   * @secret
   */
  SESSION_JWT_SECRET?: string;
  /** An identity provider in one line, `<preset>:<where>`, like `firebase:my-project`. */
  SESSION_PROVIDER?: string;
  /** Any OpenID provider by its issuer URL (its discovery document names the keys); needs `SESSION_JWT_AUDIENCE`. */
  SESSION_OIDC_ISSUER?: string;
  /** A bare JWKS URL (`https`) for asymmetric session JWTs; needs `SESSION_JWT_ISSUER`, `SESSION_JWT_AUDIENCE`. */
  SESSION_JWKS_URL?: string;
  /** The `iss` tokens must carry: required with a JWKS, optional with the secret alone; presets derive it. */
  SESSION_JWT_ISSUER?: string;
  /**
   * Accepted audiences, comma-separated: required by auth0, cognito, keycloak, OpenID and JWKS; derived
   * by firebase and supabase.
   */
  SESSION_JWT_AUDIENCE?: string;
  /** Clerk: your app's origins, comma-separated, which a token's `azp` must be one of. */
  SESSION_AUTHORIZED_PARTIES?: string;
  /** Cognito: `id` (default) or `access`, the kind of token accepted. */
  SESSION_TOKEN_USE?: string;
  /** The claim that becomes the uid: default `sub`. */
  SESSION_UID_CLAIM?: string;
  /**
   * A claim with the time the user signed in, replacing the provider's own rule for sign-out
   * everywhere.
   */
  SESSION_SIGN_IN_CLAIM?: string;
  /** Several issuers at once: a JSON list of up to 8 entries, replacing the one-issuer settings. */
  SESSION_ISSUERS?: string;

  // ## RTC (NERTC)
  // Audio and video tokens from `/v1/rtc/token`; who may join which channel:
  // [API](api.md#who-may-join-which-channel).
  /** NERTC token lifetime in seconds when the caller asks for none: default 600. */
  RTC_TOKEN_TTL_DEFAULT?: string;
  /** The shortest NERTC token lifetime a caller may ask for: default 60. */
  RTC_TOKEN_TTL_MIN?: string;
  /** The longest: default and at most 86399 (NERTC's limit). */
  RTC_TOKEN_TTL_MAX?: string;
  /**
   * NERTC's permKeySecret (console: advanced token authentication); set, RTC answers carry a
   * permission key.
   * @secret
   */
  NERTC_PERM_SECRET?: string;
  /** Channel grants, a JSON list ([channel policy](#channel-policy)). Unset: every channel, every privilege. */
  RTC_CHANNEL_POLICY?: string;
  /** A session JWT claim with grants that narrow `RTC_CHANNEL_POLICY`; needs `NERTC_PERM_SECRET`. */
  RTC_POLICY_CLAIM?: string;
  /** A permission key's lifetime in seconds when its grant sets none: default 3600, 60 to 86400. */
  RTC_PERM_KEY_TTL?: string;

  // ## Chatrooms
  // Link addresses for NetEase chatrooms from `/v1/chatroom/address`: which rooms, and for whom
  // ([API](api.md#chatroom-link-addresses)).
  /**
   * Room grants, a JSON list of up to 32 `{"room": pattern, "anonymous"?: true}` (digits, `*`,
   * `{uid}`): a session may ask for a room any rule matches, and a visitor without one for a room
   * whose first matching rule is `anonymous`. Unset: every room for a session, none without.
   */
  CHATROOM_POLICY?: string;
  /** A session JWT claim with room grants of the same shape that narrow `CHATROOM_POLICY` for that session. */
  CHATROOM_POLICY_CLAIM?: string;

  // ## Admin and operators
  // The admin API and the operator console: [admin](admin.md). With neither `ADMIN_TOKEN` nor Access
  // set, the admin API is off (404).
  /**
   * Bearer token for the admin API: at least 32 bytes of letters, digits, `. _ ~ + / -` (and trailing
   * `=`).
   * @secret
   */
  ADMIN_TOKEN?: string;
  /** Cloudflare Access team domain, `<team>.cloudflareaccess.com`: operators sign in through Access. */
  ACCESS_TEAM_DOMAIN?: string;
  /** The Access application's AUD tags, comma-separated. Set both Access settings or neither. */
  ACCESS_AUD?: string;
  /** The operator console's files (`console/`), served at `/admin` where the admin API is on. */
  ASSETS?: Fetcher;
  /**
   * The operators' bucket (R2): import files and their results, and undelivered events. Required with
   * `EVENTS_WEBHOOK_URL` or `IMPORTS`.
   */
  ADMIN_FILES?: R2Bucket;
  /**
   * The import Workflow (`ImportWorkflow`): binds an uploaded file of uid/accid rows step by step
   * ([admin](admin.md#importing-stock-accounts)). Without it, `POST /admin/v1/imports` is 404.
   */
  IMPORTS?: Workflow;
  /** One `ImportClaims` per file import: which uid each accid went to. Required with `IMPORTS`. */
  IMPORT_CLAIMS?: ObjectNamespace;

  // ## Metrics
  // What is written, and queries: [operations](operations.md#metrics).
  /** Where metrics go; remove its entry from wrangler.jsonc to write none. */
  METRICS?: MetricsDataset;
  /**
   * One success (a token answered, an allowed login, chatroom addresses) in this many is written,
   * weighted by it: default `20`; `1` writes every one. Failures and changes are always written.
   */
  METRICS_SAMPLE_INTERVAL?: string;
  /** Your Cloudflare account id (32 hex digits): with `ANALYTICS_READ_TOKEN`, the console shows metrics. */
  ANALYTICS_ACCOUNT_ID?: string;
  /**
   * A Cloudflare API token with Account Analytics: Read only, to read metrics back; set both or neither.
   * @secret
   */
  ANALYTICS_READ_TOKEN?: string;
  /** The dataset `METRICS` writes to: default `nim_token_worker`, as wrangler.jsonc names it. */
  ANALYTICS_DATASET?: string;
  /** Cloudflare's API base: default `https://api.cloudflare.com/client/v4`; only tests change it. */
  ANALYTICS_SQL_API?: string;

  // ## Events
  // Account changes for your backend, as signed webhooks ([events](events.md)). Unset
  // `EVENTS_WEBHOOK_URL`: no event is written or queued, and the queues and bucket cost nothing.
  /**
   * Where each event is POSTed: an `https` URL (`http` only on loopback, under `npm start`). Set,
   * every account change is queued on `EVENTS` and delivered here.
   */
  EVENTS_WEBHOOK_URL?: string;
  /**
   * Signs every delivery (Standard Webhooks): `whsec_` and 24 to 64 random bytes in base64, as the
   * receiver's library takes it. Required with `EVENTS_WEBHOOK_URL`.
   * @secret
   */
  EVENTS_WEBHOOK_SECRET?: string;
  /** Delivery attempts before an event is parked as undelivered: default 8, 1 to 20. */
  EVENTS_MAX_ATTEMPTS?: string;
  /** Seconds before the second attempt, doubling after each (at most an hour): default 10, 1 to 3600. */
  EVENTS_RETRY_DELAY?: string;
  /** The queue events wait on for delivery (wrangler.jsonc `queues`). Required with `EVENTS_WEBHOOK_URL`. */
  EVENTS?: Queue;
  /** The dead-letter queue: events that exhausted their attempts, on their way to `ADMIN_FILES`. */
  EVENTS_DEAD_LETTER?: Queue;

  // ## Storage, rate limits and CORS
  // The rate limits are optional (without the binding nothing is limited); tune `limit` under
  // `ratelimits` in wrangler.jsonc.
  /** uid → account record, and accid → uid, RTC uid → uid. Required. */
  ACCOUNTS?: KVNamespace;
  /** The per-uid `AccountObject`s, the single writers of account records. Required. */
  ACCOUNT_OBJECTS?: ObjectNamespace;
  /** Requests per uid and app to the token endpoints and `/v1/sessions/revoke`: 30 a minute. */
  TOKEN_RATE_LIMITER?: RateLimit;
  /** Failed authentications per client network (an IPv4 address, an IPv6 /64): 60 a minute. */
  AUTH_FAILURE_RATE_LIMITER?: RateLimit;
  /**
   * Chatroom address requests without a session, per client network (an IPv6 /56): 20 a minute, raise
   * it where many viewers share a carrier's address; required to open a room to them.
   */
  ANONYMOUS_RATE_LIMITER?: RateLimit;
  /** Browser origins allowed by CORS: comma-separated exact origins, no wildcards. Empty: no CORS headers. */
  ALLOWED_ORIGINS?: string;

  // ## Local development
  // Outside local development the Worker refuses to run with a published development value (those
  // `npm start` writes to `.dev.vars`), a placeholder of `.dev.vars.example` or a loopback NetEase API
  // base: `/healthz` names the setting. [Security](security.md#published-values).
  /**
   * `true` under `npm start` and the tests, which set it themselves; never set it in a deployment (the
   * deploy preflight refuses it). Honoured only while every NetEase API base is on loopback.
   */
  LOCAL_DEVELOPMENT?: string;
}

/**
 * What the Worker uses of a Durable Object namespace. Structural, so that the binding's generated
 * type (which names the object's class, a module above this one) fits without importing it; the
 * account objects' client types the stub from the class (src/accounts/object/client.ts).
 */
export interface ObjectNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): unknown;
}

type Assert<T extends true> = T;
/**
 * Compile-time check that wrangler.jsonc and this interface agree: `npm run types` regenerates
 * worker-configuration.d.ts from wrangler.jsonc (`npm test` fails while it is stale), and the type
 * check fails if a binding there has a type this interface does not accept.
 */
export type WranglerBindingsMatchEnv = Assert<Cloudflare.Env extends Env ? true : false>;
/** The members of `Env` whose value is not text. */
type BindingMember = { [K in keyof Env]-?: Env[K] extends string | undefined ? never : K }[keyof Env];
/** Compile-time check that `BINDING_NAMES` (env-names.ts) lists exactly the members of `Env` that are not text. */
export type BindingNamesMatchEnv = Assert<
  [
    Exclude<BindingMember, (typeof BINDING_NAMES)[number]>,
    Exclude<(typeof BINDING_NAMES)[number], BindingMember>,
  ] extends [never, never]
    ? true
    : false
>;
/** Compile-time check that `ENV_NAMES` (env-names.ts) lists every name of `Env`, and no other. */
export type EnvNamesMatchEnv = Assert<
  [Exclude<keyof Env, EnvName>, Exclude<EnvName, keyof Env>] extends [never, never] ? true : false
>;
