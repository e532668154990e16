/**
 * The Worker's build (scripts/build-worker.mjs, wrangler.jsonc's custom build): the modules an isolate
 * compiles when it starts hold what a token request needs and nothing that only the Hono app, the
 * account objects or a remote key set need; those load on first use. Read from esbuild's metafile,
 * which names the sources in each module and how the modules import each other.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../scripts/dev-vars.ts";

interface Metafile {
  outputs: Record<
    string,
    {
      entryPoint?: string;
      imports: { path: string; kind: string; external?: boolean }[];
      inputs: Record<string, unknown>;
    }
  >;
}

/** The modules reachable from the entry: statically only (what an isolate starts with), or through `import()` too. */
function reachableModules(meta: Metafile, followDynamic: boolean): Set<string> {
  const entry = Object.keys(meta.outputs).find((output) => meta.outputs[output]!.entryPoint === "src/index.ts")!;
  const seen = new Set<string>();
  const next = [entry];
  while (next.length > 0) {
    const output = next.pop()!;
    if (seen.has(output)) continue;
    seen.add(output);
    for (const { path, kind, external } of meta.outputs[output]!.imports) {
      if (!external && (followDynamic || kind === "import-statement")) next.push(path);
    }
  }
  return seen;
}

/** The sources in the modules reachable from the entry. */
function reachable(meta: Metafile, followDynamic: boolean): Set<string> {
  return new Set(
    [...reachableModules(meta, followDynamic)].flatMap((output) => Object.keys(meta.outputs[output]!.inputs)),
  );
}

describe("the Worker's build", () => {
  let meta: Metafile;

  beforeAll(() => {
    const outdir = join(mkdtempSync(join(tmpdir(), "worker-build-")), "worker");
    const result = spawnSync(process.execPath, [`${projectRoot}scripts/build-worker.mjs`, outdir], {
      encoding: "utf8",
    });
    expect(result.status, result.stderr).toBe(0);
    meta = JSON.parse(readFileSync(`${outdir}-meta.json`, "utf8")) as Metafile;
  }, 60_000);

  it("starts an isolate with the IM token path only: no Hono, jose, Valibot, admin API, account object, NetEase client or NERTC", () => {
    const atStart = [...reachable(meta, false)];
    // What a token request runs: the door, the session check, the account look-up, the signature.
    for (const source of [
      "src/http/token-door.ts",
      "src/session/verify.ts",
      "src/accounts/lookup.ts",
      "src/nim/dynamic-token.ts",
    ]) {
      expect(atStart, source).toContain(source);
    }
    const loadedLater = [
      /^node_modules\/hono\//,
      /^node_modules\/jose\//,
      /^src\/http\/app\.ts$/,
      /^src\/http\/routes\/(admin|console|login-callback|chatroom|openapi|ready)\.ts$/,
      /^src\/admin\//,
      /^src\/accounts\/object\/(object|changes|ledger)\.ts$/,
      /^src\/nim\/server-api/,
      /^src\/session\/jwks\.ts$/,
      /^src\/contract\/openapi/,
      // The settings most deployments leave unset: NIM_APPS, the identity providers' presets, policies.
      /^src\/apps\/list\.ts$/,
      /^src\/session\/providers\.ts$/,
      /^src\/(rtc\/channel|chatroom\/room)-policy\.ts$/,
      // A body's check (most token requests send none), and NERTC's tokens (loaded on the first).
      /^node_modules\/valibot\//,
      /^src\/http\/body-check\.ts$/,
      /^src\/contract\/requests\.ts$/,
      /^src\/rtc\//,
      /^src\/http\/routes\/rtc-token\.ts$/,
    ];
    for (const pattern of loadedLater) {
      expect(
        atStart.filter((source) => pattern.test(source)),
        String(pattern),
      ).toEqual([]);
    }
  });

  it("puts what an isolate starts with in one module beside the entry, whichever lazy modules share it", () => {
    // Without the build's one-start-chunk plugin, esbuild split it by which lazy modules reach each
    // part: eight modules at start, and one more compile each (bench/README.md, start-up).
    const startModules = reachableModules(meta, false);
    expect(startModules.size).toBe(2);
  });

  it("still builds everything else, loaded on first use", () => {
    const everything = reachable(meta, true);
    for (const source of [
      "src/http/app.ts",
      "src/admin/actions.ts",
      "src/accounts/object/object.ts",
      "src/nim/server-api-v2.ts",
      "src/session/jwks.ts",
      "src/apps/list.ts",
      "src/session/providers.ts",
      "src/http/body-check.ts",
      "src/http/routes/rtc-token.ts",
      "src/rtc/permission-key.ts",
    ]) {
      expect(everything, source).toContain(source);
    }
    expect([...everything].some((source) => source.startsWith("node_modules/hono/"))).toBe(true);
  });
});
