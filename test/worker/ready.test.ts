/** GET /readyz: proves the configuration, KV, the JWKS and that NetEase accepts our signed calls. */

import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { NIM } from "../../src/constants.ts";
import { readySchema } from "../../src/responses.ts";
import {
  adminCall,
  call,
  emulatedAccount,
  env,
  injectFault,
  jwksSettings,
  ownRuntime,
  registerAtNetEase,
  stockAccid,
  uniqueUid,
} from "./helpers.ts";

type Ready = v.InferOutput<typeof readySchema>;

async function ready(overrides: Record<string, unknown> = {}): Promise<{ status: number; body: Ready }> {
  const response = await call("/readyz", {}, overrides);
  const body = await response.json<Ready>();
  expect(v.is(readySchema, body)).toBe(true);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  return { status: response.status, body };
}

describe("GET /readyz", () => {
  it("is 200 when configuration, KV and NetEase all answer, naming each check with its latency", async () => {
    const { status, body } = await ready({ NIM_REGION: "cn" });
    expect(status).toBe(200);
    expect(body.status).toBe("ready");
    expect(Object.keys(body.checks).sort()).toEqual(["config", "kv", "netease"]);
    for (const check of Object.values(body.checks)) expect(check).toMatchObject({ ok: true, outcome: "ok" });
  });

  it("is 503 credentials_rejected for a wrong app secret, never showing it", async () => {
    const secret = "a-wrong-app-secret-for-readiness";
    const response = await call("/readyz", {}, { NIM_APP_SECRET: secret });
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).not.toContain(secret);
    const body = JSON.parse(text) as Ready;
    expect(body).toMatchObject({ status: "not_ready", failed: ["netease"] });
    expect(body.checks.netease).toMatchObject({ ok: false, outcome: "credentials_rejected" });
  });

  it("is 503 unreachable when no NetEase base answers", async () => {
    const { status, body } = await ready({ NIM_API_BASE: "http://127.0.0.1:1/nimserver" });
    expect(status).toBe(503);
    expect(body.checks.netease).toMatchObject({ ok: false, outcome: "unreachable" });
  });

  it("checks the JWKS when one is configured, and KV", async () => {
    const jwks = await ready(jwksSettings(`/jwks/${crypto.randomUUID()}.json`));
    expect(jwks.body.checks["keys:jwks"]).toMatchObject({ ok: true });
    const path = `/jwks/${crypto.randomUUID()}.json`;
    await fetch(`${env.IDP_URL}/down${path}`, { method: "POST" });
    const down = await ready(jwksSettings(path));
    expect(down).toMatchObject({ status: 503, body: { failed: ["keys:jwks"] } });
    const brokenKv = {
      get: () => Promise.reject(new Error("KV down")),
      put: () => Promise.reject(new Error("KV down")),
    };
    const kv = await ready({ ACCOUNTS: brokenKv });
    expect(kv).toMatchObject({ status: 503, body: { failed: ["kv"] } });
  });

  it("reuses the NetEase probe for 30 s per isolate, so polling cannot exhaust NetEase's rate", async () => {
    const settings = ownRuntime();
    const before = (await emulatedAccount(NIM.readyProbeAccid)).calls.getUinfos ?? 0;
    for (let i = 0; i < 5; i++) expect((await ready(settings)).status).toBe(200);
    const after = (await emulatedAccount(NIM.readyProbeAccid)).calls.getUinfos ?? 0;
    expect(after - before).toBe(1);
  });

  it("asks NetEase and the identity provider once for many concurrent polls (single-flight)", async () => {
    const path = `/jwks/${crypto.randomUUID()}.json`;
    const settings = { ...jwksSettings(path), ...ownRuntime() };
    const before = (await emulatedAccount(NIM.readyProbeAccid)).calls.getUinfos ?? 0;
    const answers = await Promise.all(Array.from({ length: 20 }, () => ready(settings)));
    expect(answers.map((a) => a.status)).toEqual(answers.map(() => 200));
    const after = (await emulatedAccount(NIM.readyProbeAccid)).calls.getUinfos ?? 0;
    expect(after - before).toBe(1);
    const fetches = await (await fetch(`${env.IDP_URL}/fetches`)).json<Record<string, number>>();
    expect(fetches[path]).toBe(1);
  });

  it("does not let a 416 answered to its probe block real work", async () => {
    const settings = ownRuntime();
    await injectFault(NIM.readyProbeAccid, "user/getUinfos.action", "code416");
    const { status, body } = await ready(settings);
    expect(status).toBe(503);
    expect(body.checks.netease).toMatchObject({ ok: false, outcome: "rate_limited" });
    // The Worker's own NetEase client (an import asks it whether accids exist) did not take the
    // probe's 416 as NetEase's 10 s block.
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const imported = await adminCall("POST", "/accounts/import", [{ uid: uniqueUid(), accid }], {
      overrides: settings,
    });
    expect(imported.status).toBe(200);
    expect((await imported.json<{ counts: { bound: number } }>()).counts.bound).toBe(1);
  });

  it("fails a check that takes longer than its timeout, without waiting for it", async () => {
    const { status, body } = await ready(jwksSettings(`/slow/${crypto.randomUUID()}.json`));
    expect(status).toBe(503);
    expect(body.failed).toEqual(["keys:jwks"]);
    expect(body.checks["keys:jwks"]!.ok).toBe(false);
  });

  it("names the configuration problem when the settings are unusable", async () => {
    const { status, body } = await ready({ ACCID_SECRET: "" });
    expect(status).toBe(503);
    expect(body).toMatchObject({ failed: ["config"], checks: { config: { ok: false } } });
    expect(body.checks.config!.outcome).toContain("ACCID_SECRET");
  });
});
