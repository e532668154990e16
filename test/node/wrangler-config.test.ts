/**
 * The Wrangler file as the Deploy to Cloudflare button, `npm run deploy` and docs/deploy.md use it:
 * real `wrangler deploy --dry-run` builds of wrangler.jsonc and of the staging environment the docs
 * print, and the button pointing at the repository package.json names.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { applyEdits, modify, parse } from "jsonc-parser";
import { describe, expect, it } from "vitest";
import { projectRoot } from "../../scripts/dev-vars.ts";

const read = (path: string) => readFileSync(`${projectRoot}${path}`, "utf8");

/** wrangler.jsonc, with `edit` applied, in a directory of its own with absolute paths to the sources. */
function configWith(edit: (text: string) => string = (text) => text): string {
  let text = edit(read("wrangler.jsonc"));
  const set = (path: (string | number)[], value: unknown) => {
    text = applyEdits(text, modify(text, path, value, { formattingOptions: { insertSpaces: true, tabSize: 2 } }));
  };
  const dir = mkdtempSync(join(tmpdir(), "wrangler-config-"));
  // The project's own build, into this directory (another test may build beside it at the same time).
  set(["main"], join(dir, "worker/index.js"));
  set(["build", "command"], `node ${projectRoot}scripts/build-worker.mjs ${join(dir, "worker")}`);
  set(["assets", "directory"], `${projectRoot}console`);
  writeFileSync(join(dir, "wrangler.jsonc"), text);
  return dir;
}

/** A real `wrangler deploy --dry-run` of the config in `dir`; its exit status and output. */
function dryRun(dir: string, ...args: string[]): { status: number | null; output: string } {
  const result = spawnSync(
    process.execPath,
    [
      `${projectRoot}node_modules/wrangler/bin/wrangler.js`,
      "deploy",
      "--dry-run",
      "--outdir",
      join(dir, "out"),
      "--config",
      join(dir, "wrangler.jsonc"),
      ...args,
    ],
    { encoding: "utf8", env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "1" } },
  );
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** The jsonc block docs/deploy.md marks `<!-- deploy-env-check -->`: an `"env": {…}` member. */
function documentedEnvironment(): unknown {
  const page = read("docs/deploy.md");
  const block = /<!-- deploy-env-check -->\n```jsonc\n([\s\S]*?)\n```/.exec(page)?.[1];
  if (!block) throw new Error("docs/deploy.md: no <!-- deploy-env-check --> jsonc block");
  return (parse(`{${block}}`) as { env: unknown }).env;
}

describe("wrangler.jsonc", () => {
  it("builds with every binding declared and no account-specific id", { timeout: 120_000 }, () => {
    const { status, output } = dryRun(configWith());
    expect(output).toMatch(/--dry-run: exiting now/);
    expect(status).toBe(0);
    for (const binding of [
      "ACCOUNT_OBJECTS",
      "NIM_CREATE_PACER",
      "ACCOUNTS",
      "TOKEN_RATE_LIMITER",
      "AUTH_FAILURE_RATE_LIMITER",
      "METRICS",
      "ASSETS",
    ]) {
      expect(output).toContain(binding);
    }
    const config = parse(read("wrangler.jsonc")) as { kv_namespaces: { binding: string; id?: string }[] };
    expect(config.kv_namespaces).toEqual([{ binding: "ACCOUNTS" }]);
  });

  it("takes the staging environment docs/deploy.md prints", { timeout: 120_000 }, () => {
    const dir = configWith((text) => applyEdits(text, modify(text, ["env"], documentedEnvironment(), {})));
    const { status, output } = dryRun(dir, "--env", "staging");
    expect(output).not.toMatch(/WARNING|ERROR/);
    expect(output).toContain("nim_token_worker_staging");
    expect(status).toBe(0);
  });
});

describe("the Deploy to Cloudflare button", () => {
  it("points at the repository package.json names, in the README and in docs/deploy.md", () => {
    const { repository } = JSON.parse(read("package.json")) as { repository: { url: string } };
    const repo = repository.url.replace(/^git\+/, "").replace(/\.git$/, "");
    const button = `[![Deploy to Cloudflare](https://deploy.workers.cloudflare.com/button)](https://deploy.workers.cloudflare.com/?url=${repo})`;
    expect(read("README.md")).toContain(button);
    expect(read("docs/deploy.md")).toContain(button);
  });
});
