/**
 * How `npm run setup` talks to wrangler: every call goes through `runWrangler`, which spawns the
 * `wrangler` found on PATH (npm puts node_modules/.bin first for an npm script; the end-to-end test
 * puts its recording stand-in first), and the parsers below read what wrangler 4.156.2 prints. Each
 * parser names where in wrangler's source (node_modules/wrangler/wrangler-dist/cli.js) its format
 * comes from, so an upgrade that changes one is a known place to look.
 *
 * No secret ever reaches wrangler's command line or environment: a secret's value goes to the
 * stdin of `wrangler secret put`, which reads stdin to its end when it is not a TTY. So wrangler's
 * own output, shown when it fails, cannot hold one either.
 */

import { spawn } from "node:child_process";
import { stripVTControlCharacters } from "node:util";

/** A failure setup reports as it is and exits 1 on: its message says what to do. */
export class SetupError extends Error {}

/** The secrets setup may hold: never passed to a child process other than on a stdin. */
export const SECRET_NAMES = ["NIM_APP_SECRET", "SESSION_JWT_SECRET", "ACCID_SECRET", "ADMIN_TOKEN"] as const;
/** One of the secrets setup puts. */
export type SecretName = (typeof SECRET_NAMES)[number];

/** What a wrangler call did: its exit status and its output, without colour codes. */
export interface WranglerResult {
  status: number;
  stdout: string;
  stderr: string;
}

/**
 * The environment wrangler runs in: setup's own, less every secret (under `--yes` they arrive in
 * setup's environment, and a child's environment can be read by other processes of the user), less
 * debug logging and any Wrangler environment, with metrics off.
 */
export function wranglerEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  // WRANGLER_LOG=debug with sanitizing off prints `secret put`'s request body, the value included.
  const child: NodeJS.ProcessEnv = { ...env, WRANGLER_SEND_METRICS: "false", WRANGLER_LOG_SANITIZE: "true" };
  for (const name of [...SECRET_NAMES, "WRANGLER_LOG", ...ENVIRONMENT_VARIABLES]) delete child[name];
  return child;
}

/**
 * What would point wrangler at a Wrangler environment: setup sets up the top level only (it reads
 * and writes the top-level name, vars and KV id), so it refuses to run with one set.
 */
export const ENVIRONMENT_VARIABLES = ["CLOUDFLARE_ENV", "WRANGLER_ENV"] as const;

/**
 * Runs `wrangler <args>` and resolves with what it did, whatever its exit status. `input`, when
 * given, is written to its stdin and the stream closed (how a secret reaches `secret put`);
 * otherwise stdin is closed from the start, so wrangler knows it cannot ask anything.
 */
export function runWrangler(args: readonly string[], input?: string): Promise<WranglerResult> {
  return new Promise((resolve, reject) => {
    const child = spawn("wrangler", args, {
      env: wranglerEnv(),
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    child.stdout?.on("data", (chunk: Buffer) => stdout.push(chunk));
    child.stderr?.on("data", (chunk: Buffer) => stderr.push(chunk));
    child.on("error", (error: NodeJS.ErrnoException) => {
      reject(
        new SetupError(
          error.code === "ENOENT"
            ? "wrangler is not on PATH: run setup as `npm run setup` (npm puts node_modules/.bin on PATH), after `npm ci`."
            : `could not start wrangler: ${error.message}`,
        ),
      );
    });
    child.on("close", (code) => {
      resolve({
        status: code ?? 1,
        stdout: stripVTControlCharacters(Buffer.concat(stdout).toString("utf8")),
        stderr: stripVTControlCharacters(Buffer.concat(stderr).toString("utf8")),
      });
    });
    if (input !== undefined && child.stdin) {
      // wrangler may exit before reading (a failed login check): its status says so, not EPIPE.
      child.stdin.on("error", () => {});
      child.stdin.end(input);
    }
  });
}

/** `result` if wrangler succeeded, else a SetupError naming the command and showing wrangler's stderr. */
export function succeeded(result: WranglerResult, args: readonly string[]): WranglerResult {
  if (result.status === 0) return result;
  const said = (result.stderr.trim() || result.stdout.trim()).replace(/^/gm, "    ");
  throw new SetupError(`\`wrangler ${args.join(" ")}\` failed (exit ${result.status}):\n${said}`);
}

/**
 * `wrangler whoami` without `--json` exits 0 even when logged out, saying so on stdout
 * (src/user/whoami.ts: "You are not authenticated. Please run `wrangler login`.").
 */
export function isLoggedOut(result: WranglerResult): boolean {
  return result.status !== 0 || /You are not authenticated/.test(result.stdout);
}

/**
 * Who `wrangler whoami` says is logged in (src/user/whoami.ts, printUserEmail: "… associated with
 * the email <email>." or, for an account token, "… associated with the account <name>."), if it says.
 */
export function loggedInAs(stdout: string): string | undefined {
  return /associated with the (?:email|account) (.+?)\.?$/m.exec(stdout)?.[1];
}

/**
 * The JSON document a `--json` (or `--format json`, or `kv namespace list`) command prints: those
 * print no banner (their `printBanner` is false), but a warning may still come first, so parsing
 * starts at the first line that opens an array or an object. Throws when there is none.
 */
export function parseJsonOutput(stdout: string): unknown {
  const start = /^[[{]/m.exec(stdout);
  if (!start) throw new SyntaxError("no JSON in wrangler's output");
  return JSON.parse(stdout.slice(start.index));
}

/**
 * The secret names `wrangler secret list --format json` prints (src/secret/index.ts,
 * secretListCommand: `JSON.stringify(secrets, null, "  ")` of the API's `[{name, type}]`).
 */
export function parseSecretNames(stdout: string): string[] {
  const list = parseJsonOutput(stdout);
  if (!Array.isArray(list)) throw new SyntaxError("`secret list` did not print a list");
  return list.flatMap((entry: unknown) => {
    const name = (entry as { name?: unknown } | null)?.name;
    return typeof name === "string" ? [name] : [];
  });
}

/**
 * Whether `wrangler secret list` failed because the Worker does not exist yet (src/secret/index.ts:
 * `Worker "<name>" not found.` then "If this is a new Worker, run `wrangler deploy` first…"): a first
 * run, with no secret set. Any other failure is a failure.
 */
export function isWorkerNotFound(result: WranglerResult): boolean {
  return result.status !== 0 && /Worker "[^"]*"(?: \(env: [^)]*\))? not found\./.test(result.stderr);
}

/** One KV namespace as `wrangler kv namespace list` prints it (src/kv/index.ts: the API's objects). */
export interface KvNamespace {
  id: string;
  title: string;
}

/** The namespaces `wrangler kv namespace list` prints: `JSON.stringify(allNamespaces, null, "  ")`. */
export function parseNamespaces(stdout: string): KvNamespace[] {
  const list = parseJsonOutput(stdout);
  if (!Array.isArray(list)) throw new SyntaxError("`kv namespace list` did not print a list");
  return list.filter(
    (entry: unknown): entry is KvNamespace =>
      typeof (entry as KvNamespace | null)?.id === "string" && typeof (entry as KvNamespace).title === "string",
  );
}

/**
 * The name setup gives the namespace of a KV binding: the one `wrangler deploy` gives a namespace it
 * provisions for a binding without an id (autoProvisionedResourceName: `<worker>-<binding in lower
 * case, _ → ->`), so a namespace an earlier id-less deploy (or the Deploy to Cloudflare button)
 * created is found and reused, not duplicated. `wrangler kv namespace create <name>` titles it
 * exactly `<name>` (src/kv/index.ts: `${env}-` only with --env, `_preview` only with --preview).
 */
export function namespaceTitle(workerName: string, binding: string): string {
  return `${workerName}-${binding.toLowerCase().replaceAll("_", "-")}`;
}

/**
 * The id `wrangler kv namespace create` prints in its config snippet (createdResourceConfig:
 * `formatConfigSnippet`, JSON for a wrangler.json(c) — `"id": "<32 hex>"` — and TOML otherwise).
 */
export function parseCreatedNamespaceId(stdout: string): string | undefined {
  return /^\s*"?id"?\s*[:=]\s*"([0-9a-f]{32})"/m.exec(stdout)?.[1];
}

/**
 * The Worker's URL in `wrangler deploy`'s output: the targets follow "Deployed <name> triggers
 * (<time>)", one per line as `logger.log(" ", target)` prints them (two spaces, then the target),
 * and only workers.dev targets carry a scheme (deploy-helpers' triggers/deploy.ts prepends
 * `"https://"` to those alone; routes and custom domains print bare). A workers.dev URL is
 * preferred; else the first URL.
 */
export function parseDeployedUrl(stdout: string): string | undefined {
  const lines = stdout.split(/\r?\n/);
  const start = lines.findIndex((line) => /^Deployed \S+ triggers/.test(line));
  if (start < 0) return undefined;
  const urls: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!/^\s/.test(line)) break;
    const url = /^\s+(https?:\/\/\S+)\s*$/.exec(line)?.[1];
    if (url) urls.push(url.replace(/\/+$/, ""));
  }
  return urls.find((url) => /\.workers\.dev$/.test(url)) ?? urls[0];
}

/**
 * The version a Worker serves, from `wrangler deployments status --json` (src/versions/deployments/
 * status.ts: `JSON.stringify(latestDeployment, null, 2)`, the API's `{versions: [{version_id,
 * percentage}], …}`): its one version at 100%, or undefined while a gradual deployment splits traffic.
 */
export function parseServedVersion(stdout: string): string | undefined {
  const deployment = parseJsonOutput(stdout) as { versions?: { version_id?: unknown; percentage?: unknown }[] };
  const versions = Array.isArray(deployment?.versions) ? deployment.versions : [];
  const [only] = versions;
  return versions.length === 1 && only?.percentage === 100 && typeof only.version_id === "string"
    ? only.version_id
    : undefined;
}

/**
 * A version's tag, from `wrangler versions view <id> --json` (src/versions/view.ts:
 * `JSON.stringify(version, null, 2)`, where `annotations["workers/tag"]` is what `deploy --tag` set).
 * A version made by a secret change has none: the API does not carry annotations over.
 */
export function parseVersionTag(stdout: string): string | undefined {
  const version = parseJsonOutput(stdout) as { annotations?: Record<string, unknown> };
  const tag = version?.annotations?.["workers/tag"];
  return typeof tag === "string" ? tag : undefined;
}
