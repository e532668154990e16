/**
 * `npm run setup` end to end (scripts/setup.ts), in a copy of the project (the repository's own
 * wrangler.jsonc is never touched), against test/node/wrangler-standin: a recording stand-in for
 * wrangler 4.156.2 that keeps an account's state in a file, answers as wrangler does and hands
 * `deploy --dry-run` to the real wrangler, so the bundle setup digests is real. A local server plays
 * the deployed Worker's /readyz. Secrets are checked by hash: the stand-in never stores a value.
 */

import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "jsonc-parser";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  isLoggedOut,
  isWorkerNotFound,
  loggedInAs,
  parseCreatedNamespaceId,
  parseDeployedUrl,
  parseSecretNames,
  parseServedVersion,
  parseVersionTag,
} from "../../scripts/setup-wrangler.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const STANDIN_DIR = join(ROOT, "test/node/wrangler-standin");
const REAL_WRANGLER = join(ROOT, "node_modules/wrangler/bin/wrangler.js");
/** What setup reads from its environment: never inherited from the developer's shell here. */
const SETUP_VARIABLES = [
  "NIM_APP_KEY",
  "NIM_REGION",
  "SESSION_PROVIDER",
  "SESSION_OIDC_ISSUER",
  "SESSION_JWT_AUDIENCE",
  "SESSION_AUTHORIZED_PARTIES",
  "NIM_APP_SECRET",
  "SESSION_JWT_SECRET",
  "ACCID_SECRET",
  "ADMIN_TOKEN",
  "SETUP_ADMIN",
  "WORKER_URL",
  "WRANGLER_SEND_METRICS",
  "WRANGLER_ENV",
  "CLOUDFLARE_ENV",
];
/** The values a user gives; what setup generates (ACCID_SECRET, ADMIN_TOKEN) is checked by the stand-in's hashes. */
const APP_SECRET = "a1b2c3d4e5f6";
const SESSION_SECRET = "hs256-session-secret-of-our-backend-0123";

/** One call the stand-in recorded. */
interface Call {
  argv: string[];
  stdinIsTTY: boolean;
  sendMetrics: string | undefined;
  envHashes: string[];
  secret?: { name: string; length: number; sha256: string };
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

/** A call as a command: its words, and `--dry-run` when it is one (`deploy --dry-run` vs `deploy`). */
function commandOf(call: Call): string {
  const firstFlag = call.argv.findIndex((arg) => arg.startsWith("-"));
  const words = firstFlag < 0 ? call.argv : call.argv.slice(0, firstFlag);
  return `${words.join(" ")}${call.argv.includes("--dry-run") ? " --dry-run" : ""}`;
}

/** Whether `text` holds a token whose SHA-256 is one of `hashes` (a secret we only know by hash). */
function holdsHashed(text: string, hashes: ReadonlySet<string>): boolean {
  return (text.match(/[A-Za-z0-9+/=_-]{12,}/g) ?? []).some((token) => hashes.has(sha256(token)));
}

/** A copy of the project with an account of its own (the stand-in's state) and its call log. */
class Sandbox {
  readonly dir: string;
  readonly log: string;
  readonly state: string;
  readonly originalConfig: string;

  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), "setup-test-"));
    for (const path of ["wrangler.jsonc", "package.json", "tsconfig.json", "src", "console", "scripts"]) {
      cpSync(join(ROOT, path), join(this.dir, path), { recursive: true });
    }
    // src imports the client package's contract; wrangler bundles it from there.
    mkdirSync(join(this.dir, "packages/client"), { recursive: true });
    cpSync(join(ROOT, "packages/client/src"), join(this.dir, "packages/client/src"), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(this.dir, "node_modules"), "dir");
    this.log = join(this.dir, "standin-log.jsonl");
    this.state = join(this.dir, "standin-state.json");
    this.originalConfig = readFileSync(join(this.dir, "wrangler.jsonc"), "utf8");
  }

  get config(): string {
    return readFileSync(join(this.dir, "wrangler.jsonc"), "utf8");
  }

  calls(): Call[] {
    if (!existsSync(this.log)) return [];
    return readFileSync(this.log, "utf8")
      .trim()
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as Call);
  }

  account(): { namespaces: { id: string; title: string }[]; loggedIn: boolean } {
    return JSON.parse(readFileSync(this.state, "utf8"));
  }

  /** The account as the stand-in starts it, but logged out. */
  logOut(): void {
    writeFileSync(this.state, JSON.stringify({ loggedIn: false, namespaces: [], workers: {} }));
  }

  /** Runs setup here, its stdin fed `input` and then closed; async, so the /readyz server can answer meanwhile. */
  run(args: string[], env: Record<string, string>, input = ""): Promise<Run> {
    const base = { ...process.env };
    for (const name of SETUP_VARIABLES) delete base[name];
    return new Promise((resolve) => {
      const child = spawn(process.execPath, ["scripts/setup.ts", ...args], {
        cwd: this.dir,
        env: {
          ...base,
          PATH: [STANDIN_DIR, join(ROOT, "node_modules/.bin"), process.env.PATH].join(delimiter),
          STANDIN_LOG: this.log,
          STANDIN_STATE: this.state,
          STANDIN_NODE: process.execPath,
          STANDIN_REAL_WRANGLER: REAL_WRANGLER,
          STANDIN_WORKER_URL: workerUrl,
          ...env,
        },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => {
        stdout += chunk.toString("utf8");
      });
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString("utf8");
      });
      child.on("close", (status) => resolve({ status, stdout, stderr }));
      child.stdin.end(input);
    });
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

let server: Server;
let workerUrl = "";
let readyzHits = 0;
const sandboxes: Sandbox[] = [];
const sandbox = (): Sandbox => {
  const made = new Sandbox();
  sandboxes.push(made);
  return made;
};

beforeAll(async () => {
  server = createServer((request, response) => {
    if (request.url === "/readyz") readyzHits++;
    response.writeHead(request.url === "/readyz" ? 200 : 404, { "content-type": "application/json" });
    response.end(JSON.stringify(request.url === "/readyz" ? { status: "ready", failed: [] } : { error: "not_found" }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  workerUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  for (const made of sandboxes) made.remove();
});

describe("npm run setup", { timeout: 120_000 }, () => {
  describe("with --yes, twice, then a real dry run of what it wrote", () => {
    const box = sandbox();
    const env = { NIM_APP_KEY: "abc123def456", NIM_REGION: "sg", SETUP_ADMIN: "1" };
    const secrets = { NIM_APP_SECRET: APP_SECRET, SESSION_JWT_SECRET: SESSION_SECRET };
    let firstCalls = 0;

    it("(a) does every step once, from environment values alone, and never shows a secret", async () => {
      const run = await box.run(["--yes"], { ...env, ...secrets });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const calls = box.calls();
      firstCalls = calls.length;
      const commands = calls.map(commandOf);
      expect(commands).toEqual([
        "whoami",
        "secret list",
        "kv namespace list",
        "kv namespace create nim-token-worker-accounts",
        "deploy --dry-run",
        "secret put NIM_APP_SECRET",
        "secret put SESSION_JWT_SECRET",
        "secret put ACCID_SECRET",
        "secret put ADMIN_TOKEN",
        "deploy",
      ]);
      const deploy = calls.at(-1)!;
      expect(deploy.argv[deploy.argv.indexOf("--tag") + 1]).toMatch(/^setup-[0-9a-f]{32}$/);

      // Each secret reached wrangler on stdin (not a TTY), as given or as generated.
      const put = Object.fromEntries(calls.filter((call) => call.secret).map((call) => [call.secret!.name, call]));
      expect(Object.values(put).every((call) => !call.stdinIsTTY)).toBe(true);
      expect(put.NIM_APP_SECRET!.secret!.sha256).toBe(sha256(APP_SECRET));
      expect(put.SESSION_JWT_SECRET!.secret!.sha256).toBe(sha256(SESSION_SECRET));
      expect(put.ACCID_SECRET!.secret!.length).toBe(64); // 48 random bytes, base64
      const tokenFile = join(box.dir, ".admin-token");
      const adminToken = readFileSync(tokenFile, "utf8").trim();
      expect(adminToken).toMatch(/^[A-Za-z0-9_-]{43}$/); // 32 random bytes, base64url
      expect(put.ADMIN_TOKEN!.secret!.sha256).toBe(sha256(adminToken));
      expect(statSync(tokenFile).mode & 0o777).toBe(0o600);

      // No secret on a command line, in wrangler's environment or in setup's output.
      const hashes = new Set(Object.values(put).map((call) => call.secret!.sha256));
      for (const call of calls) {
        expect(call.sendMetrics).toBe("false");
        const given = [APP_SECRET, SESSION_SECRET];
        expect(call.argv.some((arg) => holdsHashed(arg, hashes) || given.some((value) => arg.includes(value)))).toBe(
          false,
        );
        expect(call.envHashes.filter((hash) => hashes.has(hash))).toEqual([]);
      }
      const output = `${run.stdout}${run.stderr}`;
      expect(holdsHashed(output, hashes)).toBe(false);
      for (const value of [APP_SECRET, SESSION_SECRET, adminToken]) expect(output).not.toContain(value);

      // wrangler.jsonc: every comment kept; the namespace's id and the vars written.
      for (const line of box.originalConfig.split("\n").filter((line) => line.trim().startsWith("//"))) {
        expect(box.config).toContain(line);
      }
      const config = parse(box.config) as {
        vars: Record<string, string>;
        kv_namespaces: { binding: string; id?: string }[];
      };
      const namespace = box.account().namespaces.find((ns) => ns.title === "nim-token-worker-accounts");
      expect(config.kv_namespaces).toEqual([{ binding: "ACCOUNTS", id: namespace!.id }]);
      expect(config.vars).toMatchObject({ NIM_APP_KEY: "abc123def456", NIM_REGION: "sg", SESSION_PROVIDER: "" });

      // Deployed and ready, the console's address and the token's whereabouts said.
      expect(readyzHits).toBeGreaterThan(0);
      expect(run.stdout).toContain(`deployed ${deploy.argv[deploy.argv.indexOf("--tag") + 1]}`);
      expect(run.stdout).toContain(`ready (${workerUrl}/readyz)`);
      expect(run.stdout).toContain(`console at ${workerUrl}/admin`);
      expect(run.stdout).toContain("generated into .admin-token");
    });

    it("(b) a second run with the same inputs changes nothing and says so", async () => {
      const before = { text: box.config, mtime: statSync(join(box.dir, "wrangler.jsonc")).mtimeMs };
      const run = await box.run(["--yes"], { ...env, ...secrets });
      expect(run.stderr).toBe("");
      expect(run.status).toBe(0);
      const commands = box.calls().slice(firstCalls).map(commandOf);
      // Only looks: nothing created, put or deployed.
      expect(commands).toEqual([
        "whoami",
        "secret list",
        "deploy --dry-run",
        "deployments status",
        `versions view ${box.calls().at(-1)!.argv[2]}`,
      ]);
      expect(run.stdout).toContain("vars: already right");
      expect(run.stdout).toContain("KV namespace: ACCOUNTS already bound");
      for (const name of ["NIM_APP_SECRET", "SESSION_JWT_SECRET", "ACCID_SECRET", "ADMIN_TOKEN"]) {
        expect(run.stdout).toContain(`secret ${name}: already set`);
      }
      expect(run.stdout).toContain("deploy: already deployed");
      expect(run.stdout).toContain("everything was already right; nothing changed");
      expect(box.config).toBe(before.text);
      expect(statSync(join(box.dir, "wrangler.jsonc")).mtimeMs).toBe(before.mtime);
    });

    it("(e) what it wrote deploys: the real wrangler's dry run of wrangler.jsonc succeeds", () => {
      const outdir = mkdtempSync(join(tmpdir(), "setup-test-dry-run-"));
      try {
        const result = spawnSync(process.execPath, [REAL_WRANGLER, "deploy", "--dry-run", "--outdir", outdir], {
          cwd: box.dir,
          encoding: "utf8",
          env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
        });
        expect(result.stderr).not.toMatch(/ERROR/);
        expect(result.status).toBe(0);
        const id = box.account().namespaces[0]!.id;
        expect(result.stdout).toContain(`env.ACCOUNTS (${id})`);
        expect(result.stdout).toContain('env.NIM_APP_KEY ("abc123def456")');
        expect(result.stdout).toContain("--dry-run: exiting now.");
        expect(readdirSync(outdir)).toContain("index.js");
      } finally {
        rmSync(outdir, { recursive: true, force: true });
      }
    });
  });

  it("(c) asks for what it cannot find, secrets unechoed, and asks nothing once it has it all", async () => {
    const box = sandbox();
    const appSecret = "f6e5d4c3b2a1";
    const answers = [
      "abc123def456", // NIM_APP_KEY
      "xx", // NIM_REGION: refused, asked again
      "sg",
      "auth0:my-app.eu.auth0.com", // SESSION_PROVIDER
      "https://api.example.com", // SESSION_JWT_AUDIENCE
      appSecret, // NIM_APP_SECRET
      "n", // the admin API
    ];
    const run = await box.run([], {}, `${answers.join("\n")}\n`);
    expect(run.stderr).toBe("");
    expect(run.status).toBe(0);
    for (const asked of [
      "(NIM_APP_KEY)",
      "(NIM_REGION) [cn]",
      "NIM_REGION must be cn or sg",
      "(SESSION_PROVIDER)",
      "(SESSION_JWT_AUDIENCE)",
      "(NIM_APP_SECRET; not shown)",
      "admin API",
    ]) {
      expect(run.stdout).toContain(asked);
    }
    expect(run.stdout).not.toContain(appSecret);
    expect(run.stdout).not.toContain("SESSION_JWT_SECRET; not shown"); // a provider needs no HS256 secret
    const config = parse(box.config) as { vars: Record<string, string> };
    expect(config.vars).toMatchObject({
      NIM_APP_KEY: "abc123def456",
      NIM_REGION: "sg",
      SESSION_PROVIDER: "auth0:my-app.eu.auth0.com",
      SESSION_JWT_AUDIENCE: "https://api.example.com",
      SESSION_AUTHORIZED_PARTIES: "",
    });
    const puts = box.calls().filter((call) => call.secret);
    expect(puts.map((call) => call.secret!.name)).toEqual(["NIM_APP_SECRET", "ACCID_SECRET"]);
    expect(puts[0]!.secret!.sha256).toBe(sha256(appSecret));
    expect(existsSync(join(box.dir, ".admin-token"))).toBe(false);

    // Everything is found now: with its input closed at once, it asks nothing and succeeds.
    const again = await box.run([], {}, "");
    expect(again.stderr).toBe("");
    expect(again.status).toBe(0);
    expect(again.stdout).not.toMatch(/\(NIM_APP_KEY\)|\(SESSION_PROVIDER\)|not shown|admin API and console on/);
    expect(again.stdout).toContain("everything was already right");
  });

  it("(d) with --yes and a required value missing, fails naming it before anything is made", async () => {
    const box = sandbox();
    const run = await box.run(["--yes"], { NIM_APP_KEY: "abc123def456", SESSION_PROVIDER: "firebase:my-project-1234" });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("missing NIM_APP_SECRET");
    expect(run.stderr).toContain("--yes");
    const commands = box.calls().map(commandOf);
    expect(commands).toEqual(["whoami", "secret list"]);
    expect(box.config).toBe(box.originalConfig);
  });

  it("(d) refuses a placeholder or published secret, and a Wrangler environment, before anything is made", async () => {
    const box = sandbox();
    const yes = { NIM_APP_KEY: "abc123def456", SESSION_PROVIDER: "" };
    const published = { SESSION_JWT_SECRET: "dev-session-secret-NOT-FOR-PRODUCTION-0123456789" };
    for (const [name, secrets] of [
      [
        "NIM_APP_SECRET",
        { NIM_APP_SECRET: "REPLACE-ME-with-your-NetEase-App-Secret", SESSION_JWT_SECRET: SESSION_SECRET },
      ],
      ["SESSION_JWT_SECRET", { NIM_APP_SECRET: APP_SECRET, ...published }],
    ] as const) {
      const refused = await box.run(["--yes"], { ...yes, ...secrets });
      expect(refused.status).toBe(1);
      expect(refused.stderr).toContain(name);
      expect(refused.stderr).toContain("not a placeholder or a published development value");
      expect(refused.stderr).not.toMatch(/REPLACE-ME|NOT-FOR-PRODUCTION/);
    }
    expect(box.calls().map(commandOf)).toEqual(["whoami", "secret list", "whoami", "secret list"]);
    const staging = await box.run(["--yes"], { ...yes, NIM_APP_SECRET: APP_SECRET, CLOUDFLARE_ENV: "staging" });
    expect(staging.status).toBe(1);
    expect(staging.stderr).toContain("CLOUDFLARE_ENV is set");
    expect(box.calls()).toHaveLength(4); // not even a login check
    expect(box.config).toBe(box.originalConfig);
  });

  it("(d) stops at once when wrangler is not logged in", async () => {
    const box = sandbox();
    box.logOut();
    const run = await box.run(["--yes"], { NIM_APP_KEY: "abc123def456", NIM_APP_SECRET: APP_SECRET });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("npx wrangler login");
    expect(run.stderr).toContain("CLOUDFLARE_API_TOKEN");
    expect(box.calls().map(commandOf)).toEqual(["whoami"]);
  });
});

describe("reading wrangler 4.156.2's output", () => {
  it("finds the workers.dev URL among deploy's targets", () => {
    const stdout = [
      "Uploaded nim-token-worker (3.02 sec)",
      "Deployed nim-token-worker triggers (1.21 sec)",
      "  api.example.com (custom domain)",
      "  https://nim-token-worker.my-team.workers.dev",
      "Current Version ID: 0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    ].join("\n");
    expect(parseDeployedUrl(stdout)).toBe("https://nim-token-worker.my-team.workers.dev");
    expect(parseDeployedUrl("No targets deployed for nim-token-worker (0.50 sec)")).toBeUndefined();
  });

  it("reads a created namespace's id, the secret names, the login and a missing Worker", () => {
    const created = [
      '🌀 Creating namespace with title "nim-token-worker-accounts"',
      "✨ Success!",
      "To access your new KV Namespace in your Worker, add the following snippet to your configuration file:",
      '{\n  "kv_namespaces": [\n    {\n      "binding": "nim_token_worker_accounts",\n      "id": "94a65ecda2283fa42292e9a116f0d85d"\n    }\n  ]\n}',
    ].join("\n");
    expect(parseCreatedNamespaceId(created)).toBe("94a65ecda2283fa42292e9a116f0d85d");
    expect(parseSecretNames('[\n  {\n    "name": "ACCID_SECRET",\n    "type": "secret_text"\n  }\n]')).toEqual([
      "ACCID_SECRET",
    ]);
    const loggedOut = "Getting User settings...\nYou are not authenticated. Please run `wrangler login`.\n";
    expect(isLoggedOut({ status: 0, stdout: loggedOut, stderr: "" })).toBe(true);
    const loggedIn = "👋 You are logged in with an OAuth Token, associated with the email dev@example.com.\n";
    expect(isLoggedOut({ status: 0, stdout: loggedIn, stderr: "" })).toBe(false);
    expect(loggedInAs(loggedIn)).toBe("dev@example.com");
    const notFound =
      '✘ [ERROR] Worker "nim-token-worker" not found.\n\n  If this is a new Worker, run `wrangler deploy` first';
    expect(isWorkerNotFound({ status: 1, stdout: "", stderr: notFound })).toBe(true);
    expect(isWorkerNotFound({ status: 1, stdout: "", stderr: "✘ [ERROR] Authentication error [code: 10000]" })).toBe(
      false,
    );
  });

  it("reads the served version and its tag, and not a split deployment's", () => {
    const one = { versions: [{ version_id: "v-1", percentage: 100 }] };
    const split = {
      versions: [
        { version_id: "v-1", percentage: 50 },
        { version_id: "v-2", percentage: 50 },
      ],
    };
    expect(parseServedVersion(JSON.stringify(one, null, 2))).toBe("v-1");
    expect(parseServedVersion(JSON.stringify(split, null, 2))).toBeUndefined();
    expect(parseVersionTag(JSON.stringify({ annotations: { "workers/tag": "setup-ab" } }, null, 2))).toBe("setup-ab");
    expect(parseVersionTag(JSON.stringify({ annotations: { "workers/triggered_by": "secret" } }))).toBeUndefined();
  });
});
