/**
 * `npm run setup`: from a fresh clone to a deployed, ready Worker in one command. Every step looks
 * first and acts only if something is not yet right, so a rerun changes nothing that is, and says
 * so, one line per step. Options: `npm run setup -- --help`.
 *
 * The order, and why:
 *   1. login        `wrangler whoami`: nothing else can work without it.
 *   2. config       wrangler.jsonc read (comments kept when written: setup-config.ts).
 *   3. secrets      `wrangler secret list`: what is set already is never asked for, and never put
 *                   again (ACCID_SECRET above all: it derives accids).
 *   4. inputs       what is still missing, from flags, the environment or questions (setup-inputs.ts).
 *   5. vars         written to wrangler.jsonc, only those that differ.
 *   6. preflight    scripts/deploy-preflight.ts: before anything is made on Cloudflare, so a
 *                   configuration it refuses leaves no namespace, secret or Worker behind.
 *   7. KV           the ACCOUNTS namespace found or created, and its id written.
 *   8. bundle       `wrangler deploy --dry-run`: what would be deployed, as a digest (setup-bundle.ts).
 *   9. secrets      each missing one put, its value on wrangler's stdin.
 *  10. deploy       only when something changed or the deployed version's tag is not this digest.
 *  11. readyz       the deployed Worker answers ready.
 *
 * Secrets before the deploy, not after, because in wrangler 4.156.2 (src/secret/index.ts):
 *   - `secret put` on a Worker that does not exist yet makes a placeholder Worker and puts the
 *     secret on it (createDraftWorker, which answers its own question "yes" when not interactive),
 *     so a first run works in this order;
 *   - `deploy` keeps every secret already set (deploy-helpers' deploy/deploy.ts: `keepSecrets: true`);
 *   - each `secret put` makes and deploys a new version, and a version made by a secret change
 *     carries no tag. Deploying last leaves the tagged version live, so the next run can tell that
 *     what is deployed is what it would deploy; putting after the deploy would leave an untagged
 *     version live, and every rerun would deploy again.
 * The real Worker so never runs without its secrets (it would refuse to serve, which is safe, but
 * needless).
 */

import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { deployTag } from "./setup-bundle.ts";
import {
  namespaceId,
  readWranglerFile,
  saveWranglerFile,
  setNamespaceId,
  setVars,
  varValue,
  type WranglerFile,
  workerName,
} from "./setup-config.ts";
import { type Gathered, gather, Prompter, parseOptions, USAGE } from "./setup-inputs.ts";
import {
  ENVIRONMENT_VARIABLES,
  isLoggedOut,
  isWorkerNotFound,
  loggedInAs,
  namespaceTitle,
  parseCreatedNamespaceId,
  parseDeployedUrl,
  parseNamespaces,
  parseSecretNames,
  parseServedVersion,
  parseVersionTag,
  runWrangler,
  SECRET_NAMES,
  SetupError,
  succeeded,
  wranglerEnv,
} from "./setup-wrangler.ts";

/** The KV binding of the account records. */
const ACCOUNTS_BINDING = "ACCOUNTS";
/** The git-ignored file a generated ADMIN_TOKEN is written to, beside the Wrangler file. */
const ADMIN_TOKEN_FILE = ".admin-token";
/** How long /readyz may take to say ready after a deploy (a new workers.dev name needs a moment). */
const READY_TIMEOUT_MS = 60_000;
const READY_POLL_MS = 2_000;

/** One line of output for one step. */
function say(step: string, what: string): void {
  console.log(`[setup] ${step}: ${what}`);
}

/** Runs wrangler and throws a SetupError showing its stderr unless it succeeded. */
async function wrangler(args: readonly string[], input?: string) {
  return succeeded(await runWrangler(args, input), args);
}

async function main(argv: readonly string[]): Promise<void> {
  const options = parseOptions(argv);
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const configPath = resolve(options.config ?? "wrangler.jsonc");
  const projectDir = dirname(configPath);
  const shown = relative(process.cwd(), configPath) || configPath;
  // Every wrangler command acts on this file, wherever setup runs from.
  const config = ["--config", configPath];
  let changed = false;

  const environment = ENVIRONMENT_VARIABLES.find((name) => process.env[name]);
  if (environment) {
    throw new SetupError(
      `${environment} is set: setup sets up the top level of the Wrangler file only. Unset it; for an ` +
        "environment, see docs/deploy.md (staging and production).",
    );
  }

  // 1. login
  const whoami = await runWrangler(["whoami"]);
  if (isLoggedOut(whoami)) {
    throw new SetupError(
      "wrangler is not logged in: run `npx wrangler login` (or set CLOUDFLARE_API_TOKEN), then rerun setup.",
    );
  }
  const who = loggedInAs(whoami.stdout);
  say("login", who ? `logged in as ${who}` : "logged in");

  // 2. config
  const file = readWranglerFile(configPath);
  const name = workerName(file);
  if (varValue(file, "NIM_APPS").trim()) {
    throw new SetupError(`${shown} sets NIM_APPS: setup sets up one app; for several, see docs/apps.md.`);
  }
  say("config", `${shown}, Worker "${name}"`);

  // 3. secrets already set
  const listed = await listedSecrets(config, name);

  // 4. inputs
  let prompter: Prompter | undefined;
  let gathered: Gathered;
  try {
    gathered = await gather({
      options,
      env: process.env,
      file,
      listed,
      asker: options.yes ? undefined : () => (prompter = new Prompter()),
    });
  } finally {
    prompter?.close();
  }
  say(
    "inputs",
    `app key ${gathered.vars.NIM_APP_KEY}, region ${gathered.vars.NIM_REGION}, sessions signed by ` +
      `${gathered.identity}, admin API ${gathered.admin ? "on" : "off (to turn it on: npm run setup -- --admin)"}`,
  );
  if (options.admin === false && listed.has("ADMIN_TOKEN")) {
    say(
      "admin",
      "ADMIN_TOKEN is set, so the admin API stays on (to turn it off: npx wrangler secret delete ADMIN_TOKEN)",
    );
  }

  // 5. vars
  const written = setVars(file, gathered.vars);
  if (saveWranglerFile(file)) changed = true;
  say("vars", written.length > 0 ? `wrote ${written.join(", ")} to ${shown}` : "already right");

  // 6. preflight
  preflight(configPath);
  say("preflight", "ok");

  // 7. KV
  if (await bindAccounts(file, config, name, shown)) changed = true;

  // 8. bundle
  const tag = await bundleTag(file, config);
  say("bundle", `built, ${tag}`);

  // 9. secrets
  const put = await putSecrets(gathered, listed, projectDir, config);

  // 10. deploy
  let deployedUrl: string | undefined;
  const why = put > 0 ? "secrets were set" : changed ? `${shown} changed` : await deployNeeded(config, tag);
  if (why === undefined) {
    say("deploy", `already deployed (${tag})`);
  } else {
    const result = await wrangler(["deploy", "--tag", tag, "--message", "npm run setup", ...config]);
    deployedUrl = parseDeployedUrl(result.stdout);
    say("deploy", `deployed ${tag} (${why})${deployedUrl ? ` to ${deployedUrl}` : ""}`);
  }

  // 11. readyz
  const url = (options.url ?? (process.env.WORKER_URL || undefined) ?? deployedUrl)?.replace(/\/+$/, "");
  if (url) {
    await waitReady(url);
    say("readyz", `ready (${url}/readyz)`);
  } else {
    const because = why === undefined ? "no deploy this time, so no URL" : "deploy printed no workers.dev URL";
    say(
      "readyz",
      `not checked (${because}): curl https://${name}.<your-subdomain>.workers.dev/readyz, or rerun with --url <url>`,
    );
  }
  if (gathered.admin) say("admin", adminLine(url, gathered, projectDir));

  say("done", why === undefined && !changed ? "everything was already right; nothing changed" : "set up");
}

/**
 * The secret names wrangler lists for the Worker; none when it does not exist yet. Any other failure
 * stops setup: taking a listing that failed for "none set" would put a new ACCID_SECRET over the one
 * that derives every accid.
 */
async function listedSecrets(config: readonly string[], name: string): Promise<Set<string>> {
  const args = ["secret", "list", "--format", "json", ...config];
  const result = await runWrangler(args);
  if (isWorkerNotFound(result)) {
    say("secrets", `none yet (no Worker "${name}" on this account)`);
    return new Set();
  }
  let names: string[];
  try {
    names = parseSecretNames(succeeded(result, args).stdout);
  } catch (error) {
    if (error instanceof SetupError) throw error;
    throw new SetupError(`could not read what \`wrangler ${args.join(" ")}\` printed: ${(error as Error).message}`);
  }
  say("secrets", names.length > 0 ? `set on Cloudflare: ${names.join(", ")}` : "none set yet");
  return new Set(names);
}

/** Runs the deploy preflight on the file setup wrote; throws with its problems when it refuses. */
function preflight(configPath: string): void {
  const script = fileURLToPath(new URL("./deploy-preflight.ts", import.meta.url));
  const result = spawnSync(process.execPath, [script], {
    encoding: "utf8",
    env: { ...wranglerEnv(), PREFLIGHT_CONFIG: configPath },
  });
  if (result.status !== 0) {
    const said = `${result.stderr ?? ""}${result.stdout ?? ""}`.trim().replace(/^/gm, "    ");
    throw new SetupError(`the deploy preflight refuses the configuration:\n${said}`);
  }
}

/**
 * Makes sure the ACCOUNTS binding names a namespace: the id in the file, else a namespace titled as
 * `wrangler deploy` would title it (reused if it exists), else a new one. Returns whether it wrote the file.
 */
async function bindAccounts(
  file: WranglerFile,
  config: readonly string[],
  name: string,
  shown: string,
): Promise<boolean> {
  const bound = namespaceId(file, ACCOUNTS_BINDING);
  if (bound) {
    say("KV namespace", `${ACCOUNTS_BINDING} already bound (${bound})`);
    return false;
  }
  const title = namespaceTitle(name, ACCOUNTS_BINDING);
  const find = async () =>
    parseNamespaces((await wrangler(["kv", "namespace", "list", ...config])).stdout).find((ns) => ns.title === title)
      ?.id;
  let id = await find();
  let how = "found";
  if (!id) {
    // --update-config=false: setup writes the id itself, into the existing entry, comments kept.
    const created = await wrangler(["kv", "namespace", "create", title, "--update-config=false", ...config]);
    id = parseCreatedNamespaceId(created.stdout) ?? (await find());
    how = "created";
  }
  if (!id) throw new SetupError(`wrangler created the KV namespace "${title}" but setup could not read its id.`);
  setNamespaceId(file, ACCOUNTS_BINDING, id);
  saveWranglerFile(file);
  say("KV namespace", `${how} "${title}" (${id}), id written to ${shown}`);
  return true;
}

/** Builds what a deploy would upload (in a temporary folder, removed after) and returns its digest as a tag. */
async function bundleTag(file: WranglerFile, config: readonly string[]): Promise<string> {
  const outdir = mkdtempSync(join(tmpdir(), "nim-setup-"));
  try {
    await wrangler(["deploy", "--dry-run", "--outdir", outdir, ...config]);
    const directory = file.config.assets?.directory;
    const assets = typeof directory === "string" ? resolve(dirname(file.path), directory) : undefined;
    return deployTag(outdir, assets, file.config);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Puts each gathered secret (none already listed), says which are already set, returns how many it put. */
async function putSecrets(
  gathered: Gathered,
  listed: ReadonlySet<string>,
  projectDir: string,
  config: readonly string[],
): Promise<number> {
  for (const name of gathered.needed) {
    if (listed.has(name)) say(`secret ${name}`, "already set");
  }
  for (const secret of gathered.secrets) {
    // Written before it is put: a token that was set but never saved could only be replaced.
    if (secret.name === "ADMIN_TOKEN") writeAdminToken(join(projectDir, ADMIN_TOKEN_FILE), secret.value);
    await wrangler(["secret", "put", secret.name, ...config], secret.value);
    say(`secret ${secret.name}`, secret.generated ? "generated and set" : "set");
  }
  return gathered.secrets.length;
}

/**
 * Why a deploy is needed when nothing changed in this run: the version the Worker serves does not
 * carry this digest as its tag (or nothing is deployed, or wrangler cannot say). Undefined: no need.
 */
async function deployNeeded(config: readonly string[], tag: string): Promise<string | undefined> {
  const status = await runWrangler(["deployments", "status", "--json", ...config]);
  if (status.status !== 0) return "nothing deployed yet";
  try {
    const version = parseServedVersion(status.stdout);
    if (!version) return "traffic is split between versions";
    const view = await runWrangler(["versions", "view", version, "--json", ...config]);
    if (view.status !== 0) return "the deployed version could not be read";
    const deployed = parseVersionTag(view.stdout);
    return deployed === tag
      ? undefined
      : deployed
        ? `the deployed version is ${deployed}`
        : "the deployed version is untagged";
  } catch {
    return "the deployed version could not be read";
  }
}

/** Writes a generated ADMIN_TOKEN readable by the user alone (the file is git-ignored). */
function writeAdminToken(path: string, token: string): void {
  // An older file may be readable by others: narrow it before the new token goes in.
  if (existsSync(path)) chmodSync(path, 0o600);
  writeFileSync(path, `${token}\n`, { mode: 0o600 });
}

/** Where the operator console is and where its token is, never the token. */
function adminLine(url: string | undefined, gathered: Gathered, projectDir: string): string {
  const console = `console at ${url ? `${url}/admin` : "<your Worker's URL>/admin"}`;
  const tokenFile = relative(process.cwd(), join(projectDir, ADMIN_TOKEN_FILE)) || ADMIN_TOKEN_FILE;
  if (gathered.secrets.some((secret) => secret.name === "ADMIN_TOKEN")) {
    return `${console}; its ADMIN_TOKEN was generated into ${tokenFile} (mode 0600, git-ignored; setup never prints it)`;
  }
  return existsSync(join(projectDir, ADMIN_TOKEN_FILE))
    ? `${console}; ADMIN_TOKEN was set earlier, see ${tokenFile}`
    : `${console}; ADMIN_TOKEN was set earlier, not by this checkout (to replace it: npx wrangler secret put ADMIN_TOKEN)`;
}

/** Polls `<url>/readyz` until it answers 200 with status "ready"; throws after READY_TIMEOUT_MS. */
async function waitReady(url: string): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = "no answer";
  for (;;) {
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(10_000) });
      const body = (await response.json().catch(() => undefined)) as { status?: unknown; failed?: unknown } | undefined;
      if (response.status === 200 && body?.status === "ready") return;
      const failed = Array.isArray(body?.failed) ? ` (failed: ${body.failed.join(", ")})` : "";
      last = `${response.status} ${String(body?.status ?? "")}${failed}`.trim();
    } catch (error) {
      // fetch says only "fetch failed"; its cause says why (ENOTFOUND, ECONNREFUSED, a timeout).
      const { cause, message } = error as Error & { cause?: { code?: unknown } };
      last = typeof cause?.code === "string" ? cause.code : message;
    }
    if (Date.now() + READY_POLL_MS > deadline) break;
    await sleep(READY_POLL_MS);
  }
  throw new SetupError(
    `${url}/readyz did not answer ready within ${READY_TIMEOUT_MS / 1000} s (last: ${last}). ` +
      (await settingsAtFault(url)) +
      "A new workers.dev name can take a few minutes: rerun setup with --url to check again.",
  );
}

/**
 * What `/healthz` names as missing or refused, with the command that mends a secret: setup never
 * puts a secret that is already set, so one set wrong (the button's placeholder, say) is replaced
 * by hand. The Worker refused to serve with it, so even a refused ACCID_SECRET derived no accid.
 */
async function settingsAtFault(url: string): Promise<string> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(10_000) });
    const { missing = [], invalid = [] } = (await response.json()) as { missing?: string[]; invalid?: string[] };
    const named = [...missing, ...invalid];
    if (named.length === 0) return "";
    const secrets = named.filter((name) => (SECRET_NAMES as readonly string[]).includes(name));
    const mend = secrets.map((name) => `npx wrangler secret put ${name}`).join("; ");
    return `/healthz names ${named.join(", ")}${mend ? `: replace with ${mend}` : ""}. `;
  } catch {
    return `${url}/healthz names any setting at fault. `;
  }
}

main(process.argv.slice(2)).catch((error: unknown) => {
  console.error(
    error instanceof SetupError ? `[setup] ${error.message}` : `[setup] unexpected: ${(error as Error).stack}`,
  );
  process.exitCode = 1;
});
