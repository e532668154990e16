/**
 * A recording stand-in for wrangler 4.156.2, for `npm run setup`'s end-to-end test. It answers the
 * commands setup runs with the stdout, stderr and exit status real wrangler gives (each modelled on
 * node_modules/wrangler/wrangler-dist/cli.js; the function names below are wrangler's), keeps the
 * account's state (KV namespaces, the Worker's secret names, versions and deployments) in the JSON
 * file $STANDIN_STATE, and appends one JSON line per call to $STANDIN_LOG: the argv, whether stdin
 * was a TTY, the hashes of the environment's values and, for `secret put`, the secret's name with
 * its value's length and SHA-256, never the value itself.
 *
 * `deploy --dry-run` is handed to the real wrangler ($STANDIN_NODE $STANDIN_REAL_WRANGLER), so the
 * bundle setup digests is real. A real `deploy` records its tag and prints the Worker's URL as
 * wrangler does, pointing at $STANDIN_WORKER_URL (the test's local /readyz server).
 *
 * Plain JavaScript: it runs on whichever `node` is first on PATH.
 */

import { spawnSync } from "node:child_process";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { appendFileSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "jsonc-parser";

const VERSION = "4.156.2";
const EMAIL = "developer@example.com";
const ACCOUNT_ID = "0123456789abcdef0123456789abcdef";
const VALUE_FLAGS = new Set(["config", "c", "outdir", "tag", "message", "format", "name", "env", "e", "binding"]);

const argv = process.argv.slice(2);
const { words, flags } = parseArgv(argv);
const statePath = required("STANDIN_STATE");
const state = existsSync(statePath)
  ? JSON.parse(readFileSync(statePath, "utf8"))
  : { loggedIn: true, namespaces: [], workers: {} };
const record = {
  argv,
  cwd: process.cwd(),
  stdinIsTTY: Boolean(process.stdin.isTTY),
  sendMetrics: process.env.WRANGLER_SEND_METRICS,
  envHashes: Object.values(process.env)
    .filter((value) => typeof value === "string" && value.length >= 8)
    .map(sha256),
};

process.exitCode = run(words.join(" "));
appendFileSync(required("STANDIN_LOG"), `${JSON.stringify(record)}\n`);
writeFileSync(statePath, JSON.stringify(state, null, 2));

/** Runs one command; returns its exit status. */
function run(command) {
  if (command === "whoami") return whoami();
  if (command === "kv namespace list") return kvNamespaceList();
  if (command.startsWith("kv namespace create")) return kvNamespaceCreate(words[3]);
  if (command === "secret list") return secretList();
  if (command.startsWith("secret put")) return secretPut(words[2]);
  if (command === "deployments status") return deploymentsStatus();
  if (command.startsWith("versions view")) return versionsView(words[2]);
  if (command === "deploy") return flags["dry-run"] ? dryRun() : deploy();
  return fail(`Unknown arguments: ${argv.join(" ")}`);
}

/** src/user/whoami.ts: exits 0 either way; logged out, it says so. */
function whoami() {
  banner();
  out("Getting User settings...");
  if (!state.loggedIn) {
    out("You are not authenticated. Please run `wrangler login`.");
    out(
      "To deploy without logging in, run a command like `wrangler deploy --temporary` to use a temporary preview account.",
    );
    return 0;
  }
  out(`👋 You are logged in with an OAuth Token, associated with the email ${EMAIL}.`);
  out("🔐 Credentials are stored in: /root/.config/.wrangler/config/default.toml");
  out("┌────────────────────────────┬──────────────────────────────────┐");
  out("│ Account Name               │ Account ID                       │");
  out("├────────────────────────────┼──────────────────────────────────┤");
  out(`│ developer@example.com's Account │ ${ACCOUNT_ID} │`);
  out("└────────────────────────────┴──────────────────────────────────┘");
  return 0;
}

/** src/kv/index.ts, kvNamespaceListCommand: no banner, `JSON.stringify(allNamespaces, null, "  ")`. */
function kvNamespaceList() {
  const list = [...state.namespaces].sort((a, b) => a.title.localeCompare(b.title));
  out(JSON.stringify(list, null, "  "));
  return 0;
}

/** src/kv/index.ts, kvNamespaceCreateCommand, then createdResourceConfig's snippet for a JSON config. */
function kvNamespaceCreate(namespace) {
  banner();
  if (!namespace) return fail("Not enough non-option arguments: got 0, need at least 1");
  const title = `${flags.env ? `${flags.env}-` : ""}${namespace}${flags.preview ? "_preview" : ""}`;
  out("Resource location: remote \n");
  out(`🌀 Creating namespace with title "${title}"`);
  if (state.namespaces.some((ns) => ns.title === title)) {
    return fail(
      `A KV namespace with the title "${title}" already exists.\n\nYou can list existing namespaces with their IDs by running:\n  wrangler kv namespace list\n\nOr choose a different namespace name.`,
    );
  }
  const id = createNamespace(title);
  out("✨ Success!");
  out("To access your new KV Namespace in your Worker, add the following snippet to your configuration file:");
  out(JSON.stringify({ kv_namespaces: [{ binding: getValidBindingName(namespace, "KV"), id }] }, null, 2));
  if (flags["update-config"] === undefined && flags.binding === undefined) {
    // confirm2 outside a TTY: the fallback answer, no.
    out("? Would you like Wrangler to add it on your behalf?");
    out("🤖 Using fallback value in non-interactive context: no");
  }
  return 0;
}

/** src/secret/index.ts, secretListCommand: JSON without a banner; a Worker not found is an error. */
function secretList() {
  const name = scriptName();
  const worker = state.workers[name];
  if (!worker) {
    return fail(
      `Worker "${name}" not found.\n\nIf this is a new Worker, run \`wrangler deploy\` first to create it.\nOtherwise, check that the Worker name is correct and you're logged into the right account.`,
    );
  }
  const secrets = worker.secrets.map((secret) => ({ name: secret, type: "secret_text" }));
  if (flags.format === "pretty") {
    banner();
    for (const secret of secrets) out(`Secret Name: ${secret.name}\n`);
  } else out(JSON.stringify(secrets, null, "  "));
  return 0;
}

/**
 * src/secret/index.ts, secretPutCommand: outside a TTY the value is all of stdin, trailing white
 * space trimmed (readFromStdin, trimTrailingWhitespace); a Worker that does not exist is created as
 * a placeholder first (createDraftWorker, "yes" outside a TTY); every put makes and deploys a new
 * version, triggered by "secret", with no tag.
 */
function secretPut(key) {
  banner();
  const name = scriptName();
  if (process.stdin.isTTY) return fail("stand-in: secret put would prompt for the value on a TTY");
  const value = readFileSync(0, "utf8").trimEnd();
  record.secret = { name: key, length: value.length, sha256: sha256(value) };
  out(`🌀 Creating the secret for the Worker "${name}" `);
  let worker = state.workers[name];
  if (!worker) {
    out(
      `? There doesn't seem to be a Worker called "${name}". Do you want to create a new Worker with that name and add secrets to it?`,
    );
    out("🤖 Using fallback value in non-interactive context: yes");
    out(`🌀 Creating new Worker "${name}"...`);
    worker = createWorker(name);
    addVersion(worker, { "workers/triggered_by": "upload" });
  }
  if (!worker.secrets.includes(key)) worker.secrets.push(key);
  addVersion(worker, { "workers/triggered_by": "secret" });
  out(`✨ Success! Uploaded secret ${key}`);
  return 0;
}

/** src/versions/deployments/status.ts: `JSON.stringify(latestDeployment, null, 2)` with --json. */
function deploymentsStatus() {
  const name = scriptName();
  const worker = state.workers[name];
  if (!worker) {
    return fail(
      `A request to the Cloudflare API (/accounts/${ACCOUNT_ID}/workers/scripts/${name}/deployments) failed.\n\nThis Worker does not exist on your account. [code: 10007]`,
    );
  }
  const [latest] = worker.deployments;
  if (!latest) return fail(`The Worker ${name} has no deployments.`);
  if (!flags.json) return fail("stand-in: only --json is modelled");
  out(JSON.stringify(latest, null, 2));
  return 0;
}

/** src/versions/view.ts: `JSON.stringify(version, null, 2)` with --json. */
function versionsView(versionId) {
  const name = scriptName();
  const version = state.workers[name]?.versions.find((candidate) => candidate.id === versionId);
  if (!version) {
    return fail(
      `A request to the Cloudflare API (/accounts/${ACCOUNT_ID}/workers/scripts/${name}/versions/${versionId}) failed.\n\nVersion not found. [code: 10221]`,
    );
  }
  if (!flags.json) return fail("stand-in: only --json is modelled");
  out(JSON.stringify(version, null, 2));
  return 0;
}

/** The real wrangler builds the bundle: setup digests what it writes to --outdir. */
function dryRun() {
  const result = spawnSync(required("STANDIN_NODE"), [required("STANDIN_REAL_WRANGLER"), ...argv], {
    stdio: "inherit",
  });
  return result.status ?? 1;
}

/**
 * deploy-helpers' deploy/deploy.ts: a KV binding without an id gets a namespace titled
 * `<worker>-<binding>` (provisionBindings, autoProvisionedResourceName; found or created); the
 * version carries --tag and --message as its annotations; the targets follow "Deployed <name>
 * triggers" (triggers/deploy.ts), a workers.dev one with its scheme.
 */
function deploy() {
  banner();
  const config = readConfig();
  const name = scriptName(config);
  for (const kv of config.kv_namespaces ?? []) {
    if (kv.id) continue;
    const title = `${name}-${kv.binding.toLowerCase().replaceAll("_", "-")}`;
    out(`Provisioning ${kv.binding} (KV Namespace)...`);
    out(`🌀 Creating new KV Namespace "${title}"...`);
    if (!state.namespaces.some((ns) => ns.title === title)) createNamespace(title);
    out(`✨ ${kv.binding} provisioned 🎉`);
  }
  out("🌀 Building list of assets...");
  out("✨ Read 4 files from the assets directory console");
  out("🌀 Starting asset upload...");
  out("No updated asset files to upload. Proceeding with deployment...");
  out("Total Upload: 244.83 KiB / gzip: 60.05 KiB");
  out("Your Worker has access to the following bindings:");
  out("Binding                                     Resource");
  out("env.ACCOUNTS                                KV Namespace");
  const worker = state.workers[name] ?? createWorker(name);
  const annotations = { "workers/triggered_by": "upload" };
  if (flags.tag) annotations["workers/tag"] = flags.tag;
  if (flags.message) annotations["workers/message"] = flags.message;
  const version = addVersion(worker, annotations);
  out(`Uploaded ${name} (2.51 sec)`);
  out(`Deployed ${name} triggers (0.84 sec)`);
  out(`  ${process.env.STANDIN_WORKER_URL ?? `https://${name}.standin.workers.dev`}`);
  out(`Current Version ID: ${version.id}`);
  return 0;
}

function createWorker(name) {
  const worker = { secrets: [], versions: [], deployments: [] };
  state.workers[name] = worker;
  return worker;
}

function createNamespace(title) {
  const id = randomBytes(16).toString("hex");
  state.namespaces.push({ id, title, supports_url_encoding: true });
  return id;
}

/** A new version, deployed at once to all traffic (the newest deployment first, as the API lists them). */
function addVersion(worker, annotations) {
  const now = new Date().toISOString();
  const version = {
    id: randomUUID(),
    number: worker.versions.length + 1,
    metadata: { created_on: now, modified_on: now, source: "wrangler", author_id: "standin", author_email: EMAIL },
    annotations,
    resources: { script: { handlers: ["fetch"] }, script_runtime: {}, bindings: [] },
  };
  worker.versions.push(version);
  worker.deployments.unshift({
    id: randomUUID(),
    source: "wrangler",
    strategy: "percentage",
    author_email: EMAIL,
    created_on: now,
    annotations: { "workers/triggered_by": annotations["workers/triggered_by"] },
    versions: [{ version_id: version.id, percentage: 100 }],
  });
  return version;
}

/** src/utils/getValidBindingName.ts. */
function getValidBindingName(name, fallback) {
  let binding = name
    .replace(/[\s-]/g, "_")
    .replace(/[^a-zA-Z0-9_]/g, "")
    .replace(/_+/g, "_");
  if (/^[0-9]/.test(binding)) binding = `_${binding}`;
  return !binding.length || /^_+$/.test(binding) ? fallback : binding;
}

/** The Wrangler file wrangler would read: --config, else wrangler.json or wrangler.jsonc here. */
function readConfig() {
  const path = flags.config ?? flags.c ?? ["wrangler.json", "wrangler.jsonc"].find((file) => existsSync(file));
  return path ? parse(readFileSync(resolve(path), "utf8")) : {};
}

/** getLegacyScriptName: --name, else the config's name. */
function scriptName(config = readConfig()) {
  return flags.name ?? config.name;
}

/** printWranglerBanner without colour. */
function banner() {
  const text = ` ⛅️ wrangler ${VERSION}`;
  out(`\n${text}\n${"─".repeat(text.length)}`);
}

/** A UserError as wrangler's logger prints it (without colour), exit status 1. */
function fail(message) {
  const [first, ...rest] = message.split("\n");
  process.stderr.write(`\n✘ [ERROR] ${first}\n${rest.map((line) => (line ? `  ${line}` : "")).join("\n")}\n\n`);
  return 1;
}

function out(line) {
  process.stdout.write(`${line}\n`);
}

function sha256(text) {
  return createHash("sha256").update(text).digest("hex");
}

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`the wrangler stand-in needs ${name}`);
  return value;
}

/** wrangler's arguments: the command's words, and --flag, --flag value, --flag=value, --no-flag. */
function parseArgv(args) {
  const found = { words: [], flags: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("-")) {
      found.words.push(arg);
      continue;
    }
    const bare = arg.replace(/^--?/, "");
    const eq = bare.indexOf("=");
    if (eq >= 0) {
      const value = bare.slice(eq + 1);
      found.flags[bare.slice(0, eq)] = value === "false" ? false : value === "true" ? true : value;
    } else if (VALUE_FLAGS.has(bare)) {
      found.flags[bare] = args[++i];
    } else if (bare.startsWith("no-")) {
      found.flags[bare.slice(3)] = false;
    } else {
      found.flags[bare] = true;
    }
  }
  return found;
}
