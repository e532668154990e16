/**
 * `npm run deploy` runs this first: it refuses to deploy a configuration that cannot work, with a
 * message that says what to fix. Checks wrangler.jsonc as wrangler itself reads it: the
 * environment CLOUDFLARE_ENV names (as wrangler reads it), with the `--var` values in PREFLIGHT_VARS
 * (JSON) on top, which `npm run deploy` (scripts/deploy.ts) passes on from its own arguments:
 *   - every var is text, and none is a secret (a var is plain text in the repository and the
 *     dashboard);
 *   - no var holds a published development value or a placeholder, no NetEase API base is on
 *     loopback, and LOCAL_DEVELOPMENT is not set (src/core/published.ts: the Worker would refuse
 *     to serve);
 *   - NIM_APP_KEY is set (an empty app key deploys fine and then fails every request with 500), or
 *     NIM_APPS lists apps the Worker accepts (the Worker's own rules, `src/apps/list.ts`), each
 *     secret it names a Worker secret (not a var) or a declared Secrets Store binding;
 *   - the SESSION_* settings give every issuer with public keys an audience rule (the Worker's own
 *     parser, without the secrets it cannot see here);
 *   - RTC_CHANNEL_POLICY, when set, is a list of channel grants the Worker accepts;
 *   - the ACCOUNTS KV binding is declared (without an id, wrangler creates the namespace on first
 *     deploy; a note says to commit the id it prints);
 *   - the ACCOUNT_OBJECTS Durable Object binding names this Worker's AccountObject class, and a
 *     migration declares that class SQLite-backed (without it, deploy fails or every change 500s);
 *     likewise NIM_CREATE_PACER and CreatePacer unless NIM_CREATE_RATE is "0".
 * The secrets cannot be read from here: it reminds how to check them (`npm exec wrangler -- secret list`).
 */

import { unstable_readConfig } from "wrangler";
import { parseAppList } from "../src/apps/list.ts";
import type { AppSettings } from "../src/apps/settings.ts";
import * as roomPolicy from "../src/chatroom/room-policy.ts";
import { Problems } from "../src/core/problems.ts";
import { checkPublicValues } from "../src/core/published.ts";
import { isLoopbackUrl } from "../src/core/setting-values.ts";
import { SECRET_NAMES } from "../src/env-names.ts";
import * as channelPolicy from "../src/rtc/channel-policy.ts";
import * as providers from "../src/session/providers.ts";
import { parseSessionSettings, type SessionSettings } from "../src/session/settings.ts";

// PREFLIGHT_CONFIG: another Wrangler file (the tests and `npm run setup --config` use it).
const config = unstable_readConfig({ env: process.env.CLOUDFLARE_ENV, config: process.env.PREFLIGHT_CONFIG });
const problems: string[] = [];
const vars: Record<string, unknown> = {
  ...(config.vars as Record<string, unknown>),
  ...(JSON.parse(process.env.PREFLIGHT_VARS || "{}") as Record<string, string>),
};
for (const [name, value] of Object.entries(vars)) {
  if (typeof value !== "string") {
    problems.push(`${name} must be text (a string), not JSON: the Worker would refuse it.`);
  }
  if ((SECRET_NAMES as readonly string[]).includes(name)) {
    problems.push(`${name} is a secret, not a var: remove it from the vars and \`wrangler secret put ${name}\`.`);
  }
}
const setting = (name: string) => (typeof vars[name] === "string" ? (vars[name] as string).trim() : "");
/** The secret bindings NIM_APPS names that are Worker secrets (`wrangler secret list` must list them). */
const namedSecrets: string[] = [];
/** Whether some app paces its first-time creations (then the pacer must be bound). */
let paced = setting("NIM_CREATE_RATE") !== "0";
if (setting("NIM_APPS")) {
  paced = checkApps(setting("NIM_APPS"));
} else {
  const appKey = vars.NIM_APP_KEY;
  if (typeof appKey !== "string" || !/^[A-Za-z0-9]{1,64}$/.test(appKey)) {
    problems.push(
      'NIM_APP_KEY is empty or not an app key: set it under "vars" in wrangler.jsonc ("NIM_APP_KEY": "…").',
    );
  }
}

/**
 * NIM_APPS by the Worker's own rules. Secrets cannot be read from here: a binding an entry names is
 * taken as a Worker secret unless the Wrangler file declares it in the Secrets Store; one set under
 * "vars" is refused (a secret there is plain text in the repository). Returns whether any app is paced.
 */
function checkApps(listText: string): boolean {
  const stores = new Set((config.secrets_store_secrets ?? []).map((binding: { binding: string }) => binding.binding));
  let entries: unknown;
  try {
    entries = JSON.parse(listText);
  } catch {
    entries = [];
  }
  const bindings: Record<string, unknown> = {};
  for (const entry of Array.isArray(entries) ? entries : []) {
    for (const field of ["secret", "previousSecret", "rtcPermSecret"]) {
      const name = (entry as Record<string, unknown> | null)?.[field];
      if (typeof name !== "string") continue;
      if (name in vars) {
        problems.push(
          `NIM_APPS names ${name} as a secret, but it is under "vars": remove it there and \`wrangler secret put ${name}\`.`,
        );
      } else if (stores.has(name)) {
        bindings[name] = { get: async () => "" };
      } else {
        bindings[name] = "set-with-wrangler-secret-put";
        namedSecrets.push(name);
      }
    }
  }
  const settings: AppSettings = {
    ...(vars as AppSettings),
    ...bindings,
    ACCID_SECRET: "taken-as-set-with-wrangler-secret-put",
    NIM_CREATE_PACER: {},
  };
  const found = new Problems();
  const apps = parseAppList(settings, listText, Date.now(), found, { channelPolicy, roomPolicy });
  for (const problem of found.list) {
    if (problem.name === "ACCID_SECRET" || problem.name === "NIM_CREATE_PACER") continue;
    problems.push(`${problem.name}: ${problem.rule ?? problem.problem} (docs/apps.md).`);
  }
  return apps.some((app) => app.createRate > 0);
}
// What only local development may use: the deployed Worker would refuse to serve.
if ("LOCAL_DEVELOPMENT" in vars) {
  problems.push("LOCAL_DEVELOPMENT is for npm start and the tests only: remove it from the vars.");
}
checkPublicValues(vars, false, (name, rule) => problems.push(`${name}: ${rule}.`));
for (const base of apiBases()) {
  if (isLoopbackUrl(base.url)) {
    problems.push(`${base.setting} is a loopback address, which a deployed Worker cannot reach: remove it.`);
  }
}

/** Every NetEase API base the vars set: NIM_API_BASE's, and each NIM_APPS entry's apiBase. */
function apiBases(): { setting: string; url: string }[] {
  const bases = setting("NIM_API_BASE")
    .split(",")
    .filter((url) => url.trim())
    .map((url) => ({ setting: "NIM_API_BASE", url: url.trim() }));
  let entries: unknown;
  try {
    entries = JSON.parse(setting("NIM_APPS") || "[]");
  } catch {
    return bases; // checkApps has said NIM_APPS is not JSON
  }
  for (const entry of Array.isArray(entries) ? entries : []) {
    const { name, apiBase } = (entry ?? {}) as { name?: unknown; apiBase?: unknown };
    const urls = Array.isArray(apiBase) ? apiBase : typeof apiBase === "string" ? apiBase.split(",") : [];
    for (const url of urls) {
      if (typeof url === "string") bases.push({ setting: `NIM_APPS[${String(name)}].apiBase`, url: url.trim() });
    }
  }
  return bases;
}
// The Worker refuses these too (500 misconfigured on every request); better never deployed. An
// identity provider's keys sign tokens for other apps too, hence the audience rule.
parseSessionSettings(
  vars as SessionSettings,
  (name, rule) => problems.push(`${name}: ${rule}.`),
  () => {},
  providers,
  false,
);
const channelPolicyText = setting("RTC_CHANNEL_POLICY");
const parsedPolicy = channelPolicyText ? channelPolicy.parseChannelRules(channelPolicyText) : undefined;
if (parsedPolicy && "problem" in parsedPolicy) {
  problems.push(
    `RTC_CHANNEL_POLICY must be ${channelPolicy.CHANNEL_GRANTS_RULE}; it is not (${parsedPolicy.problem}).`,
  );
}
const accounts = config.kv_namespaces.find((kv: { binding: string; id?: string }) => kv.binding === "ACCOUNTS");
if (!accounts) {
  problems.push('No KV binding ACCOUNTS: add { "binding": "ACCOUNTS" } to "kv_namespaces" in wrangler.jsonc.');
}
const objects = config.durable_objects.bindings.find(
  (binding: { name: string; class_name?: string; script_name?: string }) => binding.name === "ACCOUNT_OBJECTS",
);
if (objects?.class_name !== "AccountObject" || objects.script_name) {
  problems.push(
    'No Durable Object binding ACCOUNT_OBJECTS for this Worker\'s class AccountObject: add { "name": "ACCOUNT_OBJECTS", "class_name": "AccountObject" } to "durable_objects" "bindings".',
  );
}
const sqliteClasses = config.migrations.flatMap(
  (migration: { new_sqlite_classes?: string[] }) => migration.new_sqlite_classes ?? [],
);
if (!sqliteClasses.includes("AccountObject")) {
  problems.push(
    'No migration declares AccountObject as a SQLite-backed class: add { "tag": "v1", "new_sqlite_classes": ["AccountObject"] } to "migrations".',
  );
}
if (paced) {
  // Pacing is on (the default): its object must be bound and declared, or every first sign-up 500s.
  const pacer = config.durable_objects.bindings.find(
    (binding: { name: string; class_name?: string; script_name?: string }) => binding.name === "NIM_CREATE_PACER",
  );
  if (pacer?.class_name !== "CreatePacer" || pacer.script_name) {
    problems.push(
      'No Durable Object binding NIM_CREATE_PACER for this Worker\'s class CreatePacer: add { "name": "NIM_CREATE_PACER", "class_name": "CreatePacer" } to "durable_objects" "bindings" (or set NIM_CREATE_RATE to "0" to turn pacing off).',
    );
  }
  if (!sqliteClasses.includes("CreatePacer")) {
    problems.push(
      'No migration declares CreatePacer as a SQLite-backed class: add { "tag": "v2", "new_sqlite_classes": ["CreatePacer"] } to "migrations".',
    );
  }
}
if (problems.length > 0) {
  for (const problem of problems) console.error(`[deploy] ${problem}`);
  console.error("[deploy] refusing to deploy.");
  process.exit(1);
}
if (!accounts?.id) {
  console.log(
    "[deploy] note: ACCOUNTS has no id; wrangler creates the namespace on this first deploy and reuses it " +
      "later. Add the id it prints to wrangler.jsonc and commit it, so every deploy (CI included) names it.",
  );
}
const appSecrets = namedSecrets.length > 0 ? [...new Set(namedSecrets)].join(", ") : "NIM_APP_SECRET";
console.log(
  "[deploy] preflight ok. Secrets are not checked here: `npm exec wrangler -- secret list` must list " +
    `${appSecrets}, ACCID_SECRET and SESSION_JWT_SECRET (unless an identity provider is set)` +
    (channelPolicy || setting("RTC_POLICY_CLAIM")
      ? ", and NERTC_PERM_SECRET for the channel policy's privileges."
      : "."),
);
