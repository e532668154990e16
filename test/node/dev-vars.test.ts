/**
 * What a fresh clone offers a deployer, and what `npm start` writes for itself: `.dev.vars.example`
 * holds placeholders only (the Deploy to Cloudflare button offers every entry of it), each described
 * in package.json; the development values live in scripts/dev-defaults.ts and are all marked
 * published; `npm start` points at its emulator only the bases that are the emulator's own.
 */

import { readFileSync } from "node:fs";
import { parse } from "jsonc-parser";
import { describe, expect, it } from "vitest";
import { devVarsText } from "../../scripts/dev-defaults.ts";
import { devApiBase, devApps, devNimApps, parseDevVars, projectRoot } from "../../scripts/dev-vars.ts";
import { publicValueKind } from "../../src/core/published.ts";

const read = (path: string) => readFileSync(`${projectRoot}${path}`, "utf8");
const example = read(".dev.vars.example");
/** The entries of `.dev.vars.example` the button asks for (uncommented), and the optional ones. */
const asked = parseDevVars(example);
const optional = parseDevVars(
  example
    .split("\n")
    .filter((line) => /^#\s*[A-Z][A-Z0-9_]*=/.test(line))
    .map((line) => line.replace(/^#\s*/, ""))
    .join("\n"),
);

describe(".dev.vars.example", () => {
  it("asks for the secrets every deployment needs, and only those", () => {
    expect(Object.keys(asked)).toEqual(["NIM_APP_SECRET", "ACCID_SECRET"]);
    expect(Object.keys(optional)).toEqual(["SESSION_JWT_SECRET", "ADMIN_TOKEN", "NERTC_PERM_SECRET"]);
  });

  it("holds no value the Worker would run with: every entry, commented or not, is a placeholder", () => {
    for (const [name, value] of Object.entries({ ...asked, ...optional })) {
      expect(publicValueKind(value), name).toBe("placeholder");
    }
  });

  it("has a description in package.json for each value the button asks for, vars included", () => {
    const { cloudflare } = JSON.parse(read("package.json")) as {
      cloudflare: { bindings: Record<string, { description: string }> };
    };
    const { vars } = parse(read("wrangler.jsonc")) as { vars: Record<string, string> };
    for (const name of [...Object.keys(asked), ...Object.keys(vars)]) {
      expect(cloudflare.bindings[name]?.description, name).toMatch(/\S{10,}/);
    }
  });
});

describe("the development values npm start writes (scripts/dev-defaults.ts)", () => {
  const dev = parseDevVars(devVarsText());

  it("mark every secret published, so that no Worker outside local development runs with one", () => {
    const secrets = Object.entries(dev).filter(([name]) => name !== "NIM_APPS");
    expect(secrets.map(([name]) => name)).toEqual([
      "NIM_APP_SECRET",
      "NIM_APP_SECRET_SG",
      "SESSION_JWT_SECRET",
      "ACCID_SECRET",
      "NERTC_PERM_SECRET",
      "NERTC_PERM_SECRET_SG",
      "ADMIN_TOKEN",
    ]);
    for (const [name, value] of secrets) expect(publicValueKind(value), name).toBe("published");
    // Each machine's own: only ACCID_SECRET, which grants nothing, is the same everywhere.
    const other = parseDevVars(devVarsText());
    expect(secrets.filter(([name, value]) => other[name] === value).map(([name]) => name)).toEqual(["ACCID_SECRET"]);
  });

  it("serve two apps, each pointed at the emulator by npm start (no apiBase of their own)", () => {
    const { apps, notes } = devApps(dev);
    expect(apps.map((app) => [app.name, app.apiBase])).toEqual([
      ["cn", undefined],
      ["sg", undefined],
    ]);
    expect(notes).toEqual([]);
    const emulator = "http://127.0.0.1:9999/nimserver";
    const list = JSON.parse(devNimApps(dev, emulator)!) as { apiBase: string }[];
    expect(list.map((entry) => entry.apiBase)).toEqual([emulator, emulator]);
  });
});

describe("the API base npm start gives the Worker (devApiBase)", () => {
  const emulator = "http://127.0.0.1:9999/nimserver";

  it("is the emulator for none, or for the emulator's own default address", () => {
    expect(devApiBase(undefined, emulator)).toBe(emulator);
    expect(devApiBase("", emulator)).toBe(emulator);
    expect(devApiBase("http://127.0.0.1:8788/nimserver", emulator)).toBe(emulator);
    expect(devApiBase("http://localhost:8788/nimserver/", emulator)).toBe(emulator);
  });

  it("keeps any other base, loopback included: a developer's own proxy or mock", () => {
    for (const base of [
      "http://127.0.0.1:9000/nimserver",
      "http://localhost:8788/proxy",
      "https://api-sg.yunxinapi.com/nimserver",
    ]) {
      expect(devApiBase(base, emulator)).toBe(base);
    }
  });
});
