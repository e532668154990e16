/**
 * A NetEase app's settings and their rules, by the one-app names (NIM_APP_KEY, NIM_APP_SECRET,
 * TOKEN_TTL_*, RTC_*): an app's key, secrets, server API, pacing, token lifetimes and channel policy.
 * The one-app settings are read with them directly; each NIM_APPS entry (`list.ts`) is read with them
 * under its own names. Free of the Workers types, so that the deploy preflight (a Node script) checks
 * with these very rules.
 */

import type { RoomGrant, RoomPolicy } from "../chatroom/room-policy.ts";
import {
  DEFAULT_CREATE_RATE,
  DEFAULT_TTLS,
  LIMITS,
  NIM,
  type NimApiVersion,
  RTC_PRIVILEGES,
} from "../core/constants.ts";
import { loadedParser, type Problems } from "../core/problems.ts";
import { isStoredSecret, Secret } from "../core/secret.ts";
import { byteLength, isFetchableUrl, present, wholeNumber } from "../core/setting-values.ts";
import type { ChannelGrant, ChannelPolicy } from "../rtc/channel-policy.ts";
import { CLAIM_NAME } from "../session/issuers.ts";

/**
 * The policy modules, which read RTC_CHANNEL_POLICY's and CHATROOM_POLICY's grants (with Valibot):
 * loaded only when a policy is set (config.ts `loadSettingParsers`), so that a deployment without one
 * never compiles them on a cold start. The one-app settings' and each NIM_APPS entry's alike.
 */
export interface PolicyParsers {
  readonly channelPolicy?: typeof import("../rtc/channel-policy.ts") | undefined;
  readonly roomPolicy?: typeof import("../chatroom/room-policy.ts") | undefined;
}

/** The one-app settings' names, and the deployment-wide ones an app needs. */
export const APP_SETTING_NAMES = [
  "NIM_APPS",
  "NIM_APP_KEY",
  "NIM_REGION",
  "NIM_API_BASE",
  "NIM_API_VERSION",
  "NIM_CREATE_RATE",
  "NIM_APP_SECRET_PREVIOUS_UNTIL",
  "ACCID_SECRET",
  "TOKEN_TTL_DEFAULT",
  "TOKEN_TTL_MIN",
  "TOKEN_TTL_MAX",
  "RTC_TOKEN_TTL_DEFAULT",
  "RTC_TOKEN_TTL_MIN",
  "RTC_TOKEN_TTL_MAX",
  "RTC_CHANNEL_POLICY",
  "RTC_POLICY_CLAIM",
  "RTC_PERM_KEY_TTL",
  "CHATROOM_POLICY",
  "CHATROOM_POLICY_CLAIM",
] as const;

/** The settings an app is parsed from, by their one-app names (config.ts checks that the Env has them). */
export type AppSettings = Partial<Record<(typeof APP_SETTING_NAMES)[number], string>> & {
  /** The creation pacers' binding: only whether it is there matters here. */
  NIM_CREATE_PACER?: unknown;
};

/**
 * What the account path needs of one NetEase app: its credentials, its server API, how its accids
 * are derived and how fast its first-time accounts may be created. The account objects parse only this.
 */
export interface NimAppConfig {
  /** This deployment's name for the app (`DEFAULT_APP` for the first); it keys the app's accounts. */
  name: string;
  appKey: string;
  /** Signs tokens and server API calls: a Worker secret or a Secrets Store binding (`core/secret.ts`). */
  appSecret: Secret;
  /** Also accepted on login-callback signatures during an app-secret rotation. */
  previousAppSecret: Secret | undefined;
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
  rtcPermSecret: Secret | undefined;
  /** Which channels a session may get RTC tokens for, with which privileges. */
  channelPolicy: ChannelPolicy;
  /** Which chatrooms a session may get link addresses for, and which visitors without one. */
  roomPolicy: RoomPolicy;
  /** Which sessions may use the app; undefined: any verified session (`apps/routing.ts`). */
  match: AppMatch | undefined;
}

/**
 * A rule on the verified session that an app's users meet: the issuer that verified it (its name:
 * a preset's, or a SESSION_ISSUERS entry's), a claim with a given string value, or both.
 */
export interface AppMatch {
  issuer?: string;
  claim?: { name: string; value: string };
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

/**
 * Reads the secret a setting names, and notes it as missing when `required` and absent. One app's
 * settings read `NIM_APP_SECRET` itself; a NIM_APPS entry reads the binding its field names.
 */
export type SecretReader = (setting: AppSecretSetting, required: boolean) => Secret | undefined;
type AppSecretSetting = "NIM_APP_SECRET" | "NIM_APP_SECRET_PREVIOUS" | "NERTC_PERM_SECRET";

/** The secret in binding `name` of `env`: a Worker secret (a non-empty string) or a Secrets Store binding. */
export function secretIn(bindings: object, name: string): Secret | undefined {
  const binding: unknown = (bindings as Record<string, unknown>)[name];
  if (typeof binding === "string") return binding === "" ? undefined : new Secret(name, binding);
  return isStoredSecret(binding) ? new Secret(name, binding) : undefined;
}

/** The one-app settings' secrets: NIM_APP_SECRET, NIM_APP_SECRET_PREVIOUS and NERTC_PERM_SECRET themselves. */
export function oneAppSecrets(env: object, problems: Problems): SecretReader {
  return (setting, required) => {
    const secret = secretIn(env, setting);
    if (!secret && required) problems.missing(setting);
    return secret;
  };
}

/** An app's account-path settings (NIM_*, ACCID_SECRET), from the AppSettings or an entry's settings. */
export function parseNimApp(
  env: AppSettings,
  name: string,
  now: number,
  problems: Problems,
  secrets: SecretReader,
): NimAppConfig {
  const { need, bad } = problems;
  const appKey = need("NIM_APP_KEY", env.NIM_APP_KEY);
  if (appKey && !/^[A-Za-z0-9]{1,64}$/.test(appKey)) bad("NIM_APP_KEY", "letters and digits, at most 64");
  // Secrets are used verbatim (no trim): a stray space is part of the key NetEase knows.
  const appSecret = secrets("NIM_APP_SECRET", true) ?? Secret.of("", "NIM_APP_SECRET");

  const region = present(env.NIM_REGION) ?? "cn";
  // Own keys only: `constructor` or `__proto__` is no region, whatever a plain object inherits.
  const regionBases = Object.hasOwn(NIM_REGIONS, region) ? NIM_REGIONS[region as keyof typeof NIM_REGIONS] : undefined;
  if (!regionBases) bad("NIM_REGION", `one of ${Object.keys(NIM_REGIONS).join(", ")}`);
  const override = present(env.NIM_API_BASE);
  const apiBases = override
    ? override
        .split(",")
        .map((base) => base.trim().replace(/\/+$/, ""))
        .filter(Boolean)
    : [...(regionBases ?? [])];
  // Without an override the bases are the region's: an unknown region is its own problem, not theirs.
  if ((override || regionBases) && (apiBases.length === 0 || !apiBases.every(isFetchableUrl))) {
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

  const previousAppSecret = secrets("NIM_APP_SECRET_PREVIOUS", false);
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

  const createRate = wholeNumber(env.NIM_CREATE_RATE, DEFAULT_CREATE_RATE);
  if (!(createRate >= 0 && createRate <= LIMITS.maxCreateRate)) {
    bad("NIM_CREATE_RATE", `whole creations a second from 0 (no pacing) to ${LIMITS.maxCreateRate}`);
  } else if (createRate > 0 && !env.NIM_CREATE_PACER) {
    problems.missing("NIM_CREATE_PACER");
  }

  return {
    name,
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

/**
 * An app's token policies: IM and NERTC lifetimes, the permission-key secret, the channel policy and
 * the chatroom policy.
 */
export function parseTokenPolicy(
  env: AppSettings,
  problems: Problems,
  secrets: SecretReader,
  policies: PolicyParsers,
): Pick<AppConfig, "ttl" | "rtcTtl" | "rtcPermSecret" | "channelPolicy" | "roomPolicy"> {
  const { bad } = problems;
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
  const rtcPermSecret = secrets("NERTC_PERM_SECRET", false);
  return {
    ttl: { default: ttlDefault, min: ttlMin, max: ttlMax },
    rtcTtl: { default: rtcDefault, min: rtcMin, max: rtcMax },
    rtcPermSecret,
    channelPolicy: parseChannelPolicy(env, rtcPermSecret !== undefined, bad, policies),
    roomPolicy: parseRoomPolicy(env, bad, policies),
  };
}

/** CHATROOM_POLICY and CHATROOM_POLICY_CLAIM (`chatroom/room-policy.ts`). */
function parseRoomPolicy(
  env: AppSettings,
  bad: (name: string, rule: string) => void,
  policies: PolicyParsers,
): RoomPolicy {
  let rules: RoomGrant[] | undefined;
  const rulesText = present(env.CHATROOM_POLICY);
  if (rulesText !== undefined) {
    const { parseRoomRules, ROOM_GRANTS_RULE } = loadedParser(policies.roomPolicy, "CHATROOM_POLICY");
    const parsed = parseRoomRules(rulesText);
    if ("problem" in parsed) bad("CHATROOM_POLICY", `${ROOM_GRANTS_RULE} (${parsed.problem})`);
    else rules = parsed.grants;
  }
  const claim = present(env.CHATROOM_POLICY_CLAIM);
  if (claim !== undefined && !CLAIM_NAME.test(claim)) {
    bad("CHATROOM_POLICY_CLAIM", "a claim name of letters, digits and _ . : / -");
  }
  // Neither: every room for a session, none without (room-policy.ts OPEN_ROOM_POLICY).
  return { rules, claim };
}

/**
 * RTC_CHANNEL_POLICY, RTC_POLICY_CLAIM and RTC_PERM_KEY_TTL. Privileges narrower than "all" are
 * enforced by NERTC only through a permission key, so a rule or claim that could narrow them needs
 * NERTC_PERM_SECRET: without it the operator would believe viewers cannot publish while they can.
 */
function parseChannelPolicy(
  env: AppSettings,
  hasPermSecret: boolean,
  bad: (name: string, rule: string) => void,
  policies: PolicyParsers,
): ChannelPolicy {
  let rules: ChannelGrant[] | undefined;
  const rulesText = present(env.RTC_CHANNEL_POLICY);
  if (rulesText !== undefined) {
    const { parseChannelRules, CHANNEL_GRANTS_RULE } = loadedParser(policies.channelPolicy, "RTC_CHANNEL_POLICY");
    const parsed = parseChannelRules(rulesText);
    if ("problem" in parsed) bad("RTC_CHANNEL_POLICY", `${CHANNEL_GRANTS_RULE} (${parsed.problem})`);
    else rules = parsed.grants;
  }
  if (rules?.some((rule) => rule.privilege !== RTC_PRIVILEGES.all) && !hasPermSecret) {
    bad("RTC_CHANNEL_POLICY", "grants narrower than all privileges need NERTC_PERM_SECRET");
  }
  const claim = present(env.RTC_POLICY_CLAIM);
  if (claim !== undefined && !CLAIM_NAME.test(claim)) {
    bad("RTC_POLICY_CLAIM", "a claim name of letters, digits and _ . : / -");
  }
  if (claim !== undefined && !hasPermSecret) bad("RTC_POLICY_CLAIM", "needs NERTC_PERM_SECRET");
  const keyTtl = parseSeconds("RTC_PERM_KEY_TTL", env.RTC_PERM_KEY_TTL, DEFAULT_TTLS.rtcPermKey, bad);
  if (keyTtl < 60) bad("RTC_PERM_KEY_TTL", `whole seconds from 60 to ${LIMITS.maxPermKeyTtlSeconds}`);
  // Neither: every channel with every privilege (channel-policy.ts OPEN_POLICY), keys for keyTtl.
  return { rules, claim, keyTtl };
}

function parseSeconds(
  name: string,
  raw: string | undefined,
  fallback: number,
  bad: (name: string, rule: string) => void,
): number {
  const value = wholeNumber(raw, fallback);
  if (!(value >= 1 && value <= LIMITS.maxTtlSeconds)) {
    bad(name, `whole seconds from 1 to ${LIMITS.maxTtlSeconds}`);
    return fallback;
  }
  return value;
}
