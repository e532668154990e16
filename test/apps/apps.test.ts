/**
 * Several NetEase apps from one deployment (NIM_APPS): `cn` (the home app, Worker secrets, server API
 * v1) and `sg` (its app secret in the Secrets Store, v2, its own ttl bounds), each a separate app at
 * the emulator. Every test sends real requests through the Worker and checks what NetEase (the
 * emulator) and KV hold afterwards.
 */

import { describe, expect, it, vi } from "vitest";
import type { RtcTokenResponse, TokenResponse } from "../../src/contract/responses.ts";
import { ANALYTICS_READ_TOKEN, TEST_APPS } from "../settings.ts";
import { adminCall, call, env, esJwt, hsJwt, type Overrides, ownRuntime, seg, uniqueUid } from "../worker/helpers.ts";
import { callbackHeaders, dynamicToken, tokenFields } from "../worker/netease-signing.ts";
import { type AppName, atNetEase, backendAndPartnerIssuers } from "./helpers.ts";

/** POST to a token endpoint of `app` (`/v1/apps/{app}/…`), or of the home app's path when `app` is undefined. */
function post(
  endpoint: "token" | "rtc/token" | "sessions/revoke",
  app: string | undefined,
  jwt: string,
  body?: unknown,
  overrides: Overrides = {},
): Promise<Response> {
  const path = app === undefined ? `/v1/${endpoint}` : `/v1/apps/${app}/${endpoint}`;
  const headers: Record<string, string> = { Authorization: `Bearer ${jwt}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return call(
    path,
    { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) },
    overrides,
  );
}

async function tokenIn(app: AppName | undefined, jwt: string, overrides: Overrides = {}): Promise<TokenResponse> {
  const response = await post("token", app, jwt, undefined, overrides);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

async function accountAt(app: AppName, accid: string): Promise<{ exists: boolean; blocked: boolean }> {
  return (await atNetEase(app, `/emulator/accounts/${encodeURIComponent(accid)}`)).json();
}

async function loginAt(app: AppName, accid: string, token: string): Promise<{ code: number }> {
  return (await atNetEase(app, "/emulator/login", { method: "POST", body: JSON.stringify({ accid, token }) })).json();
}

/** What `app`'s NetEase would send to the login callback for this login, signed with that app's secret. */
async function signedCallback(app: AppName, accid: string, token: string): Promise<RequestInit> {
  const signed = await (
    await atNetEase(app, "/emulator/callbacks/login", { method: "POST", body: JSON.stringify({ accid, token }) })
  ).json<{ headers: Record<string, string>; body: string }>();
  return { method: "POST", headers: signed.headers, body: signed.body };
}

describe("two NetEase apps from one deployment", () => {
  it("issues sg's token at /v1/apps/sg/token: sg's app key, valid with sg's secret only, its account at sg only", async () => {
    const uid = uniqueUid("apps");
    const body = await tokenIn("sg", await hsJwt(uid));
    expect(body.appKey).toBe(TEST_APPS.sg.appKey);
    // sg's own ttl default (cn's is the standard 600).
    expect(body.ttl).toBe(300);
    const { curTime, ttl } = tokenFields(body.token);
    const signedWith = (app: AppName) =>
      dynamicToken({
        appKey: TEST_APPS[app].appKey,
        accid: body.accid,
        curTime,
        ttl,
        appSecret: TEST_APPS[app].appSecret,
      });
    // sg's secret lives only in the Secrets Store (test/apps/setup.ts): the Worker read it there.
    expect(body.token).toBe(signedWith("sg"));
    expect(body.token).not.toBe(signedWith("cn"));
    expect(await loginAt("sg", body.accid, body.token)).toMatchObject({ code: 200 });
    expect((await loginAt("cn", body.accid, body.token)).code).not.toBe(200);
    expect(await accountAt("sg", body.accid)).toMatchObject({ exists: true });
    expect(await accountAt("cn", body.accid)).toMatchObject({ exists: false });
    expect(await env.ACCOUNTS!.get(`sg/uid:${uid}`)).not.toBeNull();
    expect(await env.ACCOUNTS!.get(`cn/uid:${uid}`)).toBeNull();
    expect(await env.ACCOUNTS!.get(`uid:${uid}`)).toBeNull();
  });

  it("serves the home app (cn, the first listed) at the paths without an app name", async () => {
    const uid = uniqueUid("apps");
    const jwt = await hsJwt(uid);
    const home = await tokenIn(undefined, jwt);
    expect(home.appKey).toBe(TEST_APPS.cn.appKey);
    expect(home.ttl).toBe(600);
    expect((await tokenIn("cn", jwt)).accid).toBe(home.accid);
    expect(await loginAt("cn", home.accid, home.token)).toMatchObject({ code: 200 });
    expect(await accountAt("sg", home.accid)).toMatchObject({ exists: false });
    // Each app's ttl bounds are its own: 2000 s is within cn's 3600, beyond sg's 1800.
    expect((await post("token", "cn", jwt, { ttl: 2000 })).status).toBe(200);
    expect((await post("token", "sg", jwt, { ttl: 2000 })).status).toBe(400);
  });

  it("issues NERTC tokens and permission keys per app, each checked by its own app at NERTC", async () => {
    const uid = uniqueUid("apps");
    const response = await post("rtc/token", "sg", await hsJwt(uid), { channelName: "room-1" });
    expect(response.status).toBe(200);
    const body = await response.json<RtcTokenResponse>();
    expect(body.appKey).toBe(TEST_APPS.sg.appKey);
    expect(body.permKey).toBeDefined();
    const join = { uid: body.uid, channelName: "room-1", token: body.token, permKey: body.permKey };
    const joinAt = async (app: AppName) =>
      (await atNetEase(app, "/emulator/rtc/join", { method: "POST", body: JSON.stringify(join) })).json<{
        code: number;
      }>();
    expect(await joinAt("sg")).toMatchObject({ code: 200 });
    expect((await joinAt("cn")).code).toBe(403);
  });

  it("keeps a uid in two apps as two accounts: a block in cn leaves sg's tokens flowing", async () => {
    const uid = uniqueUid("apps");
    const jwt = await hsJwt(uid);
    const cn = await tokenIn("cn", jwt);
    const sg = await tokenIn("sg", jwt);
    const blocked = await adminCall("POST", `/apps/cn/accounts/${seg(uid)}/block`, {});
    expect(blocked.status).toBe(200);
    expect((await post("token", "cn", jwt)).status).toBe(403);
    expect((await post("token", undefined, jwt)).status).toBe(403);
    expect((await post("token", "sg", jwt)).status).toBe(200);
    expect(await accountAt("cn", cn.accid)).toMatchObject({ exists: true, blocked: true });
    expect(await accountAt("sg", sg.accid)).toMatchObject({ exists: true, blocked: false });
    // The operator's view: cn's record is blocked (also at the home app's paths), sg's is not, and
    // only cn's audit trail has the block.
    expect(await (await adminCall("GET", `/accounts/${seg(uid)}`)).json()).toMatchObject({ status: "blocked" });
    expect(await (await adminCall("GET", `/apps/sg/accounts/${seg(uid)}`)).json()).toMatchObject({ status: "active" });
    const history = async (app: AppName) =>
      (
        await (
          await adminCall("GET", `/apps/${app}/accounts/${seg(uid)}/history`)
        ).json<{
          entries: { operation: string }[];
        }>()
      ).entries.map((entry) => entry.operation);
    expect(await history("cn")).toContain("block");
    expect(await history("sg")).not.toContain("block");
  });

  it("signs a user out of one app only", async () => {
    const uid = uniqueUid("apps");
    const jwt = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 5 });
    await tokenIn("cn", jwt);
    await tokenIn("sg", jwt);
    expect((await post("sessions/revoke", "sg", jwt, {})).status).toBe(200);
    const refused = await post("token", "sg", jwt);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: "session_revoked" });
    expect((await post("token", "cn", jwt)).status).toBe(200);
  });

  it("answers NetEase's login callback for every app at one URL, each checked with its own secret", async () => {
    const uid = uniqueUid("apps");
    const jwt = await hsJwt(uid);
    const sg = await tokenIn("sg", jwt);
    const cn = await tokenIn("cn", jwt);
    const decide = async (init: RequestInit) => {
      const response = await call("/v1/nim/login-callback", init);
      return { status: response.status, body: await response.json<{ errCode?: number; error?: string }>() };
    };
    // sg's NetEase asks about sg's token: allowed. About cn's token for the same accid: refused.
    expect(await decide(await signedCallback("sg", sg.accid, sg.token))).toMatchObject({
      status: 200,
      body: { errCode: 0 },
    });
    expect(await decide(await signedCallback("sg", cn.accid, cn.token))).toMatchObject({
      status: 200,
      body: { errCode: 1 },
    });
    expect(await decide(await signedCallback("cn", cn.accid, cn.token))).toMatchObject({
      status: 200,
      body: { errCode: 0 },
    });
    // A request naming sg but signed with cn's secret, and an app key the deployment does not serve
    // (signed with its own secret), are refused as any bad signature is.
    const body = JSON.stringify({ accid: sg.accid, token: sg.token, eventType: 36 });
    const mixed = callbackHeaders(body, { appKey: TEST_APPS.sg.appKey, appSecret: TEST_APPS.cn.appSecret });
    expect(await decide({ method: "POST", headers: mixed, body })).toMatchObject({ status: 401 });
    const stranger = callbackHeaders(body, { appKey: "strangerappkey000000000000000000", appSecret: "its-own-secret" });
    expect(await decide({ method: "POST", headers: stranger, body })).toMatchObject({ status: 401 });
  });

  it("refuses an app it does not serve with 404 unknown_app, after the session check", async () => {
    const jwt = await hsJwt(uniqueUid("apps"));
    for (const endpoint of ["token", "rtc/token", "sessions/revoke"] as const) {
      // The token door takes a well-formed name; Hono answers any other the same way.
      for (const app of ["nope", "NOPE", "a_b"]) {
        const response = await post(endpoint, app, jwt, endpoint === "rtc/token" ? { channelName: "c" } : {});
        expect(response.status, `${endpoint} ${app}`).toBe(404);
        expect(await response.json()).toMatchObject({ error: "unknown_app" });
      }
      // A bad credential is answered the same whether the app exists or not.
      const bad = await post(endpoint, "nope", "not.a.jwt", {});
      expect(bad.status).toBe(401);
    }
    const admin = await adminCall("GET", `/apps/nope/accounts/${seg(uniqueUid())}`);
    expect(admin.status).toBe(404);
    expect(await admin.json()).toMatchObject({ error: "unknown_app" });
    // The app comes first: whatever else is wrong with the request (here its body), it is unknown.
    for (const [method, path] of [
      ["POST", "/apps/nope/accounts/import"],
      ["POST", `/apps/nope/accounts/${seg(uniqueUid())}/block`],
    ]) {
      const badBody = await adminCall(method!, path!, "not json", { contentType: "application/json" });
      expect(await badBody.json(), path).toMatchObject({ error: "unknown_app" });
    }
  });

  it("logs no success on a named app's token paths (as on the home app's), and each refusal by its route", async () => {
    const lines: string[] = [];
    const capture = (line: unknown) => void lines.push(String(line));
    const spies = [vi.spyOn(console, "log"), vi.spyOn(console, "warn"), vi.spyOn(console, "error")].map((spy) =>
      spy.mockImplementation(capture),
    );
    const jwt = await hsJwt(uniqueUid("apps"));
    try {
      await tokenIn("sg", jwt);
      expect((await post("rtc/token", "sg", jwt, { channelName: "room-1" })).status).toBe(200);
      // Through Hono (a query string) as through the token door.
      expect(
        (await call("/v1/apps/sg/token?x=1", { method: "POST", headers: { Authorization: `Bearer ${jwt}` } })).status,
      ).toBe(200);
      expect(lines.filter((line) => line.includes('"status":200'))).toEqual([]);
      expect((await post("token", "sg", jwt, { ttl: 1 })).status).toBe(400);
      expect(
        (
          await call("/v1/apps/sg/token?x=1", {
            method: "POST",
            body: "{",
            headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
          })
        ).status,
      ).toBe(400);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const routes = lines.map((line) => (JSON.parse(line) as { route?: string }).route);
    expect(routes).toEqual(["/v1/apps/:app/token", "/v1/apps/:app/token"]);
  });

  it("lists its apps for operators, home app marked", async () => {
    const response = await adminCall("GET", "/apps");
    expect(await response.json()).toEqual({
      apps: [
        { name: "cn", appKey: TEST_APPS.cn.appKey, apiVersion: "v1", home: true },
        { name: "sg", appKey: TEST_APPS.sg.appKey, apiVersion: "v2", home: false },
      ],
    });
    expect(
      (await adminCall("GET", "/apps", undefined, { token: "wrong-admin-token-0123456789-abcdefghij" })).status,
    ).toBe(401);
  });
});

describe("an app's secret in the Secrets Store", () => {
  it("fails only that app, 500 misconfigured, when the store cannot give it; readiness says which", async () => {
    const missing = { get: () => Promise.reject(new Error('Secret "nim-app-secret-sg" not found')) };
    const overrides = { ...ownRuntime(), NIM_APP_SECRET_SG: missing };
    const jwt = await hsJwt(uniqueUid("apps"));
    const refused = await post("token", "sg", jwt, undefined, overrides);
    expect(refused.status).toBe(500);
    expect(await refused.json()).toMatchObject({ error: "misconfigured" });
    expect((await post("token", "cn", jwt, undefined, overrides)).status).toBe(200);
    const ready = await (await adminCall("GET", "/ready", undefined, { overrides })).json<{
      failed: string[];
      checks: Record<string, { outcome: string }>;
    }>();
    expect(ready.failed).toEqual(["netease:sg"]);
    expect(ready.checks["netease:sg"]).toMatchObject({ outcome: "secret_unreadable" });
    expect(ready.checks["netease:cn"]).toMatchObject({ outcome: "ok" });
    // /readyz tells anyone the kind of check only, not the app.
    expect(await (await call("/readyz", {}, overrides)).json()).toEqual({ status: "not_ready", failed: ["netease"] });
  });

  it("checks each app's credentials at NetEase: a wrong cn secret is cn's failure only", async () => {
    const overrides = { ...ownRuntime(), NIM_APP_SECRET_CN: "not-cn-s-secret-0123456789" };
    const ready = await (await adminCall("GET", "/ready", undefined, { overrides })).json<{
      failed: string[];
      checks: Record<string, { outcome: string }>;
    }>();
    expect(ready.checks["netease:cn"]).toMatchObject({ outcome: "credentials_rejected" });
    expect(ready.checks["netease:sg"]).toMatchObject({ outcome: "ok" });
    expect(ready.failed).toEqual(["netease:cn"]);
  });
});

/** The test NIM_APPS with `match` rules added (names, keys and secrets as the account objects know them). */
function appsWithMatches(matches: Partial<Record<AppName, object>>): string {
  const apps = JSON.parse(env.NIM_APPS!) as { name: AppName }[];
  return JSON.stringify(apps.map((app) => (matches[app.name] ? { ...app, match: matches[app.name] } : app)));
}

describe("which app a session uses", () => {
  it("by a claim's value: first match wins, else the home app; a session may not name an app it does not match", async () => {
    const overrides = { NIM_APPS: appsWithMatches({ sg: { claim: "region", value: "sg" } }) };
    const sgUser = await hsJwt(uniqueUid("apps"), { claims: { region: "sg" } });
    const cnUser = await hsJwt(uniqueUid("apps"), { claims: { region: "cn" } });
    const nearly = await hsJwt(uniqueUid("apps"), { claims: { region: "SG" } });
    expect((await tokenIn(undefined, sgUser, overrides)).appKey).toBe(TEST_APPS.sg.appKey);
    expect((await tokenIn(undefined, cnUser, overrides)).appKey).toBe(TEST_APPS.cn.appKey);
    // Exact values only: "SG" is not "sg".
    expect((await tokenIn(undefined, nearly, overrides)).appKey).toBe(TEST_APPS.cn.appKey);
    // cn has no rule: any session may name it. sg has one: only its sessions may.
    expect((await tokenIn("cn", sgUser, overrides)).appKey).toBe(TEST_APPS.cn.appKey);
    for (const [endpoint, body] of [
      ["token", undefined],
      ["rtc/token", { channelName: "c" }],
      ["sessions/revoke", {}],
    ] as const) {
      const refused = await post(endpoint, "sg", cnUser, body, overrides);
      expect(refused.status, endpoint).toBe(403);
      expect(await refused.json()).toMatchObject({ error: "app_not_allowed" });
    }
  });

  it("by the issuer that verified the session: a partner's user cannot reach the app of the backend's users", async () => {
    const overrides = {
      ...backendAndPartnerIssuers(),
      NIM_APPS: appsWithMatches({ cn: { issuer: "backend" }, sg: { issuer: "partner" } }),
    };
    const backendUser = await hsJwt(uniqueUid("apps"));
    const partnerUser = await esJwt(uniqueUid("apps"));
    expect((await tokenIn(undefined, backendUser, overrides)).appKey).toBe(TEST_APPS.cn.appKey);
    expect((await tokenIn(undefined, partnerUser, overrides)).appKey).toBe(TEST_APPS.sg.appKey);
    expect((await post("token", "cn", partnerUser, undefined, overrides)).status).toBe(403);
    expect((await post("token", "sg", backendUser, undefined, overrides)).status).toBe(403);
  });

  it("refuses with 403 at the paths without a name when even the home app's rule does not hold", async () => {
    const overrides = {
      NIM_APPS: appsWithMatches({ cn: { claim: "tenant", value: "acme" }, sg: { claim: "region", value: "sg" } }),
    };
    const response = await post("token", undefined, await hsJwt(uniqueUid("apps")), undefined, overrides);
    expect(response.status).toBe(403);
    expect(await response.json()).toMatchObject({ error: "app_not_allowed" });
  });
});

describe("what each app keeps apart", () => {
  it("counts each uid's token requests per app", async () => {
    const asked: string[] = [];
    const limiter = {
      limit: async ({ key }: { key: string }) => {
        asked.push(key);
        return { success: true };
      },
    };
    const uid = uniqueUid("apps");
    const jwt = await hsJwt(uid);
    const overrides = { TOKEN_RATE_LIMITER: limiter };
    await tokenIn("cn", jwt, overrides);
    await tokenIn("sg", jwt, overrides);
    expect(asked).toEqual([`app:cn/uid:${uid}`, `app:sg/uid:${uid}`]);
  });

  it("writes the app's name into every metric point, never a uid", async () => {
    const points: { blobs?: unknown[] }[] = [];
    const overrides = { METRICS: { writeDataPoint: (point: { blobs?: unknown[] }) => points.push(point) } };
    const uid = uniqueUid("apps");
    const jwt = await hsJwt(uid);
    await tokenIn("cn", jwt, overrides);
    await tokenIn("sg", jwt, overrides);
    const issued = points.map((point) => point.blobs).filter((blobs) => blobs?.[0] === "token_issued");
    expect(issued).toEqual([
      ["token_issued", "im", "", "cn"],
      ["token_issued", "im", "", "sg"],
    ]);
    expect(JSON.stringify(points)).not.toContain(uid);
  });

  it("groups every metrics query of the console by app (the default app's points carry none)", async () => {
    const before = (await (await fetch(`${env.IDP_URL}/analytics/queries`)).json<string[]>()).length;
    const overrides = {
      ANALYTICS_ACCOUNT_ID: "0123456789abcdef0123456789abcdef",
      ANALYTICS_READ_TOKEN,
      ANALYTICS_SQL_API: `${env.IDP_URL}/client/v4`,
    };
    expect((await adminCall("GET", "/metrics", undefined, { overrides })).status).toBe(200);
    const sent = (await (await fetch(`${env.IDP_URL}/analytics/queries`)).json<string[]>()).slice(before);
    expect(sent).toHaveLength(5);
    for (const sql of sent) {
      expect(sql).toMatch(/^SELECT if\(blob4 = '', 'default', blob4\) AS app, /);
      expect(sql).toMatch(/ GROUP BY app[, ]/);
    }
  });

  it("paces first-time creations in each app's own pacer (NetEase caps each app apart)", async () => {
    const names: string[] = [];
    const pacers = env.NIM_CREATE_PACER!;
    const recording = {
      idFromName: (name: string) => {
        names.push(name);
        return pacers.idFromName(name);
      },
      get: (id: DurableObjectId) => pacers.get(id),
    };
    const overrides = { NIM_CREATE_PACER: recording };
    await tokenIn("cn", await hsJwt(uniqueUid("apps")), overrides);
    await tokenIn("sg", await hsJwt(uniqueUid("apps")), overrides);
    expect(names).toEqual([`create-pacer:${TEST_APPS.cn.appKey}`, `create-pacer:${TEST_APPS.sg.appKey}`]);
  });
});
