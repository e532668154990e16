/**
 * NIM_APPS: a JSON list of apps, each entry the one-app settings under its own names (`appKey`,
 * `secret`, `tokenTtl`, …), checked by the same rules (`settings.ts`) and reported as
 * `NIM_APPS[<app>].<field>`. Secrets are named, not held: an entry gives the name of its secret's
 * binding, a Worker secret or a Secrets Store binding (`core/secret.ts`), each binding for one use.
 */

import * as v from "valibot";
import { LIMITS } from "../core/constants.ts";
import { lazy } from "../core/lazy.ts";
import type { Problems } from "../core/problems.ts";
import { present } from "../core/setting-values.ts";
import { ENV_NAMES, STORABLE_SECRETS } from "../env-names.ts";
import { CLAIM_NAME } from "../session/issuers.ts";
import type { SessionConfig } from "../session/settings.ts";
import {
  APP_SETTING_NAMES,
  type AppConfig,
  type AppMatch,
  type AppSettings,
  type PolicyParsers,
  parseNimApp,
  parseTokenPolicy,
  type SecretReader,
  secretIn,
} from "./settings.ts";

/** The one-app settings an entry of NIM_APPS replaces; set beside NIM_APPS they are refused, not ignored. */
const ONE_APP_SETTINGS = APP_SETTING_NAMES.filter((name) => name !== "NIM_APPS" && name !== "ACCID_SECRET");

/** An entry's field for each one-app setting (and secret) it stands in for, as problems name it. */
const ENTRY_FIELDS: Readonly<Record<string, string>> = {
  NIM_APP_KEY: "appKey",
  NIM_APP_SECRET: "secret",
  NIM_APP_SECRET_PREVIOUS: "previousSecret",
  NIM_APP_SECRET_PREVIOUS_UNTIL: "previousSecretUntil",
  NIM_REGION: "region",
  NIM_API_BASE: "apiBase",
  NIM_API_VERSION: "apiVersion",
  NIM_CREATE_RATE: "createRate",
  TOKEN_TTL_DEFAULT: "tokenTtl.default",
  TOKEN_TTL_MIN: "tokenTtl.min",
  TOKEN_TTL_MAX: "tokenTtl.max",
  RTC_TOKEN_TTL_DEFAULT: "rtcTokenTtl.default",
  RTC_TOKEN_TTL_MIN: "rtcTokenTtl.min",
  RTC_TOKEN_TTL_MAX: "rtcTokenTtl.max",
  NERTC_PERM_SECRET: "rtcPermSecret",
  RTC_CHANNEL_POLICY: "rtcChannelPolicy",
  RTC_POLICY_CLAIM: "rtcPolicyClaim",
  CHATROOM_POLICY: "chatroomPolicy",
  CHATROOM_POLICY_CLAIM: "chatroomPolicyClaim",
  RTC_PERM_KEY_TTL: "rtcPermKeyTtl",
};

/** A binding name an entry may give for a secret. */
const SECRET_BINDING = /^[A-Z][A-Z0-9_]{0,63}$/;
/**
 * The Worker's own settings and bindings an entry may not name as a secret: all but the one-app
 * secrets (a deployment moving into NIM_APPS names its NIM_APP_SECRET). Another one would be another
 * setting's value (public text, another purpose's secret) or no secret at all (a KV namespace).
 */
const NOT_SECRETS: ReadonlySet<string> = new Set(ENV_NAMES.filter((name) => !STORABLE_SECRETS.includes(name)));
/** An app's name: it appears in paths (`/v1/apps/{app}/token`), KV keys and object names. */
export const APP_NAME = /^[a-z0-9-]{1,32}$/;

/** An entry's shape (its values' rules are the one-app settings'); built on first use, as a one-app isolate never needs it. */
const appEntrySchema = lazy(() => {
  const ttlBoundsSchema = v.optional(
    v.strictObject({ default: v.optional(v.number()), min: v.optional(v.number()), max: v.optional(v.number()) }),
  );
  return v.strictObject({
    name: v.string(),
    appKey: v.string(),
    region: v.optional(v.string()),
    apiBase: v.optional(v.union([v.string(), v.array(v.string())])),
    apiVersion: v.optional(v.string()),
    createRate: v.optional(v.number()),
    secret: v.optional(v.string()),
    previousSecret: v.optional(v.string()),
    previousSecretUntil: v.optional(v.string()),
    rtcPermSecret: v.optional(v.string()),
    tokenTtl: ttlBoundsSchema,
    rtcTokenTtl: ttlBoundsSchema,
    rtcChannelPolicy: v.optional(v.array(v.unknown())),
    rtcPolicyClaim: v.optional(v.string()),
    chatroomPolicy: v.optional(v.array(v.unknown())),
    chatroomPolicyClaim: v.optional(v.string()),
    rtcPermKeyTtl: v.optional(v.number()),
    match: v.optional(
      v.strictObject({ issuer: v.optional(v.string()), claim: v.optional(v.string()), value: v.optional(v.string()) }),
    ),
  });
});
type AppEntry = v.InferOutput<ReturnType<typeof appEntrySchema>>;

/**
 * NIM_APPS: a JSON list of 1 to `LIMITS.maxApps` entries, each an app's settings under its own
 * names, checked by the same rules as the one-app settings and reported as `NIM_APPS[<name>].<field>`.
 */
export function parseAppList(
  env: AppSettings,
  listText: string,
  now: number,
  problems: Problems,
  policies: PolicyParsers,
): AppConfig[] {
  for (const name of ONE_APP_SETTINGS) {
    if (present(env[name]) !== undefined) problems.bad(name, "leave unset with NIM_APPS (each entry has its own)");
  }
  let list: unknown;
  try {
    list = JSON.parse(listText);
  } catch {
    list = undefined;
  }
  if (!Array.isArray(list) || list.length === 0 || list.length > LIMITS.maxApps) {
    problems.bad("NIM_APPS", `a JSON list of 1 to ${LIMITS.maxApps} app entries`);
    return [];
  }
  const apps: AppConfig[] = [];
  const seen = { names: new Set<string>(), appKeys: new Set<string>() };
  /** Every secret binding the entries name so far. */
  const named = new Set<string>();
  list.forEach((raw, index) => {
    const rawName = (raw as { name?: unknown } | null)?.name;
    const label = typeof rawName === "string" && APP_NAME.test(rawName) ? rawName : String(index);
    const at = (field: string) => `NIM_APPS[${label}].${field}`;
    const parsed = v.safeParse(appEntrySchema(), raw);
    if (!parsed.success) {
      const field = parsed.issues[0].path?.map((step) => String(step.key)).join(".");
      problems.bad(field ? at(field) : `NIM_APPS[${label}]`, "a known field of the right type (docs/apps.md)");
      return;
    }
    const entry = parsed.output;
    if (!APP_NAME.test(entry.name)) problems.bad(at("name"), "1 to 32 of a-z 0-9 -");
    else if (seen.names.has(entry.name)) problems.bad(at("name"), "each app's name once");
    seen.names.add(entry.name);
    if (seen.appKeys.has(entry.appKey))
      problems.bad(at("appKey"), "each app key once (NetEase's callback names the app by it)");
    seen.appKeys.add(entry.appKey);
    const scoped = problems.within((name) => (name in ENTRY_FIELDS ? at(ENTRY_FIELDS[name]!) : name));
    const secrets = entrySecrets(env, entry, scoped, named);
    const settings = entrySettings(env, entry);
    const app: AppConfig = {
      ...parseNimApp(settings, entry.name, now, scoped, secrets),
      ...parseTokenPolicy(settings, scoped, secrets, policies),
      match: parseMatch(entry, at, problems),
    };
    apps.push(app);
  });
  return apps;
}

/** An entry's secrets: each field names a binding (a Worker secret or a Secrets Store binding). */
function entrySecrets(env: AppSettings, entry: AppEntry, problems: Problems, named: Set<string>): SecretReader {
  const fields = {
    NIM_APP_SECRET: entry.secret,
    NIM_APP_SECRET_PREVIOUS: entry.previousSecret,
    NERTC_PERM_SECRET: entry.rtcPermSecret,
  };
  return (setting, required) => {
    const binding = fields[setting];
    if (binding === undefined) {
      if (required) problems.missing(setting);
      return undefined;
    }
    if (!SECRET_BINDING.test(binding) || NOT_SECRETS.has(binding)) {
      problems.bad(setting, "the name of a secret binding of its own (A-Z 0-9 _), not another setting's");
      return undefined;
    }
    // One binding, one use: an app's previous secret that is another app's secret would let whoever
    // holds that app's secret sign logins for this one.
    if (named.has(binding)) {
      problems.bad(setting, `names ${binding}, which another field or app names too (one binding each)`);
      return undefined;
    }
    named.add(binding);
    const secret = secretIn(env, binding);
    if (!secret)
      problems.bad(setting, `names ${binding}, which is not set (a Worker secret or a Secrets Store binding)`);
    return secret;
  };
}

/** An entry's settings as the one-app settings they stand in for, so one set of rules checks both. */
function entrySettings(env: AppSettings, entry: AppEntry): AppSettings {
  const text = (value: number | string | undefined) => (value === undefined ? undefined : String(value));
  return {
    NIM_APP_KEY: entry.appKey,
    NIM_REGION: entry.region,
    NIM_API_BASE: Array.isArray(entry.apiBase) ? entry.apiBase.join(",") : entry.apiBase,
    NIM_API_VERSION: entry.apiVersion,
    NIM_CREATE_RATE: text(entry.createRate),
    NIM_CREATE_PACER: env.NIM_CREATE_PACER,
    ACCID_SECRET: env.ACCID_SECRET,
    NIM_APP_SECRET_PREVIOUS_UNTIL: entry.previousSecretUntil,
    TOKEN_TTL_DEFAULT: text(entry.tokenTtl?.default),
    TOKEN_TTL_MIN: text(entry.tokenTtl?.min),
    TOKEN_TTL_MAX: text(entry.tokenTtl?.max),
    RTC_TOKEN_TTL_DEFAULT: text(entry.rtcTokenTtl?.default),
    RTC_TOKEN_TTL_MIN: text(entry.rtcTokenTtl?.min),
    RTC_TOKEN_TTL_MAX: text(entry.rtcTokenTtl?.max),
    RTC_CHANNEL_POLICY: entry.rtcChannelPolicy === undefined ? undefined : JSON.stringify(entry.rtcChannelPolicy),
    RTC_POLICY_CLAIM: entry.rtcPolicyClaim,
    CHATROOM_POLICY: entry.chatroomPolicy === undefined ? undefined : JSON.stringify(entry.chatroomPolicy),
    CHATROOM_POLICY_CLAIM: entry.chatroomPolicyClaim,
    RTC_PERM_KEY_TTL: text(entry.rtcPermKeyTtl),
  };
}

/** An entry's `match`: an issuer's name, a claim with its value, or both (each must hold). */
function parseMatch(entry: AppEntry, at: (field: string) => string, problems: Problems): AppMatch | undefined {
  const { match } = entry;
  if (match === undefined) return undefined;
  const { issuer, claim, value } = match;
  if (issuer === undefined && claim === undefined) problems.bad(at("match"), "an issuer, a claim and value, or both");
  if ((claim === undefined) !== (value === undefined)) problems.bad(at("match"), "claim and value together");
  if (claim !== undefined && !CLAIM_NAME.test(claim))
    problems.bad(at("match.claim"), "a claim name of letters, digits and _ . : / -");
  if (value !== undefined && (value === "" || value.length > 256))
    problems.bad(at("match.value"), "1 to 256 characters");
  return {
    ...(issuer === undefined ? {} : { issuer }),
    ...(claim === undefined || value === undefined ? {} : { claim: { name: claim, value } }),
  };
}

/** Every app's `match.issuer` must name a configured session issuer, or no session could ever use the app. */
export function checkMatches(apps: readonly AppConfig[], session: SessionConfig, problems: Problems): void {
  const issuers = new Set(session.issuers.map((rule) => rule.name));
  for (const app of apps) {
    const issuer = app.match?.issuer;
    if (issuer !== undefined && !issuers.has(issuer)) {
      problems.bad(
        `NIM_APPS[${app.name}].match.issuer`,
        "the name of a session issuer (SESSION_ISSUERS, SESSION_PROVIDER)",
      );
    }
  }
}
