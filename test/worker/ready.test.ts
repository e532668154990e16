/** GET /readyz: proves the configuration, KV, the JWKS and that NetEase accepts our signed calls. */

import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { readinessSchema, readySchema } from "../../src/contract/responses.ts";
import { NIM } from "../../src/core/constants.ts";
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

type Readiness = v.InferOutput<typeof readinessSchema>;

/** An operator's GET /admin/v1/ready: every check's outcome; and /readyz agrees on the status. */
async function ready(overrides: Record<string, unknown> = {}): Promise<{ status: number; body: Readiness }> {
  const response = await adminCall("GET", "/ready", undefined, { overrides });
  const body = await response.json<Readiness>();
  expect(v.is(readinessSchema, body)).toBe(true);
  expect(response.headers.get("Cache-Control")).toBe("no-store");
  const anyone = await call("/readyz", {}, overrides);
  expect(v.is(readySchema, await anyone.json())).toBe(true);
  expect(anyone.status).toBe(response.status);
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
    const response = await adminCall("GET", "/ready", undefined, { overrides: { NIM_APP_SECRET: secret } });
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).not.toContain(secret);
    const body = JSON.parse(text) as Readiness;
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

  it("tells anyone the status and which kinds of check failed; only an operator sees issuers and outcomes", async () => {
    const path = `/jwks/${crypto.randomUUID()}.json`;
    await fetch(`${env.IDP_URL}/down${path}`, { method: "POST" });
    const settings = { ...jwksSettings(path), NIM_API_BASE: "http://127.0.0.1:1/nimserver" };
    const anyone = await call("/readyz", {}, settings);
    expect(anyone.status).toBe(503);
    const text = await anyone.text();
    expect(JSON.parse(text)).toEqual({ status: "not_ready", failed: ["netease", "keys"] });
    // No issuer's name, no fetch failure, no NetEase outcome.
    for (const word of ["jwks", "unreachable", "outcome", "latencyMs", "127.0.0.1"]) expect(text).not.toContain(word);
    const operator = await ready(settings);
    expect(operator.body.failed).toEqual(["netease", "keys:jwks"]);
    expect(operator.body.checks.netease).toMatchObject({ ok: false, outcome: "unreachable" });
    const healthy = await call("/readyz", {}, ownRuntime());
    expect(await healthy.json()).toEqual({ status: "ready", failed: [] });
  });

  it("takes no credential: the details are the admin API's, behind its authentication", async () => {
    const withToken = await call("/readyz", { headers: { Authorization: `Bearer ${env.ADMIN_TOKEN}` } });
    expect(await withToken.json()).toEqual({ status: "ready", failed: [] });
    expect((await adminCall("GET", "/ready", undefined, { token: "not-the-admin-token" })).status).toBe(401);
    expect((await adminCall("GET", "/ready", undefined, { token: null })).status).toBe(401);
  });

  it("says only that the configuration failed when the settings are unusable (/healthz names them)", async () => {
    const response = await call("/readyz", {}, { ACCID_SECRET: "" });
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ status: "not_ready", failed: ["config"] });
  });
});
