/**
 * The documentation against the code: docs/configuration.md is what scripts/configuration-doc.ts
 * renders from the `Env` interface in src/env.ts, with one row per setting; every relative link
 * between the pages reaches a file.
 */

import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { configurationPage, envGroups } from "../../scripts/configuration-doc.ts";
import { projectRoot } from "../../scripts/dev-vars.ts";
import { BINDING_NAMES, SECRET_NAMES } from "../../src/env-names.ts";

const read = (path: string) => readFileSync(join(projectRoot, path), "utf8");

/** The keys of `export interface Env { … }` in src/env.ts. */
function envNames(): string[] {
  const source = read("src/env.ts");
  const body = /export interface Env \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? "";
  return [...body.matchAll(/^\s{2}([A-Z][A-Z0-9_]*)\??:/gm)].map((m) => m[1]!);
}

/** The setting names in the first column of docs/configuration.md's table. */
function documentedNames(): string[] {
  const names: string[] = [];
  for (const line of read("docs/configuration.md").split("\n")) {
    const first = /^\|([^|]*)\|/.exec(line)?.[1] ?? "";
    for (const m of first.matchAll(/`([A-Z][A-Z0-9_]*)`/g)) names.push(m[1]!);
  }
  return names;
}

describe("docs/configuration.md", () => {
  it("is what `npm run docs:config` renders from the doc comments in src/env.ts", () => {
    expect(read("docs/configuration.md"), "run `npm run docs:config`").toBe(configurationPage());
  });

  it("names every setting in Env in exactly one row, and no setting that does not exist", () => {
    const env = envNames();
    expect(env.length).toBeGreaterThan(15);
    expect([...documentedNames()].sort()).toEqual([...env].sort());
  });
});

describe("the lists of secrets and bindings in src/env-names.ts", () => {
  it("are the settings src/env.ts tags @secret, and its members that are not text", () => {
    const settings = envGroups().flatMap((group) => group.settings);
    const of = (kinds: (kind: string) => boolean) =>
      settings
        .filter((setting) => kinds(setting.kind))
        .map((setting) => setting.name)
        .sort();
    expect(of((kind) => kind === "secret")).toEqual([...SECRET_NAMES].sort());
    expect(of((kind) => kind !== "secret" && kind !== "var")).toEqual([...BINDING_NAMES].sort());
  });
});

describe("links between the pages", () => {
  it("reach a file for every relative link in the README, docs/ and bench/README.md", () => {
    const pages = ["README.md", "bench/README.md", ...readdirSync(join(projectRoot, "docs")).map((n) => `docs/${n}`)];
    const broken: string[] = [];
    for (const page of pages) {
      for (const [, target] of read(page).matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        if (!existsSync(join(projectRoot, dirname(page), target!))) broken.push(`${page} → ${target}`);
      }
    }
    expect(broken).toEqual([]);
  });
});

describe("the service's version", () => {
  it("is package.json's", async () => {
    const { SERVICE } = await import("../../src/core/constants.ts");
    expect(SERVICE.version).toBe(JSON.parse(read("package.json")).version);
  });
});

describe("SDK snippets", () => {
  it("are, block for block, the regions of examples/sdk/ that the type check compiles", () => {
    const snippets = [
      ...read("docs/clients.md").matchAll(/<!-- snippet: ([^#\s]+)#([\w-]+) -->\n```ts\n([\s\S]*?)```\n/g),
    ];
    expect(snippets.length).toBeGreaterThanOrEqual(5);
    for (const [, file, name, block] of snippets) {
      const source = read(file!);
      const region = new RegExp(`// docs:start ${name}\\n([\\s\\S]*?)// docs:end ${name}`).exec(source)?.[1];
      expect(region, `${file}#${name}`).toBe(block);
    }
    // Every ```ts block of the page is such a snippet.
    const blocks = read("docs/clients.md").match(/```ts\n/g) ?? [];
    expect(blocks.length).toBe(snippets.length);
  });
});
