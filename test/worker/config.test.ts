/** Configuration: /healthz, and 500 misconfigured without leaking values. */

import { describe, expect, it, vi } from "vitest";
import { SERVICE } from "../../src/core/constants.ts";
import { adminCall, call, env, errorLog, hsJwt, issue, uniqueUid } from "./helpers.ts";

const SECRET_VALUES = () => [env.NIM_APP_SECRET!, env.SESSION_JWT_SECRET!, env.ACCID_SECRET!];

describe("configuration", () => {
  it("GET /healthz answers 200 when configured", async () => {
    const response = await call("/healthz");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok" });
  });

  it("GET /healthz answers 503 naming missing and invalid settings, never their values", async () => {
    const response = await call(
      "/healthz",
      {},
      {
        NIM_APP_SECRET: "",
        ACCOUNTS: undefined,
        ACCOUNT_OBJECTS: undefined,
        SESSION_JWT_SECRET: "short",
        NIM_API_BASE: "http://api.netease.im/nimserver",
        TOKEN_TTL_MIN: "7200",
      },
    );
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({
      status: "misconfigured",
      missing: ["NIM_APP_SECRET", "ACCOUNTS", "ACCOUNT_OBJECTS"],
      invalid: ["NIM_API_BASE", "SESSION_JWT_SECRET", "TOKEN_TTL_DEFAULT"],
    });
    for (const secret of [...SECRET_VALUES(), "short"]) expect(text).not.toContain(secret);
  });

  it("refuses a text setting given as JSON (a dashboard or Wrangler var typed so), naming it", async () => {
    // One value in a list reads as that value through String(): every string rule would pass it.
    const json = {
      SESSION_JWT_SECRET: [env.SESSION_JWT_SECRET],
      ADMIN_TOKEN: [env.ADMIN_TOKEN],
      LOCAL_DEVELOPMENT: true,
      TOKEN_TTL_MAX: 3600,
    };
    const response = await call("/healthz", {}, json);
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({
      status: "misconfigured",
      missing: [],
      invalid: ["TOKEN_TTL_MAX", "SESSION_JWT_SECRET", "ADMIN_TOKEN", "LOCAL_DEVELOPMENT"],
    });
    const admin = await adminCall("GET", "/apps", undefined, { overrides: json });
    expect(admin.status).toBe(500);
    expect((await issue(await hsJwt(uniqueUid()), undefined, json)).status).toBe(500);
  });

  it("checks NIM_CREATE_RATE, and needs the pacer's binding unless pacing is off", async () => {
    const health = async (overrides: Record<string, unknown>) =>
      (await call("/healthz", {}, overrides)).json<{ missing?: string[]; invalid?: string[] }>();
    for (const rate of ["-1", "1.5", "fast", "10001"]) {
      expect((await health({ NIM_CREATE_RATE: rate })).invalid, rate).toEqual(["NIM_CREATE_RATE"]);
    }
    expect((await health({ NIM_CREATE_PACER: undefined })).missing).toEqual(["NIM_CREATE_PACER"]);
    expect(await health({ NIM_CREATE_PACER: undefined, NIM_CREATE_RATE: "0" })).toEqual({ status: "ok" });
    expect(await health({ NIM_CREATE_RATE: "100" })).toEqual({ status: "ok" });
  });

  it("checks METRICS_SAMPLE_INTERVAL: a whole number from 1 to 1000", async () => {
    const health = async (overrides: Record<string, unknown>) =>
      (await call("/healthz", {}, overrides)).json<{ missing?: string[]; invalid?: string[] }>();
    for (const interval of ["0", "-1", "2.5", "often", "1001"]) {
      expect((await health({ METRICS_SAMPLE_INTERVAL: interval })).invalid, interval).toEqual([
        "METRICS_SAMPLE_INTERVAL",
      ]);
    }
    for (const interval of ["1", "20", "1000", ""]) {
      expect(await health({ METRICS_SAMPLE_INTERVAL: interval }), interval).toEqual({ status: "ok" });
    }
  });

  it("names a missing session key source", async () => {
    const response = await call("/healthz", {}, { SESSION_JWT_SECRET: "", SESSION_JWKS_URL: "" });
    expect((await response.json<{ missing: string[] }>()).missing).toEqual(["SESSION_JWT_SECRET or SESSION_PROVIDER"]);
  });

  it("answers /v1/token with 500 misconfigured and no detail", async () => {
    const response = await issue(await hsJwt(uniqueUid()), undefined, { ACCID_SECRET: "" });
    expect(response.status).toBe(500);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ error: "misconfigured", message: "The service is not configured correctly." });
    for (const secret of SECRET_VALUES()) expect(text).not.toContain(secret);
  });

  it.each([
    ["TOKEN_TTL_DEFAULT", "ten"],
    ["TOKEN_TTL_MAX", "0"],
    ["TOKEN_TTL_MAX", "90000"],
    ["NIM_APP_KEY", "has space"],
    ["SESSION_JWKS_URL", "ftp://keys.example/jwks.json"],
    ["NIM_API_BASE", "https://user:pass@api.netease.im/nimserver"],
  ])("rejects %s=%j", async (name, value) => {
    const response = await call("/healthz", {}, { [name]: value });
    expect(response.status).toBe(503);
    expect((await response.json<{ invalid: string[] }>()).invalid).toContain(name);
  });

  it.each([
    [{ RTC_CHANNEL_POLICY: "live-*" }, "not JSON"],
    [{ RTC_CHANNEL_POLICY: '[{"channel":"live-*","privileges":["watch"]}]' }, "at $[0].privileges[0]"],
    [{ RTC_CHANNEL_POLICY: "[]" }, "no grants"],
    // Narrower privileges mean nothing to NERTC without a permission key to carry them.
    [
      { RTC_CHANNEL_POLICY: '[{"channel":"live-*","privileges":["join","receive"]}]', NERTC_PERM_SECRET: "" },
      "need NERTC_PERM_SECRET",
    ],
    [{ RTC_POLICY_CLAIM: "nertc", NERTC_PERM_SECRET: "" }, "needs NERTC_PERM_SECRET"],
    [{ RTC_POLICY_CLAIM: "has space" }, "a claim name"],
    [{ RTC_PERM_KEY_TTL: "86401" }, "whole seconds"],
    [{ RTC_PERM_KEY_TTL: "30" }, "whole seconds from 60"],
  ])("refuses the channel policy %j, stating why in the log only", async (settings, rule) => {
    const logs = vi.spyOn(console, "error").mockImplementation(() => {});
    try {
      const response = await call("/healthz", {}, settings);
      expect(response.status).toBe(503);
      const name = Object.keys(settings).find((key) => key !== "NERTC_PERM_SECRET")!;
      expect((await response.json<{ invalid: string[] }>()).invalid).toEqual([name]);
      const rtc = await call(
        "/v1/rtc/token",
        {
          method: "POST",
          headers: { Authorization: `Bearer ${await hsJwt(uniqueUid())}`, "Content-Type": "application/json" },
          body: JSON.stringify({ channelName: "live-1" }),
        },
        settings,
      );
      expect(rtc.status).toBe(500);
      const logged = logs.mock.calls.map((args) => String(args[0])).join("\n");
      expect(logged).toContain(rule);
    } finally {
      logs.mockRestore();
    }
  });

  it("accepts a channel policy of whole rights without a permission secret (channels only)", async () => {
    const settings = { RTC_CHANNEL_POLICY: '[{"channel":"user-{uid}-*","privileges":["all"]}]', NERTC_PERM_SECRET: "" };
    expect((await call("/healthz", {}, settings)).status).toBe(200);
  });

  it("accepts the Singapore base URL and a loopback http base", async () => {
    expect((await call("/healthz", {}, { NIM_API_BASE: "https://api-sg.netease.im/nimserver/" })).status).toBe(200);
    expect((await call("/healthz", {}, { NIM_API_BASE: "http://localhost:8788/nimserver" })).status).toBe(200);
  });
});

describe("a Worker started without any secret (plain `wrangler dev` without .dev.vars)", () => {
  it("logs which settings are missing and how to set them, and tells the caller nothing more", async () => {
    const both = await errorLog(async () => {
      const response = await issue(await hsJwt(uniqueUid()), undefined, { NIM_APP_SECRET: "", ACCID_SECRET: "" });
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({
        error: "misconfigured",
        message: "The service is not configured correctly.",
      });
    });
    expect(both).toContain("locally run `npm start` (it creates .dev.vars)");
    // One missing secret is an ordinary misconfiguration, named without the hint.
    const one = await errorLog(async () => issue(await hsJwt(uniqueUid()), undefined, { ACCID_SECRET: "" }));
    expect(one).toContain("ACCID_SECRET (missing)");
    expect(one).not.toContain("npm start");
  });
});

describe("GET /", () => {
  it("answers a small index, even when misconfigured, and an unknown path points to /openapi.json", async () => {
    for (const overrides of [{}, { ACCID_SECRET: "" }]) {
      const response = await call("/", {}, overrides);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        name: "nim-token-worker",
        version: SERVICE.version,
        description: expect.stringContaining("NetEase IM"),
        links: { openapi: "/openapi.json", health: "/healthz", ready: "/readyz" },
      });
    }
    const missing = await call("/v2/token");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({
      error: "not_found",
      message: "No such endpoint; the API is described at /openapi.json.",
    });
  });
});
