/**
 * The name of every setting and binding in `Env` (src/env.ts, which checks at compile time that
 * this list and the interface agree). A value, not a type, and free of the Workers types, so the
 * parsers (and the deploy preflight through them) can refuse a name that belongs to another setting.
 */
export const ENV_NAMES = [
  "NIM_APP_KEY",
  "NIM_APP_SECRET",
  "NIM_APP_SECRET_PREVIOUS",
  "NIM_APP_SECRET_PREVIOUS_UNTIL",
  "NIM_REGION",
  "NIM_API_BASE",
  "NIM_API_VERSION",
  "NIM_CREATE_RATE",
  "NIM_CREATE_PACER",
  "ACCID_SECRET",
  "NIM_APPS",
  "TOKEN_TTL_DEFAULT",
  "TOKEN_TTL_MIN",
  "TOKEN_TTL_MAX",
  "SESSION_JWT_SECRET",
  "SESSION_PROVIDER",
  "SESSION_OIDC_ISSUER",
  "SESSION_JWKS_URL",
  "SESSION_JWT_ISSUER",
  "SESSION_JWT_AUDIENCE",
  "SESSION_AUTHORIZED_PARTIES",
  "SESSION_TOKEN_USE",
  "SESSION_UID_CLAIM",
  "SESSION_SIGN_IN_CLAIM",
  "SESSION_ISSUERS",
  "RTC_TOKEN_TTL_DEFAULT",
  "RTC_TOKEN_TTL_MIN",
  "RTC_TOKEN_TTL_MAX",
  "NERTC_PERM_SECRET",
  "RTC_CHANNEL_POLICY",
  "RTC_POLICY_CLAIM",
  "RTC_PERM_KEY_TTL",
  "CHATROOM_POLICY",
  "CHATROOM_POLICY_CLAIM",
  "ADMIN_TOKEN",
  "ACCESS_TEAM_DOMAIN",
  "ACCESS_AUD",
  "ASSETS",
  "METRICS",
  "METRICS_SAMPLE_INTERVAL",
  "ANALYTICS_ACCOUNT_ID",
  "ANALYTICS_READ_TOKEN",
  "ANALYTICS_DATASET",
  "ANALYTICS_SQL_API",
  "EVENTS_WEBHOOK_URL",
  "EVENTS_WEBHOOK_SECRET",
  "EVENTS_MAX_ATTEMPTS",
  "EVENTS_RETRY_DELAY",
  "EVENTS",
  "EVENTS_DEAD_LETTER",
  "ADMIN_FILES",
  "IMPORTS",
  "IMPORT_CLAIMS",
  "ACCOUNTS",
  "ACCOUNT_OBJECTS",
  "TOKEN_RATE_LIMITER",
  "AUTH_FAILURE_RATE_LIMITER",
  "ANONYMOUS_RATE_LIMITER",
  "ALLOWED_ORIGINS",
  "LOCAL_DEVELOPMENT",
] as const;

/** A setting's or binding's name. */
export type EnvName = (typeof ENV_NAMES)[number];

/** The members of `Env` that are bindings (KV, Durable Objects, …); every other one is text. */
export const BINDING_NAMES = [
  "NIM_CREATE_PACER",
  "ASSETS",
  "METRICS",
  "EVENTS",
  "EVENTS_DEAD_LETTER",
  "ADMIN_FILES",
  "IMPORTS",
  "IMPORT_CLAIMS",
  "ACCOUNTS",
  "ACCOUNT_OBJECTS",
  "TOKEN_RATE_LIMITER",
  "AUTH_FAILURE_RATE_LIMITER",
  "ANONYMOUS_RATE_LIMITER",
] as const satisfies readonly EnvName[];

/** The settings tagged `@secret` in `Env`: set with `wrangler secret put`, never under vars. */
export const SECRET_NAMES = [
  "NIM_APP_SECRET",
  "NIM_APP_SECRET_PREVIOUS",
  "ACCID_SECRET",
  "SESSION_JWT_SECRET",
  "NERTC_PERM_SECRET",
  "ADMIN_TOKEN",
  "ANALYTICS_READ_TOKEN",
  "EVENTS_WEBHOOK_SECRET",
] as const satisfies readonly EnvName[];

/** The secrets that may also be a Secrets Store binding of the same name (`core/secret.ts`). */
export const STORABLE_SECRETS: readonly EnvName[] = ["NIM_APP_SECRET", "NIM_APP_SECRET_PREVIOUS", "NERTC_PERM_SECRET"];
