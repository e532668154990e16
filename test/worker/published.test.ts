/**
 * Published values (src/core/published.ts): a Worker that is not under `npm start` or the tests
 * refuses to serve with a development value this project publishes, a placeholder of
 * `.dev.vars.example` or a loopback NetEase base; under them, the published values work.
 */

import { describe, expect, it } from "vitest";
import example from "../../.dev.vars.example?raw";
import { devVarsText } from "../../scripts/dev-defaults.ts";
import { ENV_NAMES } from "../../src/env-names.ts";
import { adminCall, call, env, errorLog, hsJwt, issue, type Overrides, uniqueUid } from "./helpers.ts";

/** `KEY=value` lines of a dotenv text; with `commented`, also those commented out (`# KEY=value`). */
function entries(text: string, commented = false): Record<string, string> {
  const line = commented ? /^(?:#\s*)?([A-Z][A-Z0-9_]*)=(.*)$/ : /^([A-Z][A-Z0-9_]*)=(.*)$/;
  const found: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const match = line.exec(raw.trim());
    if (match) found[match[1]!] = match[2]!.replace(/^'(.*)'$/, "$1");
  }
  return found;
}

/** The secrets `npm start` writes to .dev.vars (so public), as the one-app form reads them. */
const DEV = entries(devVarsText());
const PUBLISHED = {
  NIM_APP_SECRET: DEV.NIM_APP_SECRET!,
  SESSION_JWT_SECRET: DEV.SESSION_JWT_SECRET!,
  ACCID_SECRET: DEV.ACCID_SECRET!,
  ADMIN_TOKEN: DEV.ADMIN_TOKEN!,
  NERTC_PERM_SECRET: DEV.NERTC_PERM_SECRET!,
};
/** What a deployment looks like: no LOCAL_DEVELOPMENT (the tests set it, as npm start does). */
const DEPLOYED: Overrides = { LOCAL_DEVELOPMENT: "" };
/** NetEase's own API: what a deployment talks to, wherever the flag says it runs. */
const NETEASE = { NIM_API_BASE: "https://api-sg.yunxinapi.com/nimserver" };

/** Settings in the order docs/configuration.md lists them, as /healthz names them. */
const byDocOrder = (a: string, b: string) =>
  ENV_NAMES.indexOf(a as (typeof ENV_NAMES)[number]) - ENV_NAMES.indexOf(b as (typeof ENV_NAMES)[number]);

type Health = { status: string; missing?: string[]; invalid?: string[] };
const health = async (overrides: Overrides) => (await call("/healthz", {}, overrides)).json<Health>();

describe("published development values", () => {
  it("work under npm start and the tests: LOCAL_DEVELOPMENT with NetEase on loopback", async () => {
    expect(await health(PUBLISHED)).toEqual({ status: "ok" });
    const answer = await adminCall("GET", "/apps", undefined, { token: PUBLISHED.ADMIN_TOKEN, overrides: PUBLISHED });
    expect(answer.status).toBe(200);
  });

  it("are refused by a deployed Worker: /healthz names each one, every call is 500 misconfigured", async () => {
    const overrides = { ...DEPLOYED, ...NETEASE, ...PUBLISHED };
    const response = await call("/healthz", {}, overrides);
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      status: "misconfigured",
      missing: [],
      invalid: Object.keys(PUBLISHED).sort(byDocOrder),
    });
    for (const value of Object.values(PUBLISHED)) expect(text).not.toContain(value);
    // The published admin token opens nothing.
    const admin = await adminCall("GET", "/apps", undefined, { token: PUBLISHED.ADMIN_TOKEN, overrides });
    expect(admin.status).toBe(500);
    expect(await admin.json()).toEqual({ error: "misconfigured", message: "The service is not configured correctly." });
    const token = await issue(await hsJwt(uniqueUid(), {}, PUBLISHED.SESSION_JWT_SECRET), undefined, overrides);
    expect(token.status).toBe(500);
  });

  it("are refused even with LOCAL_DEVELOPMENT set, while the Worker talks to NetEase itself", async () => {
    const refused = await health({ ...NETEASE, ADMIN_TOKEN: PUBLISHED.ADMIN_TOKEN });
    expect(refused).toEqual({ status: "misconfigured", missing: [], invalid: ["ADMIN_TOKEN"] });
    // Values of the deployer's own pass, flag or not.
    expect(await health({ ...NETEASE })).toEqual({ status: "ok" });
  });

  it("are refused whatever the case, and the log names the setting, never the value", async () => {
    const overrides = { ...DEPLOYED, ...NETEASE, ACCID_SECRET: "my-accid-secret-not-for-production-0123456789" };
    const log = await errorLog(async () => {
      expect((await issue(await hsJwt(uniqueUid()), undefined, overrides)).status).toBe(500);
    });
    expect(log).toContain("ACCID_SECRET (your own value: this development value is published");
    expect(log).not.toContain("my-accid-secret");
  });
});

describe("placeholders of .dev.vars.example", () => {
  it("are refused everywhere, local development included: every entry of the file, commented or not", async () => {
    const placeholders = entries(example, true);
    expect(Object.keys(placeholders)).toEqual([
      "NIM_APP_SECRET",
      "ACCID_SECRET",
      "SESSION_JWT_SECRET",
      "ADMIN_TOKEN",
      "NERTC_PERM_SECRET",
    ]);
    for (const overrides of [placeholders, { ...DEPLOYED, ...NETEASE, ...placeholders }]) {
      expect(await health(overrides)).toEqual({
        status: "misconfigured",
        missing: [],
        invalid: Object.keys(placeholders).sort(byDocOrder),
      });
    }
  });

  it("are refused in the Secrets Store too, where a secret is read only when used", async () => {
    const stored = { get: async () => "REPLACE-ME-with-your-NetEase-App-Secret" };
    const response = await issue(await hsJwt(uniqueUid()), undefined, { NIM_APP_SECRET: stored });
    expect(response.status).toBe(500);
    expect((await response.json<{ error: string }>()).error).toBe("misconfigured");
    const published = { get: async () => PUBLISHED.NIM_APP_SECRET };
    const again = await issue(await hsJwt(uniqueUid()), undefined, { NIM_APP_SECRET: published });
    expect(again.status).toBe(500);
  });
});

describe("a loopback NetEase API base", () => {
  it("is refused outside local development, and accepted under it", async () => {
    const loopback = { NIM_API_BASE: env.NIM_API_BASE };
    expect(await health({ ...DEPLOYED, ...loopback })).toEqual({
      status: "misconfigured",
      missing: [],
      invalid: ["NIM_API_BASE"],
    });
    expect(await health(loopback)).toEqual({ status: "ok" });
    // A value other than "true" is not the flag.
    expect((await health({ LOCAL_DEVELOPMENT: "yes" })).invalid).toEqual(["NIM_API_BASE"]);
  });

  it("in a NIM_APPS entry is named by its entry", async () => {
    const apps = [
      { name: "cn", appKey: "testappkeycn00000000000000000000", apiBase: env.NIM_API_BASE, secret: "NIM_APP_SECRET" },
      { name: "sg", appKey: "testappkeysg00000000000000000000", region: "sg", secret: "NIM_APP_SECRET_SG" },
    ];
    const oneAppBlank = {
      NIM_APP_KEY: "",
      NIM_API_BASE: "",
      TOKEN_TTL_DEFAULT: "",
      TOKEN_TTL_MIN: "",
      TOKEN_TTL_MAX: "",
    };
    const blank = { ...oneAppBlank, RTC_TOKEN_TTL_DEFAULT: "", RTC_TOKEN_TTL_MIN: "", RTC_TOKEN_TTL_MAX: "" };
    const settings = {
      ...blank,
      RTC_PERM_KEY_TTL: "",
      NIM_APPS: JSON.stringify(apps),
      NIM_APP_SECRET_SG: "sg-secret-0123456789",
    };
    // sg talks to NetEase, so the flag does not make this local: cn's loopback base is refused.
    expect(await health(settings)).toEqual({ status: "misconfigured", missing: [], invalid: ["NIM_APPS[cn].apiBase"] });
  });
});
