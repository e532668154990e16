/**
 * Env → typed, validated Config. This is the one module that knows the binding and variable names.
 *
 * Validation is strict because every value here is security-relevant: a short HMAC key, a plain-http
 * API base or an inverted ttl range is an operator mistake we would rather refuse loudly (500
 * `misconfigured`, naming the setting in the log) than run with. Problems name settings, never values.
 */

import {
  type AppConfig,
  type AppSettings,
  type NimAppConfig,
  oneAppSecrets,
  type PolicyParsers,
  parseNimApp,
  parseTokenPolicy,
} from "./apps/settings.ts";
import type { RoomPolicy } from "./chatroom/room-policy.ts";
import { DEFAULT_APP, LIMITS } from "./core/constants.ts";
import { type MetricsDataset, SAMPLE_INTERVAL } from "./core/metrics.ts";
import { loadedParser, Problems } from "./core/problems.ts";
import { checkPublicValues, isLocalDevelopment } from "./core/published.ts";
import { isStoredSecret } from "./core/secret.ts";
import { byteLength, isFetchableUrl, isLoopbackUrl, isOrigin, present, wholeNumber } from "./core/setting-values.ts";
import type { Env, ObjectNamespace } from "./env.ts";
import { BINDING_NAMES, ENV_NAMES, STORABLE_SECRETS } from "./env-names.ts";
import { type EventSettings, parseEventSettings } from "./events/settings.ts";
import { PROVIDER_SETTINGS, type Providers, parseSessionSettings, type SessionConfig } from "./session/settings.ts";

export type { AppConfig, AppMatch, NimAppConfig } from "./apps/settings.ts";
export { ConfigError, type ConfigProblem } from "./core/problems.ts";
export type { SessionConfig } from "./session/settings.ts";

/** Validated settings. Secrets are held here in memory only; never log this object. */
export interface Config {
  /** The NetEase apps this deployment serves, by name, in the order NIM_APPS lists them. */
  apps: ReadonlyMap<string, AppConfig>;
  /** The app the paths without an app name serve: the one named `DEFAULT_APP`, else the first. */
  homeApp: string;
  session: SessionConfig;
  /** Admin API bearer token, or undefined when only Access (or nothing) opens the admin API. */
  adminToken: string | undefined;
  /** Cloudflare Access for operators: the team's origin (its certs and `iss`) and the AUD tags accepted. */
  access: AccessSettings | undefined;
  /** Where metrics go; undefined writes none. */
  metrics: MetricsDataset | undefined;
  /** One success in this many is written to metrics, weighted by it (core/metrics.ts). */
  metricsSampleInterval: number;
  /** Where the console reads metrics back (Analytics Engine SQL API); undefined: not configured. */
  analytics: AnalyticsSettings | undefined;
  /** Account-change events for the app's backend (events/); undefined: off (EVENTS_WEBHOOK_URL unset). */
  events: EventSettings | undefined;
  /** The operators' bucket (import files, parked events), bound whether or not events are on; undefined: not bound. */
  adminFiles: R2Bucket | undefined;
  /** The import Workflow and the imports' claims; undefined: file imports are off. */
  imports: { workflow: Workflow; claims: ObjectNamespace } | undefined;
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
  /**
   * Rate-limit bindings; each optional (without it nothing is limited), but a room opened to
   * visitors without a session needs `anonymous`.
   */
  rateLimiters: {
    tokenRequests: RateLimit | undefined;
    authFailures: RateLimit | undefined;
    anonymous: RateLimit | undefined;
  };
}

/** What an account object parses: its apps' account-path settings, the KV namespace, metrics and events. */
export interface AccountsConfig {
  apps: ReadonlyMap<string, NimAppConfig>;
  accounts: KVNamespace;
  metrics: MetricsDataset | undefined;
  /** Where the objects queue account-change events; undefined: off. */
  events: EventSettings | undefined;
}

/**
 * The parsers of settings most deployments leave unset, each a module of its own: NIM_APPS's
 * (`apps/list.ts`), the identity providers' (`session/providers.ts`) and the channel and chatroom
 * policies' (`PolicyParsers`). `loadSettingParsers` imports one only when its setting is set. Why:
 * every module an isolate starts with is compiled on every cold start, and a deployment with one app,
 * a shared secret and no policy needs none of them (bench: cold).
 */
export interface SettingParsers extends PolicyParsers {
  /** For NIM_APPS (which reads its entries' policies itself). */
  readonly appList?: typeof import("./apps/list.ts") | undefined;
  /** For SESSION_PROVIDER, SESSION_OIDC_ISSUER, SESSION_JWKS_URL and SESSION_ISSUERS. */
  readonly providers?: Providers | undefined;
}

/**
 * The parsers `env`'s settings need (`SettingParsers`), imported on first use: for `parseConfig`, or
 * with `forAccounts` for `parseAccountsConfig`, which reads no sessions and, for one app, no policies.
 */
export async function loadSettingParsers(env: Env, forAccounts = false): Promise<SettingParsers> {
  // NIM_APPS's entries may each carry policies.
  const apps = hasText(env.NIM_APPS);
  const policies = (name: "RTC_CHANNEL_POLICY" | "CHATROOM_POLICY") => apps || (!forAccounts && hasText(env[name]));
  const [appList, providers, channelPolicy, roomPolicy] = await Promise.all([
    apps ? import("./apps/list.ts") : undefined,
    !forAccounts && PROVIDER_SETTINGS.some((name) => hasText(env[name])) ? import("./session/providers.ts") : undefined,
    policies("RTC_CHANNEL_POLICY") ? import("./rtc/channel-policy.ts") : undefined,
    policies("CHATROOM_POLICY") ? import("./chatroom/room-policy.ts") : undefined,
  ]);
  return { appList, providers, channelPolicy, roomPolicy };
}

/** Whether a setting holds text that is not blank (a value of another type is `checkText`'s to refuse). */
function hasText(value: unknown): boolean {
  return typeof value === "string" && present(value) !== undefined;
}

/** NIM_APPS's parser, which `loadSettingParsers` loads when NIM_APPS is set. */
function appListOf(parsers: SettingParsers): NonNullable<SettingParsers["appList"]> {
  return loadedParser(parsers.appList, "NIM_APPS");
}

/**
 * Validates the Env and returns a Config, or throws a ConfigError listing every problem. No I/O and
 * no caching (see `runtime.ts` for the per-isolate cache); `parsers` are `loadSettingParsers(env)`'s;
 * `now` only bounds the previous secrets' deadlines.
 */
export function parseConfig(env: Env, parsers: SettingParsers, now: number = Date.now()): Config {
  const problems = new Problems();
  checkText(env, problems);
  const { bad } = problems;
  const { apps, session } = parseAppsAndSessions(env, parsers, now, problems);
  checkDeployable(env, apps, problems);

  const adminToken = env.ADMIN_TOKEN || undefined;
  if (adminToken && !/^[A-Za-z0-9._~+/-]+=*$/.test(adminToken)) {
    // What a bearer token may contain (RFC 6750 token68); another character could never be sent.
    bad("ADMIN_TOKEN", "letters, digits and . _ ~ + / - only");
  }
  if (adminToken && byteLength(adminToken) < LIMITS.minSecretBytes)
    bad("ADMIN_TOKEN", `at least ${LIMITS.minSecretBytes} bytes`);

  const access = parseAccess(env, bad);
  const analytics = parseAnalytics(env, bad);
  const events = parseEventSettings(env, problems);
  // Imports keep their files in the operators' bucket.
  if (env.IMPORTS && !env.ADMIN_FILES) problems.missing("ADMIN_FILES");
  if (env.IMPORTS && !env.IMPORT_CLAIMS) problems.missing("IMPORT_CLAIMS");
  const metricsSampleInterval = wholeNumber(env.METRICS_SAMPLE_INTERVAL, SAMPLE_INTERVAL);
  if (!(metricsSampleInterval >= 1 && metricsSampleInterval <= LIMITS.maxMetricsSampleInterval)) {
    bad("METRICS_SAMPLE_INTERVAL", `a whole number from 1 (every success) to ${LIMITS.maxMetricsSampleInterval}`);
  }

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
  // Rules were read by room-policy.ts, so it is loaded when a policy has any.
  const opensRooms = (policy: RoomPolicy) =>
    policy.rules !== undefined && loadedParser(parsers.roomPolicy, "CHATROOM_POLICY").opensRooms(policy);
  for (const app of apps) {
    if (app.match && opensRooms(app.roomPolicy)) {
      bad(
        `NIM_APPS[${app.name}].chatroomPolicy`,
        "no anonymous rule: the app serves only sessions that meet its match",
      );
    }
  }
  // Visitors without a session are counted per network, or a room opened to them is open to floods.
  if (!env.ANONYMOUS_RATE_LIMITER && apps.some((app) => opensRooms(app.roomPolicy))) {
    problems.missing("ANONYMOUS_RATE_LIMITER");
  }
  problems.check();
  return {
    apps: new Map(apps.map((app) => [app.name, app])),
    homeApp: homeAppOf(apps),
    session,
    adminToken,
    access,
    metrics: env.METRICS,
    metricsSampleInterval,
    analytics,
    events,
    adminFiles: env.ADMIN_FILES,
    imports: env.IMPORTS && env.IMPORT_CLAIMS ? { workflow: env.IMPORTS, claims: env.IMPORT_CLAIMS } : undefined,
    consoleAssets: env.ASSETS,
    allowedOrigins,
    accounts: env.ACCOUNTS!,
    accountObjects: env.ACCOUNT_OBJECTS!,
    createPacers: apps.some((app) => app.createRate > 0) ? env.NIM_CREATE_PACER : undefined,
    rateLimiters: {
      tokenRequests: env.TOKEN_RATE_LIMITER,
      authFailures: env.AUTH_FAILURE_RATE_LIMITER,
      anonymous: env.ANONYMOUS_RATE_LIMITER,
    },
  };
}

const BINDINGS: ReadonlySet<string> = new Set(BINDING_NAMES);

/**
 * Every setting that is text must be text: a var typed as JSON in the dashboard or the Wrangler file
 * (`["…"]`, `true`) would pass a rule that reads it through `String()` (one value in a list reads
 * as that value) and skip the checks for strings. Throws at once, before any rule reads one.
 */
function checkText(env: Env, problems: Problems): void {
  const values = env as unknown as Record<string, unknown>;
  for (const name of ENV_NAMES) {
    const value = values[name];
    if (BINDINGS.has(name) || value === undefined || typeof value === "string") continue;
    if (STORABLE_SECRETS.includes(name) && isStoredSecret(value)) continue;
    problems.bad(name, "text (a var or a secret), not JSON");
  }
  problems.check();
}

/**
 * What only local development may run with (`core/published.ts`): a published development value
 * or a loopback NetEase API base outside it, a placeholder anywhere. Deployed, the Worker refuses
 * them as it refuses any other unusable setting, naming the setting.
 */
function checkDeployable(env: Env, apps: readonly NimAppConfig[], problems: Problems): void {
  const local = isLocalDevelopment(
    env.LOCAL_DEVELOPMENT,
    apps.flatMap((app) => app.apiBases),
  );
  checkPublicValues(env, local, problems.bad, ENV_NAMES);
  if (local) return;
  const webhook = present(env.EVENTS_WEBHOOK_URL);
  if (webhook !== undefined && isLoopbackUrl(webhook)) {
    problems.bad(
      "EVENTS_WEBHOOK_URL",
      "your backend's https URL, not a loopback address (which only npm start may use)",
    );
  }
  const oneApp = present(env.NIM_APPS) === undefined;
  for (const app of apps) {
    if (app.apiBases.some(isLoopbackUrl)) {
      problems.bad(
        oneApp ? "NIM_API_BASE" : `NIM_APPS[${app.name}].apiBase`,
        "NetEase's server API, not a loopback address (which only npm start may use)",
      );
    }
  }
}

/** The app the paths without an app name serve: the one named `DEFAULT_APP`, else the first listed. */
function homeAppOf(apps: readonly { name: string }[]): string {
  return apps.some((app) => app.name === DEFAULT_APP) ? DEFAULT_APP : (apps[0]?.name ?? DEFAULT_APP);
}

/**
 * What an account object needs of the Env, and nothing more: its apps' account-path settings, the
 * KV namespace, metrics and events (sessions and operators are the Worker's). Throws a ConfigError as
 * `parseConfig` does.
 */
/** `parsers`: `loadSettingParsers(env, true)`'s. */
export function parseAccountsConfig(env: Env, parsers: SettingParsers, now: number = Date.now()): AccountsConfig {
  const problems = new Problems();
  checkText(env, problems);
  const listText = present(env.NIM_APPS);
  const apps: NimAppConfig[] =
    listText === undefined
      ? [parseNimApp(env, DEFAULT_APP, now, problems, oneAppSecrets(env, problems))]
      : appListOf(parsers).parseAppList(env, listText, now, problems, parsers);
  checkDeployable(env, apps, problems);
  if (!env.ACCOUNTS) problems.missing("ACCOUNTS");
  const events = parseEventSettings(env, problems);
  problems.check();
  return {
    apps: new Map(apps.map((app) => [app.name, app])),
    accounts: env.ACCOUNTS!,
    metrics: env.METRICS,
    events,
  };
}

/**
 * The apps (NIM_APPS's entries, or the one-app settings as the app named `DEFAULT_APP`) and the
 * session issuers, problems reported in the order the settings are documented.
 */
function parseAppsAndSessions(
  env: Env,
  parsers: SettingParsers,
  now: number,
  problems: Problems,
): { apps: AppConfig[]; session: SessionConfig } {
  const sessions = () => parseSessionSettings(env, problems.bad, problems.missing, parsers.providers);
  const listText = present(env.NIM_APPS);
  if (listText !== undefined) {
    const appList = appListOf(parsers);
    const apps = appList.parseAppList(env, listText, now, problems, parsers);
    const session = sessions();
    // Only NIM_APPS's entries have a match to check.
    appList.checkMatches(apps, session, problems);
    return { apps, session };
  }
  const secrets = oneAppSecrets(env, problems);
  const nimApp = parseNimApp(env, DEFAULT_APP, now, problems, secrets);
  const session = sessions();
  return { apps: [{ ...nimApp, ...parseTokenPolicy(env, problems, secrets, parsers), match: undefined }], session };
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

type Assert<T extends true> = T;
/** Compile-time check that the Env carries every setting an app is parsed from, as `apps/settings.ts` reads them. */
export type EnvHasAppSettings = Assert<Env extends AppSettings ? true : false>;
