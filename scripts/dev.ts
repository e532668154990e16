/**
 * `npm start` (or `npm run dev`): the whole local service in one command.
 *   1. writes .dev.vars on first run: development-only values (dev-defaults.ts), published, which a
 *      Worker refuses outside local development;
 *   2. checks that both ports are free, and prints any configuration problem before starting;
 *   3. starts the CommsEase emulator on http://127.0.0.1:8788 (accounts persist in .wrangler/state),
 *      serving the apps .dev.vars names: the one app of NIM_APP_KEY / NIM_APP_SECRET, or each
 *      NIM_APPS entry whose secret .dev.vars holds (devApps in dev-vars.ts);
 *   4. runs `wrangler dev` for the Worker on http://127.0.0.1:8787, which reads .dev.vars, with
 *      NIM_API_BASE (or each emulated NIM_APPS entry's apiBase) pointed at the emulator it started
 *      when .dev.vars gives none or the emulator's default address (another one is kept), and
 *      LOCAL_DEVELOPMENT=true, which only this script and the tests set (src/core/published.ts);
 *   5. starts a webhook receiver on http://127.0.0.1:8789 (webhook-receiver.ts) and points the
 *      Worker's account-change events at it, signed with a secret made for this run, three attempts
 *      a second apart, unless .dev.vars sets EVENTS_WEBHOOK_URL itself;
 *   6. once the Worker answers, resumes the file imports an earlier run left part-way.
 * PORT, EMULATOR_PORT and WEBHOOK_PORT choose other ports. Ctrl-C or SIGTERM stops everything it started.
 */

import { spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { startEmulator } from "../emulator/serve.ts";
import { devVarsText } from "./dev-defaults.ts";
import {
  type DevApp,
  type DevApps,
  devApiBase,
  devApps,
  devNimApps,
  devVarsPath,
  parseDevVars,
  projectRoot,
  readDevVars,
} from "./dev-vars.ts";
import { startWebhookReceiver } from "./webhook-receiver.ts";

const WORKER_PORT = Number(process.env.PORT ?? 8787);
const STOCK_ACCIDS = ["legacy_bob", "legacy_carol", "legacy_dave", "legacy_erin", "legacy_fay"];
/** The chatroom docs/api.md's example asks for: the emulator's first room id. */
const STOCK_ROOM = "1000001";
const EMULATOR_PORT = Number(process.env.EMULATOR_PORT ?? 8788);
const WEBHOOK_PORT = Number(process.env.WEBHOOK_PORT ?? 8789);
/** The one-app form's variables, which NIM_APPS replaces. */
const ONE_APP_VARS = ["NIM_APP_KEY", "NIM_APP_SECRET", "NIM_API_BASE", "NERTC_PERM_SECRET"];

/** Exits with one line naming the variable to change when `port` is taken. */
async function requireFreePort(port: number, variable: string, what: string): Promise<void> {
  const free = await new Promise<boolean>((resolve) => {
    const server = createServer()
      .once("error", () => resolve(false))
      .listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
  if (!free) {
    console.error(`[dev] port ${port} (${what}) is in use: stop what holds it, or set ${variable} to another port`);
    process.exit(1);
  }
}

/**
 * Once the Worker answers, prints what its /healthz says is missing or invalid, so a configuration
 * problem shows when `npm start` starts, not at the first request (which would answer 500).
 */
async function reportConfiguration(base: string): Promise<void> {
  for (let attempt = 0; attempt < 120; attempt++) {
    const answer = await fetch(`${base}/healthz`).catch(() => undefined);
    if (answer?.status === 200) return await redriveImports(base);
    if (answer?.status === 503) {
      const { missing = [], invalid = [] } = (await answer.json()) as { missing?: string[]; invalid?: string[] };
      for (const name of missing) console.error(`[dev] configuration: ${name} is missing`);
      for (const name of invalid) console.error(`[dev] configuration: ${name} is invalid`);
      console.error("[dev] the Worker answers 500 misconfigured until .dev.vars is fixed (docs/configuration.md)");
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Drives on the file imports an earlier run left part-way. Cloudflare's Workflows go on by themselves
 * after a restart; Miniflare's leave such an instance "running" with nothing running it, until it is
 * paused and resumed. Each step is idempotent (src/imports/workflow.ts), so the step cut short runs
 * again without binding anything twice.
 */
async function redriveImports(base: string): Promise<void> {
  const token = readDevVars().ADMIN_TOKEN?.trim();
  if (!token) return;
  const headers = { Authorization: `Bearer ${token}` };
  const appPaths = multiApp ? apps.map((app) => `/apps/${app.name}`) : [""];
  for (const path of appPaths) {
    const listed = await fetch(`${base}/admin/v1${path}/imports?limit=100`, { headers }).catch(() => undefined);
    if (listed?.status !== 200) continue;
    const { imports } = (await listed.json()) as { imports: { id: string; status: string }[] };
    for (const { id } of imports.filter(({ status }) => status === "running" || status === "queued")) {
      await fetch(`${base}/admin/v1${path}/imports/${id}/pause`, { method: "POST", headers });
      // Resume once it is paused: a pause takes effect after the step under way (a run alive after
      // all finishes its step first, and a step of 1,000 rows can take longer than 10 s here), and
      // the status may still read "running" just after the pause was asked for. A resume before
      // then is refused (409), and the import would stay paused.
      let status: string | undefined;
      for (let i = 0; i < 240 && status !== "paused"; i++) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, 500));
        const now = await fetch(`${base}/admin/v1${path}/imports/${id}`, { headers }).catch(() => undefined);
        status = ((await now?.json().catch(() => undefined)) as { status?: string } | undefined)?.status;
        if (status !== undefined && !["running", "queued", "pausing", "paused"].includes(status)) break;
      }
      const resumed =
        status === "paused"
          ? await fetch(`${base}/admin/v1${path}/imports/${id}/resume`, { method: "POST", headers })
          : undefined;
      console.log(
        `[dev] import ${id}, left part-way by an earlier run: ${resumed?.ok ? "resumed" : `not resumed (${resumed?.status ?? status})`}`,
      );
    }
  }
}

await requireFreePort(WORKER_PORT, "PORT", "the Worker");
await requireFreePort(EMULATOR_PORT, "EMULATOR_PORT", "the CommsEase emulator");
await requireFreePort(WEBHOOK_PORT, "WEBHOOK_PORT", "the webhook receiver");

if (!existsSync(devVarsPath)) {
  // `wx`: never over a .dev.vars that appeared meanwhile; 0600, as any file of secrets.
  writeFileSync(devVarsPath, devVarsText(), { flag: "wx", mode: 0o600 });
  console.log("[dev] created .dev.vars with development-only values (scripts/dev-defaults.ts)");
}
const vars = readDevVars();
const multiApp = Boolean(vars.NIM_APPS?.trim());
// With NIM_APPS, the one-app variables are not wanted: no note for their absence.
const missing = Object.keys(parseDevVars(devVarsText())).filter(
  (name) => !(name in vars) && !(multiApp && ONE_APP_VARS.includes(name)),
);
if (missing.length > 0) console.log(`[dev] note: .dev.vars has no ${missing.join(", ")} (see scripts/dev-defaults.ts)`);

/** The apps .dev.vars names; exits with one line when NIM_APPS cannot be read. */
function appsToEmulate(): DevApps {
  try {
    return devApps(vars);
  } catch (error) {
    console.error(`[dev] .dev.vars: ${(error as Error).message}`);
    process.exit(1);
  }
}

const { apps, notes } = appsToEmulate();
for (const note of notes) console.log(`[dev] note: ${note}`);
const [first, ...others] = apps;
if (!first) {
  console.error(
    multiApp
      ? "[dev] no NIM_APPS entry has its secret in .dev.vars: there is no app to emulate"
      : "[dev] .dev.vars must set NIM_APP_KEY and NIM_APP_SECRET",
  );
  process.exit(1);
}

// Only keys and secrets go to the emulator; names and bases are the Worker's business.
const credentials = ({ appKey, appSecret, permSecret }: DevApp) => ({
  appKey,
  appSecret,
  ...(permSecret ? { permSecret } : {}),
});
const emulator = await startEmulator({
  ...credentials(first),
  apps: others.map(credentials),
  port: EMULATOR_PORT,
  persistTo: `${projectRoot}.wrangler/state/emulator`,
  // Optional, to try the Worker against NetEase's undocumented or limiting behaviours.
  getUinfosUnknown: process.env.EMULATOR_GETUINFOS_UNKNOWN === "fail" ? "fail" : "omit",
  rateLimitPerSecond: Number(process.env.EMULATOR_RATE_LIMIT ?? 0),
});
console.log(`[dev] CommsEase emulator on ${emulator.url}/nimserver`);
console.log(`[dev] emulated apps: ${apps.map((app) => `${app.name} (${app.appKey})`).join(", ")}`);
// The README's admin examples bind these "stock" accounts (registered with NetEase before this
// service existed); create them so the examples work as printed. Idempotent across restarts. They
// go to the first app, the one the emulator-only endpoints serve without ?appKey=.
for (const accid of STOCK_ACCIDS) {
  await fetch(`${emulator.url}/emulator/accounts`, { method: "POST", body: JSON.stringify({ accid }) });
}
console.log(`[dev] stock accounts at the emulator: ${STOCK_ACCIDS.join(", ")}`);
// docs/api.md's chatroom example enters this room: the first the emulator makes (its ids start there).
const lobby = (await (await fetch(`${emulator.url}/emulator/chatrooms/${STOCK_ROOM}`)).json()) as { exists: boolean };
if (!lobby.exists) {
  const made = await fetch(`${emulator.url}/emulator/chatrooms`, {
    method: "POST",
    body: JSON.stringify({ creator: STOCK_ACCIDS[0], name: "lobby" }),
  });
  const roomid = ((await made.json()) as { chatroom?: { roomid?: number } }).chatroom?.roomid;
  if (String(roomid) !== STOCK_ROOM) console.log(`[dev] note: the stock chatroom is ${roomid}, not ${STOCK_ROOM}`);
}
console.log(`[dev] stock chatroom at the emulator: ${STOCK_ROOM} (lobby)`);
const emulatorBase = `${emulator.url}/nimserver`;
for (const app of apps) {
  const base = devApiBase(app.apiBase, emulatorBase);
  const setting = multiApp ? `NIM_APPS entry ${app.name}'s apiBase` : "NIM_API_BASE";
  if (base !== emulatorBase) {
    console.log(`[dev] note: ${setting} in .dev.vars is ${base}: kept (the emulator is ${emulatorBase})`);
  }
}
const receiver = vars.EVENTS_WEBHOOK_URL?.trim() ? undefined : await startReceiver();
const workerVars = [...varOverrides(), ...(receiver?.vars ?? [])];

/**
 * The local receiver of events, and the Worker's settings for it: a signing secret of this run's own,
 * and retries short enough to see an event reach the dead-letter queue within a minute.
 */
async function startReceiver() {
  const secret = `whsec_${Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("base64")}`;
  const started = await startWebhookReceiver({
    secret,
    port: WEBHOOK_PORT,
    onDelivery: ({ id, verified, event, answered }) => {
      const { type = "?", data = {} } = (verified ? event : {}) as { type?: string; data?: { uid?: string } };
      const outcome = verified ? `answered ${answered || "nothing"}` : "signature refused";
      console.log(`[events] ${type} uid=${data.uid ?? "?"} ${id}: ${outcome}`);
    },
  });
  console.log(`[dev] webhook receiver on ${started.url} (POST ${started.base}/mode/fail or /mode/hang to try retries)`);
  const vars = [
    `EVENTS_WEBHOOK_URL:${started.url}`,
    `EVENTS_WEBHOOK_SECRET:${secret}`,
    "EVENTS_MAX_ATTEMPTS:3",
    "EVENTS_RETRY_DELAY:1",
  ].flatMap((value) => ["--var", value]);
  return { started, vars };
}

/**
 * The `--var` overrides wrangler gets on top of .dev.vars: LOCAL_DEVELOPMENT, and the server API
 * bases pointed at the emulator. With NIM_APPS, the rewritten list (and NIM_API_BASE only if .dev.vars sets one); else
 * NIM_API_BASE, as ever.
 */
function varOverrides(): string[] {
  const nimApps = devNimApps(vars, emulatorBase);
  const apiBase = ["--var", `NIM_API_BASE:${devApiBase(vars.NIM_API_BASE, emulatorBase)}`];
  const local = ["--var", "LOCAL_DEVELOPMENT:true"];
  if (nimApps === undefined) return [...local, ...apiBase];
  return [...local, "--var", `NIM_APPS:${nimApps}`, ...(vars.NIM_API_BASE ? apiBase : [])];
}

const wrangler = spawn(
  "wrangler",
  ["dev", "--ip", "127.0.0.1", "--port", String(WORKER_PORT), "--show-interactive-dev-session=false", ...workerVars],
  // Its own process group, so stopping it also stops the workerd processes it starts.
  { cwd: projectRoot, stdio: "inherit", detached: true, env: { ...process.env, WRANGLER_SEND_METRICS: "false" } },
);

void reportConfiguration(`http://127.0.0.1:${WORKER_PORT}`);

const wranglerExited = new Promise<number>((resolve) => wrangler.on("exit", (code) => resolve(code ?? 0)));

/** Signals wrangler's whole process group (it and the workerd processes it started). */
function signalWrangler(signal: NodeJS.Signals): void {
  if (wrangler.exitCode !== null || wrangler.signalCode !== null) return;
  try {
    process.kill(-wrangler.pid!, signal);
  } catch {
    // already gone
  }
}

// However this process ends (Miniflare's own signal hook may call process.exit first, before `stop`
// has waited for wrangler), wrangler must not outlive it: nothing could stop it later, and it would
// keep the port. `stop` asks first (SIGINT, as Ctrl-C would; wrangler ignores SIGTERM); this is the
// last word, for a wrangler still running when this process exits.
process.on("exit", () => signalWrangler("SIGKILL"));

let stopping = false;
/** Stops wrangler (SIGKILL if it has not gone within 5 s), then the emulator. */
async function stop(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  signalWrangler("SIGINT");
  const exited = await Promise.race([
    wranglerExited.then(() => true),
    new Promise((resolve) => setTimeout(() => resolve(false), 5000)),
  ]);
  if (!exited) signalWrangler("SIGKILL");
  await emulator.dispose().catch(() => {});
  await receiver?.started.dispose().catch(() => {});
  process.exit(code);
}
process.on("SIGINT", () => void stop(0));
process.on("SIGTERM", () => void stop(0));
// `npm start` stopped with SIGTERM does not pass the signal on to this script: npm itself exits and
// this process is left behind. It notices its parent has gone and stops everything it started.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop(0);
}, 500).unref();
void wranglerExited.then((code) => stop(code));
