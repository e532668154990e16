/**
 * Reads the development variables of `.dev.vars`, which `npm start` writes on its first run
 * (dev-defaults.ts; never `.dev.vars.example`, which holds only placeholders).
 * The parser covers what wrangler's dotenv format needs here: KEY=VALUE lines, `#` comments and
 * optional single or double quotes around a value. Also reads which NetEase apps `npm start`
 * emulates (devApps: the one-app form or NIM_APPS) and what wrangler is told about them.
 */

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The project root (this file lives in scripts/). */
export const projectRoot = fileURLToPath(new URL("..", import.meta.url));
/** Path of the developer's own variables (git-ignored). */
export const devVarsPath = `${projectRoot}.dev.vars`;

/** Parses dotenv text into a map. */
export function parseDevVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    vars[line.slice(0, eq).trim()] = value;
  }
  return vars;
}

/** The development variables in effect: .dev.vars, or none before `npm start` first wrote it. */
export function readDevVars(): Record<string, string> {
  return existsSync(devVarsPath) ? parseDevVars(readFileSync(devVarsPath, "utf8")) : {};
}

/** The value of variable `name`, if .dev.vars sets it (never an Object prototype member). */
const variable = (vars: Readonly<Record<string, string>>, name: string): string | undefined =>
  Object.hasOwn(vars, name) ? vars[name] : undefined;

/** The one-app form's app name: the Worker's name for its first app (DEFAULT_APP). */
const ONE_APP_NAME = "default";

/** One app `npm start` emulates, with its credentials as .dev.vars holds them. Never print it whole. */
export interface DevApp {
  name: string;
  appKey: string;
  appSecret: string;
  permSecret?: string;
  /** The server API base .dev.vars gives the app (NIM_API_BASE, or the entry's apiBase), if any. */
  apiBase?: string;
}

/** The apps `npm start` emulates, and why any NIM_APPS entry is not among them. */
export interface DevApps {
  /** First one first: the emulator's first app, where the stock accounts are created. */
  apps: DevApp[];
  /** One line per entry left out or weakened, naming variables, never their values. */
  notes: string[];
}

/**
 * The apps .dev.vars configures. With NIM_APPS (a JSON list of entries like {name, appKey, secret,
 * rtcPermSecret?, apiBase?}, where `secret`, `rtcPermSecret` and `previousSecret` NAME other
 * variables, the Worker's secrets), every entry whose named secret .dev.vars sets: an entry whose
 * secret lives elsewhere (a Secrets Store binding, say) cannot be emulated, and gets a note. Without
 * NIM_APPS, the one-app form (NIM_APP_KEY, NIM_APP_SECRET, NERTC_PERM_SECRET, NIM_API_BASE) as one
 * app named "default"; no app when its key or secret is missing.
 * Throws, naming the problem (never a value), when NIM_APPS is not a list of such entries.
 */
export function devApps(vars: Readonly<Record<string, string>>): DevApps {
  const entries = nimAppsEntries(vars);
  if (!entries) {
    const { NIM_APP_KEY: appKey, NIM_APP_SECRET: appSecret } = vars;
    if (!appKey || !appSecret) return { apps: [], notes: [] };
    const app: DevApp = { name: ONE_APP_NAME, appKey, appSecret };
    if (vars.NERTC_PERM_SECRET) app.permSecret = vars.NERTC_PERM_SECRET;
    if (vars.NIM_API_BASE) app.apiBase = vars.NIM_API_BASE;
    return { apps: [app], notes: [] };
  }
  const apps: DevApp[] = [];
  const notes: string[] = [];
  for (const entry of entries) {
    const appSecret = variable(vars, entry.secret);
    if (!appSecret) {
      notes.push(`NIM_APPS entry ${entry.name}: ${entry.secret} is not in .dev.vars, so it is not emulated`);
      continue;
    }
    const app: DevApp = { name: entry.name, appKey: entry.appKey, appSecret };
    const permSecret = entry.rtcPermSecret === undefined ? undefined : variable(vars, entry.rtcPermSecret);
    if (permSecret) app.permSecret = permSecret;
    else if (entry.rtcPermSecret !== undefined) {
      notes.push(
        `NIM_APPS entry ${entry.name}: ${entry.rtcPermSecret} is not in .dev.vars, so its permission keys go unchecked`,
      );
    }
    if (entry.apiBase !== undefined) app.apiBase = entry.apiBase;
    if (apps.some((other) => other.appKey === app.appKey))
      throw new Error(`NIM_APPS: appKey of ${app.name} is listed twice`);
    apps.push(app);
  }
  return { apps, notes };
}

/** The emulator's address on its default port, as earlier `.dev.vars` files spelled it out. */
const EMULATOR_DEFAULT_BASE = /^http:\/\/(127\.0\.0\.1|localhost):8788\/nimserver\/?$/;

/**
 * The server API base the Worker gets for an emulated app: none, or the emulator's own default
 * address, is the emulator wherever EMULATOR_PORT put it; anything else (a real NetEase app, a local
 * proxy or a mock of the developer's own) is kept as it is, and `npm start` says so.
 */
export function devApiBase(configured: string | undefined, emulatorBase: string): string {
  return !configured || EMULATOR_DEFAULT_BASE.test(configured) ? emulatorBase : configured;
}

/**
 * NIM_APPS as wrangler is to get it: each emulated entry's apiBase set by devApiBase, every other
 * field and entry as .dev.vars has it. Undefined without NIM_APPS.
 */
export function devNimApps(vars: Readonly<Record<string, string>>, emulatorBase: string): string | undefined {
  const entries = nimAppsEntries(vars);
  if (!entries) return undefined;
  // An entry whose secret is not here is not emulated: its base stays as configured (none: its region's).
  const rewritten = entries.map(({ raw, secret, apiBase }) =>
    variable(vars, secret) ? { ...raw, apiBase: devApiBase(apiBase, emulatorBase) } : raw,
  );
  return JSON.stringify(rewritten);
}

/** One NIM_APPS entry: the fields dev reads, and the whole entry to hand back to wrangler. */
interface NimAppsEntry {
  name: string;
  appKey: string;
  /** The name of the variable holding the app secret. */
  secret: string;
  rtcPermSecret?: string;
  apiBase?: string;
  raw: Record<string, unknown>;
}

/** NIM_APPS's entries, or undefined when it is unset or empty. Throws naming what is wrong. */
function nimAppsEntries(vars: Readonly<Record<string, string>>): NimAppsEntry[] | undefined {
  const text = vars.NIM_APPS?.trim();
  if (!text) return undefined;
  let list: unknown;
  try {
    list = JSON.parse(text);
  } catch {
    throw new Error("NIM_APPS is not JSON (in .dev.vars, quote it: NIM_APPS='[…]')");
  }
  if (!Array.isArray(list)) throw new Error("NIM_APPS must be a JSON list of apps");
  return list.map((raw: unknown, index) => nimAppsEntry(raw, index));
}

function nimAppsEntry(raw: unknown, index: number): NimAppsEntry {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new Error(`NIM_APPS entry ${index} is not an object`);
  }
  const fields = raw as Record<string, unknown>;
  const name = typeof fields.name === "string" && fields.name ? fields.name : `#${index}`;
  const text = (field: string): string | undefined => {
    const value = fields[field];
    if (value === undefined) return undefined;
    if (typeof value !== "string" || !value)
      throw new Error(`NIM_APPS entry ${name}: ${field} must be a non-empty string`);
    return value;
  };
  const appKey = text("appKey");
  const secret = text("secret");
  if (!appKey || !secret) throw new Error(`NIM_APPS entry ${name}: appKey and secret are required`);
  const entry: NimAppsEntry = { name, appKey, secret, raw: fields };
  const rtcPermSecret = text("rtcPermSecret");
  const apiBase = text("apiBase");
  if (rtcPermSecret !== undefined) entry.rtcPermSecret = rtcPermSecret;
  if (apiBase !== undefined) entry.apiBase = apiBase;
  return entry;
}
