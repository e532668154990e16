/**
 * Env → typed, validated Config. This is the one module that knows the binding and variable names.
 *
 * Validation is strict because every value here is security-relevant: a short HMAC key, a plain-http
 * API base or an inverted ttl range is an operator mistake we would rather refuse loudly (500
 * `misconfigured`, naming the setting in the log) than run with. Problems name settings, never values.
 */

import {
  DEFAULT_APP,
  DEFAULT_CREATE_RATE,
  DEFAULT_TTLS,
  LIMITS,
  NIM,
  type NimApiVersion,
  RTC_PRIVILEGES,
} from "./core/constants.ts";
import { DomainError } from "./core/errors.ts";
import type { MetricsDataset } from "./core/metrics.ts";
import { byteLength, isFetchableUrl, isOrigin, present } from "./core/setting-values.ts";
import type { Env, ObjectNamespace } from "./env.ts";
import {
  CHANNEL_GRANTS_RULE,
  type ChannelGrant,
  type ChannelPolicy,
  OPEN_POLICY,
  parseChannelRules,
} from "./rtc/channel-policy.ts";
import { parseSessionSettings, type SessionConfig } from "./session/settings.ts";

export type { SessionConfig } from "./session/settings.ts";

/**
 * What the account path needs of one NetEase app: its credentials, its server API, how its accids
 * are derived and how fast its first-time accounts may be created. The account objects parse only this.
 */
export interface NimAppConfig {
  /** This deployment's name for the app (`DEFAULT_APP` for the first); it keys the app's accounts. */
  name: string;
  appKey: string;
  appSecret: string;
  /** Also accepted on login-callback signatures during an app-secret rotation. */
  previousAppSecret: string | undefined;
  /**
   * Until when (Unix ms) a dynamic token signed with `previousAppSecret` is valid at the login
   * callback; 0 when never. A secret is rotated because it may have leaked: whoever holds it can
   * mint a token for any accid, so tokens under it are accepted only while the ones issued before
   * the rotation can still be alive, never for as long as the secret stays set.
   */
  previousAppSecretTokensUntil: number;
  /** Server API bases without a trailing slash, primary first, then backups. */
  apiBases: readonly string[];
  /** Which of NetEase's server APIs to speak (both on the same bases). */
  apiVersion: NimApiVersion;
  accidSecret: string;
  /** First-time creations a second (NetEase caps each app); 0 when not paced. */
  createRate: number;
}

/** Everything that belongs to one NetEase app: its account path's settings and its token policies. */
export interface AppConfig extends NimAppConfig {
  ttl: { default: number; min: number; max: number };
  /** The same for NERTC tokens (at most 86399, NERTC's limit). */
  rtcTtl: { default: number; min: number; max: number };
  /** NERTC's permSecret, or undefined when no permission keys are issued. */
  rtcPermSecret: string | undefined;
  /** Which channels a session may get RTC tokens for, with which privileges. */
  channelPolicy: ChannelPolicy;
}

/** Validated settings. Secrets are held here in memory only; never log this object. */
export interface Config {
  /** The NetEase apps this deployment serves, by name: today one, `DEFAULT_APP`. */
  apps: ReadonlyMap<string, AppConfig>;
  session: SessionConfig;
  /** Admin API bearer token, or undefined when only Access (or nothing) opens the admin API. */
  adminToken: string | undefined;
  /** Cloudflare Access for operators: the team's origin (its certs and `iss`) and the AUD tags accepted. */
  access: AccessSettings | undefined;
  /** Where metrics go; undefined writes none. */
  metrics: MetricsDataset | undefined;
  /** Where the console reads metrics back (Analytics Engine SQL API); undefined: not configured. */
  analytics: AnalyticsSettings | undefined;
  /** The operator console's files (static assets); undefined: no console. */
  consoleAssets: Fetcher | undefined;
  /** Browser origins allowed by CORS (exact match). */
  allowedOrigins: ReadonlySet<string>;
  /** The KV namespace of account records. */
  accounts: KVNamespace;
  /** The account objects: every change to an account's record goes through its object. */
  accountObjects: ObjectNamespace;
  /** The deployment's creation pacers; undefined when no app is paced. */
  createPacers: ObjectNamespace | undefined;
  /** Rate-limit bindings; each optional (without it nothing is limited). */
  rateLimiters: { tokenRequests: RateLimit | undefined; authFailures: RateLimit | undefined };
}

/** What an account object parses: its apps' account-path settings, the KV namespace and metrics. */
export interface AccountsConfig {
  apps: ReadonlyMap<string, NimAppConfig>;
  accounts: KVNamespace;
  metrics: MetricsDataset | undefined;
}

/** One setting that is missing or unusable. `problem` describes the rule, never the value. */
export interface ConfigProblem {
  name: string;
  problem: "missing" | "invalid";
  rule?: string;
}

/** Thrown when the Env cannot produce a Config; carries every problem found, not only the first. */
export class ConfigError extends DomainError {
  override readonly name = "ConfigError";
  constructor(readonly problems: readonly ConfigProblem[]) {
    const listed = problems.map((p) => `${p.name} (${p.rule ?? p.problem})`).join(", ");
    // No secret at all is what a plain `wrangler dev` without .dev.vars looks like.
    const noSecrets = ["NIM_APP_SECRET", "ACCID_SECRET"].every((name) =>
      problems.some((p) => p.name === name && p.problem === "missing"),
    );
    const hint = noSecrets
      ? "; no secrets are set: locally run `npm start` (it creates .dev.vars), deployed use `wrangler secret put`"
      : "";
    super("misconfigured", { detail: `misconfigured: ${listed}${hint}` });
  }
}

/**
 * NetEase's server API domains per region, primary first, as its own server SDKs ship them. The
 * client fails over to the next one (see nim/transport.ts).
 */
const NIM_REGIONS = {
  cn: ["https://api-cn.yunxinapi.com/nimserver", "https://api-cn-bak.yunxinapi.com/nimserver"],
  sg: ["https://api-sg.yunxinapi.com/nimserver", "https://api-sg-bak.yunxinapi.com/nimserver"],
} as const;
/** An ISO 8601 instant with an explicit zone; Date.parse alone also takes local-time forms. */
const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;

/** Collects every problem found while parsing, so one ConfigError can name them all. */
class Problems {
  readonly list: ConfigProblem[] = [];
  /** `value` trimmed, or "" after noting `name` as missing. */
  need = (name: keyof Env, value: string | undefined): string => {
    const v = present(value);
    if (!v) this.missing(name);
    return v ?? "";
  };
  missing = (name: string): void => {
    this.list.push({ name, problem: "missing" });
  };
  bad = (name: string, rule: string): void => {
    this.list.push({ name, problem: "invalid", rule });
  };
  /** Throws the ConfigError naming every problem, if there is one. */
  check(): void {
    if (this.list.length > 0) throw new ConfigError(this.list);
  }
}

/**
 * Validates the Env and returns a Config, or throws a ConfigError listing every problem.
 * No I/O and no caching (see `runtime.ts` for the per-isolate cache); `now` only bounds
 * NIM_APP_SECRET_PREVIOUS_UNTIL.
 */
export function parseConfig(env: Env, now: number = Date.now()): Config {
  const problems = new Problems();
  const { bad } = problems;
  const nimApp = parseNimApp(env, now, problems);
  const session = parseSessionSettings(env, bad, problems.missing);

  const ttlDefault = parseSeconds("TOKEN_TTL_DEFAULT", env.TOKEN_TTL_DEFAULT, DEFAULT_TTLS.im, bad);
  const ttlMin = parseSeconds("TOKEN_TTL_MIN", env.TOKEN_TTL_MIN, DEFAULT_TTLS.min, bad);
  const ttlMax = parseSeconds("TOKEN_TTL_MAX", env.TOKEN_TTL_MAX, DEFAULT_TTLS.imMax, bad);
  if (!(ttlMin <= ttlDefault && ttlDefault <= ttlMax)) {
    bad("TOKEN_TTL_DEFAULT", "TOKEN_TTL_MIN <= TOKEN_TTL_DEFAULT <= TOKEN_TTL_MAX");
  }
  const rtcDefault = parseSeconds("RTC_TOKEN_TTL_DEFAULT", env.RTC_TOKEN_TTL_DEFAULT, DEFAULT_TTLS.rtc, bad);
  const rtcMin = parseSeconds("RTC_TOKEN_TTL_MIN", env.RTC_TOKEN_TTL_MIN, DEFAULT_TTLS.min, bad);
  const rtcMax = parseSeconds("RTC_TOKEN_TTL_MAX", env.RTC_TOKEN_TTL_MAX, LIMITS.maxRtcTtlSeconds, bad);
  if (rtcMax > LIMITS.maxRtcTtlSeconds) bad("RTC_TOKEN_TTL_MAX", `at most ${LIMITS.maxRtcTtlSeconds} (NERTC's limit)`);
  if (!(rtcMin <= rtcDefault && rtcDefault <= rtcMax)) {
    bad("RTC_TOKEN_TTL_DEFAULT", "RTC_TOKEN_TTL_MIN <= RTC_TOKEN_TTL_DEFAULT <= RTC_TOKEN_TTL_MAX");
  }

  const rtcPermSecret = env.NERTC_PERM_SECRET || undefined;
  const channelPolicy = parseChannelPolicy(env, rtcPermSecret !== undefined, bad);

  const adminToken = env.ADMIN_TOKEN || undefined;
  if (adminToken && !/^[A-Za-z0-9._~+/-]+=*$/.test(adminToken)) {
    // What a bearer token may contain (RFC 6750 token68); another character could never be sent.
    bad("ADMIN_TOKEN", "letters, digits and . _ ~ + / - only");
  }
  if (adminToken && byteLength(adminToken) < LIMITS.minSecretBytes)
    bad("ADMIN_TOKEN", `at least ${LIMITS.minSecretBytes} bytes`);

  const access = parseAccess(env, bad);
  const analytics = parseAnalytics(env, bad);

  const allowedOrigins = new Set<string>();
  for (const entry of (env.ALLOWED_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter(Boolean)) {
    if (isOrigin(entry)) allowedOrigins.add(entry);
    else
      bad(
        "ALLOWED_ORIGINS",
        "comma-separated origins like https://app.example.com (no wildcard, path or trailing slash)",
      );
  }

  if (!env.ACCOUNTS) problems.missing("ACCOUNTS");
  if (!env.ACCOUNT_OBJECTS) problems.missing("ACCOUNT_OBJECTS");
  problems.check();
  const app: AppConfig = {
    ...nimApp,
    ttl: { default: ttlDefault, min: ttlMin, max: ttlMax },
    rtcTtl: { default: rtcDefault, min: rtcMin, max: rtcMax },
    rtcPermSecret,
    channelPolicy,
  };
  return {
    apps: new Map([[app.name, app]]),
    session,
    adminToken,
    access,
    metrics: env.METRICS,
    analytics,
    consoleAssets: env.ASSETS,
    allowedOrigins,
    accounts: env.ACCOUNTS!,
    accountObjects: env.ACCOUNT_OBJECTS!,
    createPacers: nimApp.createRate > 0 ? env.NIM_CREATE_PACER : undefined,
    rateLimiters: { tokenRequests: env.TOKEN_RATE_LIMITER, authFailures: env.AUTH_FAILURE_RATE_LIMITER },
  };
}

/**
 * What an account object needs of the Env, and nothing more: its apps' account-path settings, the
 * KV namespace and metrics (sessions, token policies and operators are the Worker's). Throws a
 * ConfigError as `parseConfig` does.
 */
export function parseAccountsConfig(env: Env, now: number = Date.now()): AccountsConfig {
  const problems = new Problems();
  const nimApp = parseNimApp(env, now, problems);
  if (!env.ACCOUNTS) problems.missing("ACCOUNTS");
  problems.check();
  return { apps: new Map([[nimApp.name, nimApp]]), accounts: env.ACCOUNTS!, metrics: env.METRICS };
}

/** The default app's account-path settings (NIM_*, ACCID_SECRET). */
function parseNimApp(env: Env, now: number, problems: Problems): NimAppConfig {
  const { need, bad } = problems;
  const appKey = need("NIM_APP_KEY", env.NIM_APP_KEY);
  if (appKey && !/^[A-Za-z0-9]{1,64}$/.test(appKey)) bad("NIM_APP_KEY", "letters and digits, at most 64");
  // Secrets are used verbatim (no trim): a stray space is part of the key NetEase knows.
  const appSecret = env.NIM_APP_SECRET ?? "";
  if (!appSecret) problems.missing("NIM_APP_SECRET");

  const region = present(env.NIM_REGION) ?? "cn";
  const regionBases = NIM_REGIONS[region as keyof typeof NIM_REGIONS];
  if (!regionBases) bad("NIM_REGION", `one of ${Object.keys(NIM_REGIONS).join(", ")}`);
  const override = present(env.NIM_API_BASE);
  const apiBases = override
    ? override
        .split(",")
        .map((base) => base.trim().replace(/\/+$/, ""))
        .filter(Boolean)
    : [...(regionBases ?? [])];
  if (apiBases.length === 0 || !apiBases.every(isFetchableUrl)) {
    bad("NIM_API_BASE", "comma-separated https URLs, primary first (http only for loopback)");
  }

  // v1 stays the default until v2 has run against the real service somewhere (it has only run
  // against the emulator and NetEase's published SDK code).
  const apiVersion = (present(env.NIM_API_VERSION) ?? "v1") as NimApiVersion;
  if (!NIM.apiVersions.includes(apiVersion)) bad("NIM_API_VERSION", `one of ${NIM.apiVersions.join(", ")}`);

  const accidSecret = env.ACCID_SECRET ?? "";
  if (!accidSecret) problems.missing("ACCID_SECRET");
  else if (byteLength(accidSecret) < LIMITS.minSecretBytes)
    bad("ACCID_SECRET", `at least ${LIMITS.minSecretBytes} bytes`);

  const previousAppSecret = env.NIM_APP_SECRET_PREVIOUS || undefined;
  const previousUntilText = present(env.NIM_APP_SECRET_PREVIOUS_UNTIL);
  let previousAppSecretTokensUntil = 0;
  if (previousUntilText !== undefined) {
    const until = ISO_INSTANT.test(previousUntilText) ? Date.parse(previousUntilText) : NaN;
    if (!previousAppSecret) bad("NIM_APP_SECRET_PREVIOUS_UNTIL", "only with NIM_APP_SECRET_PREVIOUS");
    else if (!Number.isFinite(until) || until > now + LIMITS.maxPreviousSecretTokenMs) {
      bad(
        "NIM_APP_SECRET_PREVIOUS_UNTIL",
        "an ISO 8601 time with a zone (like 2026-01-31T12:00:00Z), at most 24 hours from now",
      );
    } else previousAppSecretTokensUntil = until;
  }

  const createRateText = present(env.NIM_CREATE_RATE);
  const createRate =
    createRateText === undefined
      ? DEFAULT_CREATE_RATE
      : /^\d{1,5}$/.test(createRateText)
        ? Number(createRateText)
        : NaN;
  if (!(createRate >= 0 && createRate <= LIMITS.maxCreateRate)) {
    bad("NIM_CREATE_RATE", `whole creations a second from 0 (no pacing) to ${LIMITS.maxCreateRate}`);
  } else if (createRate > 0 && !env.NIM_CREATE_PACER) {
    problems.missing("NIM_CREATE_PACER");
  }

  return {
    name: DEFAULT_APP,
    appKey,
    appSecret,
    previousAppSecret,
    previousAppSecretTokensUntil,
    apiBases,
    apiVersion,
    accidSecret,
    createRate: Math.max(createRate, 0),
  };
}

/** Reading metrics back through the Analytics Engine SQL API (src/admin/metrics-summary.ts). */
export interface AnalyticsSettings {
  /** `<api>/accounts/<id>/analytics_engine/sql`. */
  sqlUrl: string;
  readToken: string;
  /** The dataset's name, safe to put in SQL (letters, digits, `_`). */
  dataset: string;
}

/** ANALYTICS_ACCOUNT_ID and ANALYTICS_READ_TOKEN, both or neither; the dataset and API base optional. */
function parseAnalytics(env: Env, bad: (name: string, rule: string) => void): AnalyticsSettings | undefined {
  const accountId = present(env.ANALYTICS_ACCOUNT_ID);
  const readToken = present(env.ANALYTICS_READ_TOKEN);
  const dataset = present(env.ANALYTICS_DATASET) ?? "nim_token_worker";
  if (!/^[A-Za-z0-9_]{1,64}$/.test(dataset)) bad("ANALYTICS_DATASET", "a dataset name of letters, digits and _");
  if (accountId === undefined && readToken === undefined) return undefined;
  if (accountId === undefined || !/^[0-9a-f]{32}$/.test(accountId)) {
    bad("ANALYTICS_ACCOUNT_ID", "your Cloudflare account id (32 hex digits), set with ANALYTICS_READ_TOKEN");
  }
  if (readToken === undefined || !/^[A-Za-z0-9_-]{20,200}$/.test(readToken)) {
    bad("ANALYTICS_READ_TOKEN", "an API token with Account Analytics: Read, set with ANALYTICS_ACCOUNT_ID");
  }
  const api = (present(env.ANALYTICS_SQL_API) ?? "https://api.cloudflare.com/client/v4").replace(/\/+$/, "");
  if (!isFetchableUrl(api)) bad("ANALYTICS_SQL_API", "an https URL (http only for loopback)");
  return { sqlUrl: `${api}/accounts/${accountId}/analytics_engine/sql`, readToken: readToken ?? "", dataset };
}

/** Cloudflare Access settings for operators (see src/admin/access.ts). */
export interface AccessSettings {
  /** `https://<team>.cloudflareaccess.com`: the assertion's `iss`, and where its certs are. */
  teamOrigin: string;
  /** The Access application's AUD tags; an assertion must carry one of them. */
  audiences: readonly string[];
}

const ACCESS_AUD_TAG = /^[A-Za-z0-9_-]{1,128}$/;

/**
 * ACCESS_TEAM_DOMAIN and ACCESS_AUD, both or neither. The team domain is a bare host (as the Access
 * dashboard shows it) or an https origin; http is accepted on loopback only (a local stand-in).
 */
function parseAccess(env: Env, bad: (name: string, rule: string) => void): AccessSettings | undefined {
  const domain = present(env.ACCESS_TEAM_DOMAIN);
  const audText = present(env.ACCESS_AUD);
  if (domain === undefined && audText === undefined) return undefined;
  if (domain === undefined) {
    bad("ACCESS_TEAM_DOMAIN", "set with ACCESS_AUD (your team's <team>.cloudflareaccess.com)");
    return undefined;
  }
  const teamOrigin = domain.includes("://") ? domain.replace(/\/+$/, "") : `https://${domain}`;
  if (!isOrigin(teamOrigin) || !isFetchableUrl(teamOrigin)) {
    bad("ACCESS_TEAM_DOMAIN", "a host like myteam.cloudflareaccess.com (or its https origin)");
  }
  const audiences = (audText ?? "")
    .split(",")
    .map((tag) => tag.trim())
    .filter(Boolean);
  if (audiences.length === 0 || !audiences.every((tag) => ACCESS_AUD_TAG.test(tag))) {
    bad("ACCESS_AUD", "the Access application's AUD tag (comma-separated for several)");
  }
  return { teamOrigin, audiences };
}

/**
 * RTC_CHANNEL_POLICY, RTC_POLICY_CLAIM and RTC_PERM_KEY_TTL. Privileges narrower than "all" are
 * enforced by NERTC only through a permission key, so a rule or claim that could narrow them needs
 * NERTC_PERM_SECRET: without it the operator would believe viewers cannot publish while they can.
 */
function parseChannelPolicy(
  env: Env,
  hasPermSecret: boolean,
  bad: (name: string, rule: string) => void,
): ChannelPolicy {
  let rules: ChannelGrant[] | undefined;
  const rulesText = present(env.RTC_CHANNEL_POLICY);
  if (rulesText !== undefined) {
    const parsed = parseChannelRules(rulesText);
    if ("problem" in parsed) bad("RTC_CHANNEL_POLICY", `${CHANNEL_GRANTS_RULE} (${parsed.problem})`);
    else rules = parsed.grants;
  }
  if (rules?.some((rule) => rule.privilege !== RTC_PRIVILEGES.all) && !hasPermSecret) {
    bad("RTC_CHANNEL_POLICY", "grants narrower than all privileges need NERTC_PERM_SECRET");
  }
  const claim = present(env.RTC_POLICY_CLAIM);
  if (claim !== undefined && !/^[A-Za-z0-9_.:/-]{1,128}$/.test(claim)) {
    bad("RTC_POLICY_CLAIM", "a claim name of letters, digits and _ . : / -");
  }
  if (claim !== undefined && !hasPermSecret) bad("RTC_POLICY_CLAIM", "needs NERTC_PERM_SECRET");
  const keyTtl = parseSeconds("RTC_PERM_KEY_TTL", env.RTC_PERM_KEY_TTL, DEFAULT_TTLS.rtcPermKey, bad);
  if (keyTtl < 60) bad("RTC_PERM_KEY_TTL", `whole seconds from 60 to ${LIMITS.maxPermKeyTtlSeconds}`);
  if (rules === undefined && claim === undefined) return { ...OPEN_POLICY, keyTtl };
  return { rules, claim, keyTtl };
}

function parseSeconds(
  name: string,
  raw: string | undefined,
  fallback: number,
  bad: (name: string, rule: string) => void,
): number {
  const text = present(raw);
  if (text === undefined) return fallback;
  const value = /^\d{1,9}$/.test(text) ? Number(text) : NaN;
  if (!(value >= 1 && value <= LIMITS.maxTtlSeconds)) {
    bad(name, `whole seconds from 1 to ${LIMITS.maxTtlSeconds}`);
    return fallback;
  }
  return value;
}
