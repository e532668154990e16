/**
 * The emulator follows the real service where NetEase leaves room: getUinfos may fail a whole batch
 * for one unknown accid, and over its rate NetEase answers 416 and refuses the app for ~10 s. The
 * Worker's own NetEase client (src/nim/server-api.ts) is run against both, in Node, in both API
 * versions. The emulator's own surface is checked here too, as NetEase's Go server SDK reads it.
 */

import { createHash } from "node:crypto";
import { deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { objectName } from "../../emulator/apps.ts";
import {
  callbackHeaders,
  checkDynamicToken,
  checkPermissionKey,
  checkRtcToken,
  decodePermissionKey,
  permissionKeyChecksum,
  sameText,
  serverApiCheckSum,
} from "../../emulator/netease.ts";
import { type RunningEmulator, startEmulator } from "../../emulator/serve.ts";
import { devApps, devNimApps, parseDevVars } from "../../scripts/dev-vars.ts";
import { nimServerApi } from "../../src/nim/connect.ts";
import vectors from "../fixtures/nim-signing.json";
import { type NetEaseBody, netEaseCall } from "../netease-call.ts";

const appKey = "emulatortestappkey00000000000000";
const appSecret = "emulator-test-secret";

describe("getUinfos that fails the whole batch for an unknown accid", () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ appKey, appSecret, getUinfosUnknown: "fail" });
  });
  afterAll(() => emulator.dispose());

  it("still finds exactly the accids that exist, by narrowing the batch", async () => {
    const nim = nimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret, apiVersion: "v1" });
    const known = ["stock_a", "stock_b", "Stock_C"];
    for (const accid of known) await nim.createAccount(accid);
    const batch = ["stock_a", "nobody_1", "stock_b", "nobody_2", "stock_c", "nobody_3", "STOCK_A"];
    expect(await nim.existingAccounts(batch)).toEqual(new Set(["stock_a", "stock_b", "stock_c"]));
    expect(await nim.existingAccounts(["nobody_4"])).toEqual(new Set());
    expect(await nim.existingAccounts([])).toEqual(new Set());
  });
});

describe.each(["v1", "v2"] as const)("NetEase's frequency limit (%s)", (apiVersion) => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ appKey, appSecret, rateLimitPerSecond: 3 });
  });
  afterAll(() => emulator.dispose());

  it("answers 416 over the rate and keeps refusing for a while; the client then stops calling", async () => {
    const direct = nimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret, apiVersion });
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      outcomes.push(
        await direct.createAccount(`burst_${i}`).then(
          () => "ok",
          (e: { kind?: string }) => e.kind ?? "error",
        ),
      );
    }
    expect(outcomes.slice(0, 3)).toEqual(["ok", "ok", "ok"]);
    expect(outcomes[3]).toBe("upstream_rate_limited"); // 416
    expect(outcomes[4]).toBe("upstream_rate_limited"); // refused by the client itself during the block
    // Another client (another isolate) still meets NetEase's refusal, not a fresh budget.
    const other = nimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret, apiVersion });
    expect(await other.probe("anyone")).toBe("rate_limited");
    // The emulator counts the 416s it answered (the bench's burst scenario reports them): the
    // 4th create and the other client's probe; the 5th create never left its client.
    const stats = (await (await fetch(`${emulator.url}/emulator/stats`)).json()) as { rateRefusals: number };
    expect(stats.rateRefusals).toBe(2);
  });
});

describe("the emulator as NetEase's own server SDK sees it", () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ appKey, appSecret });
  });
  afterAll(() => emulator.dispose());

  /** A signed server API call, as NetEase's SDKs send it. */
  async function signed(method: string, path: string, body?: NetEaseBody) {
    const response = await netEaseCall(`${emulator.url}/nimserver`, { appKey, appSecret }, method, path, body);
    expect(response.status).toBe(200); // NetEase answers every API call with HTTP 200
    // biome-ignore lint/suspicious/noExplicitAny: the tests read NetEase's answers field by field.
    return (await response.json()) as Record<string, any>;
  }

  it("serves the liveness probe NetEase's SDK ranks endpoints by, on both bases, unauthenticated", async () => {
    for (const base of ["nimserver", "backup/nimserver"]) {
      expect((await fetch(`${emulator.url}/${base}/health/liveness.action`)).status).toBe(200);
    }
  });

  it("stores create.action's profile fields and answers getUinfos with the documented fields", async () => {
    const created = await signed("POST", "user/create.action", {
      form: {
        accid: "Profile_1",
        name: "Ada",
        icon: "https://example.com/a.png",
        sign: "hi",
        email: "ada@example.com",
        birth: "1815-12-10",
        mobile: "+44-1",
        gender: "2",
        ex: '{"k":1}',
      },
    });
    expect(created).toMatchObject({ code: 200, info: { accid: "profile_1", name: "Ada" } });
    const { uinfos } = await signed("POST", "user/getUinfos.action", { form: { accids: '["profile_1"]' } });
    expect(uinfos).toEqual([
      {
        accid: "profile_1",
        name: "Ada",
        icon: "https://example.com/a.png",
        sign: "hi",
        email: "ada@example.com",
        birth: "1815-12-10",
        mobile: "+44-1",
        ex: '{"k":1}',
        gender: 2,
        valid: true,
        mute: false,
      },
    ]);
    const withMutes = await signed("POST", "user/getUinfos.action", {
      form: { accids: '["profile_1"]', muteStatus: "true" },
    });
    expect(withMutes.uinfos[0]).toMatchObject({ muteP2P: false, muteQChat: false, muteTeam: false, muteRoom: false });
    expect(await signed("POST", "user/create.action", { form: { accid: "profile_2", gender: "7" } })).toMatchObject({
      code: 414,
    });
    expect(
      await signed("POST", "user/create.action", { form: { accid: "profile_2", name: "n".repeat(65) } }),
    ).toMatchObject({ code: 414 });
  });

  it("reads a blocked account as valid: false, so blocked and unblocked accounts differ", async () => {
    await signed("POST", "user/create.action", { form: { accid: "valid_1" } });
    await signed("POST", "user/block.action", { form: { accid: "valid_1", needkick: "false" } });
    const blocked = await signed("POST", "user/getUinfos.action", { form: { accids: '["valid_1"]' } });
    expect(blocked.uinfos[0].valid).toBe(false);
    await signed("POST", "user/unblock.action", { form: { accid: "valid_1" } });
    const unblocked = await signed("POST", "user/getUinfos.action", { form: { accids: '["valid_1"]' } });
    expect(unblocked.uinfos[0].valid).toBe(true);
  });

  it("serves v2 over the same accounts: what v1 made, v2 reads and changes, and the other way round", async () => {
    await signed("POST", "user/create.action", { form: { accid: "both_1", name: "One" } });
    const made = await signed("POST", "im/v2/accounts", {
      json: { account_id: "Both_2", user_information: { name: "Two", avatar: "https://example.com/2.png", gender: 1 } },
    });
    expect(made).toMatchObject({
      code: 200,
      data: {
        account_id: "both_2",
        configuration: { enabled: true },
        user_information: { name: "Two", avatar: "https://example.com/2.png", gender: 1 },
      },
    });
    const query = await signed("GET", "im/v2/accounts?account_ids=both_1,both_2,nobody_9");
    expect(query.data.success_list.map((a: { account_id: string }) => a.account_id)).toEqual(["both_1", "both_2"]);
    expect(query.data.failed_list).toEqual([
      { account_id: "nobody_9", error_code: 404, error_msg: "account not exist" },
    ]);
    const { uinfos } = await signed("POST", "user/getUinfos.action", { form: { accids: '["both_2"]' } });
    expect(uinfos[0]).toMatchObject({
      accid: "both_2",
      name: "Two",
      icon: "https://example.com/2.png",
      gender: 1,
      valid: true,
    });

    expect(
      await signed("PATCH", "im/v2/accounts/both_1/actions/disable", { json: { enabled: false, need_kick: true } }),
    ).toMatchObject({ code: 200, data: { account_id: "both_1", enabled: false } });
    expect((await signed("POST", "user/getUinfos.action", { form: { accids: '["both_1"]' } })).uinfos[0].valid).toBe(
      false,
    );
    expect(await signed("POST", "user/unblock.action", { form: { accid: "both_1" } })).toMatchObject({ code: 200 });
    expect((await signed("GET", "im/v2/accounts/both_1")).data).toMatchObject({
      account_id: "both_1",
      configuration: { enabled: true },
    });

    expect(await signed("POST", "im/v2/accounts/both_1/actions/kick", { json: { type: 1 } })).toMatchObject({
      code: 200,
    });
    const seen = (await (await fetch(`${emulator.url}/emulator/accounts/both_1`)).json()) as {
      kicks: number;
      blocked: boolean;
    };
    expect(seen).toMatchObject({ kicks: 2, blocked: false }); // the disable with need_kick, then the kick
    expect(await signed("POST", "im/v2/accounts/both_1/actions/kick", { json: { type: 2 } })).toMatchObject({
      code: 414,
    });
    expect(await signed("POST", "im/v2/accounts/nobody_9/actions/kick", { json: { type: 1 } })).toMatchObject({
      code: 404,
    });
    expect(await signed("POST", "im/v2/accounts", { json: { account_id: "BOTH_1" } })).toMatchObject({ code: 414 });
  });
});

describe("the emulator's own signing code (emulator/netease.ts) against NetEase's vectors", () => {
  it.each(vectors.dynamicToken.vectors)("accepts the dynamic token for $accid, and only for it", (v) => {
    const now = v.curTime + 1000;
    expect(checkDynamicToken(v.token, v.appKey, v.accid, v.appSecret, now)).toEqual({
      ok: true,
      expiresAt: v.curTime + v.ttl * 1000,
    });
    expect(checkDynamicToken(v.token, v.appKey, `${v.accid}x`, v.appSecret, now)).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    expect(checkDynamicToken(v.token, v.appKey, v.accid, v.appSecret, v.curTime + v.ttl * 1000)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it.each(vectors.rtcToken.vectors)("accepts the NERTC token for uid $uid in its channel only", (v) => {
    const now = v.curTime + 1000;
    expect(checkRtcToken(v.token, v.appKey, v.uid, v.channelName, v.appSecret, now)).toMatchObject({ ok: true });
    expect(checkRtcToken(v.token, v.appKey, v.uid + 1, v.channelName, v.appSecret, now)).toMatchObject({ ok: false });
    expect(checkRtcToken(v.token, v.appKey, v.uid, "other", v.appSecret, now)).toMatchObject({ ok: false });
  });

  it.each(vectors.serverApiCheckSum.vectors)("computes the server API CheckSum", (v) => {
    expect(serverApiCheckSum(v.appSecret, v.nonce, v.curTime)).toBe(v.checkSum);
  });

  it.each(vectors.callbackCheckSum.vectors)("signs a callback as NetEase does", (v) => {
    expect(callbackHeaders("k", v.appSecret, v.body, Number(v.curTime))).toEqual({
      AppKey: "k",
      CurTime: v.curTime,
      MD5: v.md5,
      CheckSum: v.checkSum,
    });
  });

  describe("NERTC permission key", () => {
    const v = vectors.rtcPermissionKey;
    const { appKey: key, uid, channelName, curTime, permSecret } = v.inputs;
    // NetEase's published key, deflated here by Node's zlib (NetEase's examples use their own).
    const published = deflateSync(JSON.stringify(v.decodedKey))
      .toString("base64")
      .replaceAll("+", "*")
      .replaceAll("/", "-")
      .replaceAll("=", "_");

    it("computes the published checksum and reads the published key", () => {
      expect(permissionKeyChecksum(v.decodedKey, permSecret)).toBe(v.checksum);
      expect(decodePermissionKey(published)).toEqual(v.decodedKey);
    });

    it("accepts the key for its app, uid and channel within its lifetime only", () => {
      const now = (curTime + 10) * 1000;
      expect(checkPermissionKey(published, key, uid, channelName, permSecret, now)).toEqual({
        ok: true,
        privilege: 1,
        expiresAt: (curTime + 1000) * 1000,
      });
      const refused = (reason: string) => ({ ok: false, reason });
      expect(checkPermissionKey(published, key, uid + 1, channelName, permSecret, now)).toEqual(
        refused("wrong_subject"),
      );
      expect(checkPermissionKey(published, key, uid, "room2", permSecret, now)).toEqual(refused("wrong_subject"));
      expect(checkPermissionKey(published, "otherapp", uid, channelName, permSecret, now)).toEqual(
        refused("wrong_subject"),
      );
      expect(checkPermissionKey(published, key, uid, channelName, `${permSecret}x`, now)).toEqual(
        refused("bad_signature"),
      );
      expect(checkPermissionKey(published, key, uid, channelName, permSecret, (curTime + 1000) * 1000)).toEqual(
        refused("expired"),
      );
      expect(checkPermissionKey(published, key, uid, channelName, permSecret, (curTime - 120) * 1000)).toEqual(
        refused("not_yet_valid"),
      );
      expect(checkPermissionKey(`${published}x`, key, uid, channelName, permSecret, now)).toEqual(refused("malformed"));
    });
  });

  it("compares texts by content", () => {
    expect(sameText("abc", "abc")).toBe(true);
    expect(sameText("abc", "abd")).toBe(false);
    expect(sameText("abc", "abcd")).toBe(false);
  });
});

describe("two apps at one emulator, each apart", () => {
  const apps = {
    a: { appKey, appSecret },
    b: { appKey: "emulatortestappkeyb0000000000000", appSecret: "emulator-test-secret-b" },
  };
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ ...apps.a, apps: [apps.b] });
  });
  afterAll(() => emulator.dispose());

  /** A server API call signed as NetEase's SDKs sign it, with `key`'s AppKey and `secret`. */
  async function call(
    key: string,
    secret: string,
    path: string,
    body: { form: Record<string, string> } | { json: unknown },
  ): Promise<{ code: number; desc?: string; msg?: string }> {
    const nonce = crypto.randomUUID();
    const curTime = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      AppKey: key,
      Nonce: nonce,
      CurTime: curTime,
      CheckSum: serverApiCheckSum(secret, nonce, curTime),
      "Content-Type": "form" in body ? "application/x-www-form-urlencoded" : "application/json",
    };
    const payload = "form" in body ? new URLSearchParams(body.form).toString() : JSON.stringify(body.json);
    const response = await fetch(`${emulator.url}/nimserver/${path}`, { method: "POST", headers, body: payload });
    return (await response.json()) as { code: number; desc?: string; msg?: string };
  }
  const create = (app: { appKey: string; appSecret: string }, accid: string) =>
    call(app.appKey, app.appSecret, "user/create.action", { form: { accid } });
  const emulatorGet = async (path: string) => {
    const response = await fetch(`${emulator.url}/emulator/${path}`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  const emulatorPost = async (path: string, body: unknown) => {
    const response = await fetch(`${emulator.url}/emulator/${path}`, { method: "POST", body: JSON.stringify(body) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  it("creates through v1 and v2 at app B with B's credentials; the accounts are B's alone", async () => {
    expect(await create(apps.b, "two_v1")).toMatchObject({ code: 200 });
    expect(
      await call(apps.b.appKey, apps.b.appSecret, "im/v2/accounts", { json: { account_id: "two_v2" } }),
    ).toMatchObject({ code: 200 });
    for (const accid of ["two_v1", "two_v2"]) {
      expect((await emulatorGet(`accounts/${accid}?appKey=${apps.b.appKey}`)).body).toMatchObject({ exists: true });
      expect((await emulatorGet(`accounts/${accid}`)).body).toMatchObject({ exists: false, calls: {} });
      expect((await emulatorGet(`accounts/${accid}?appKey=${apps.a.appKey}`)).body).toMatchObject({ exists: false });
    }
    // Uniqueness is per app: A may register the same accid (one shared book would say `already register`).
    expect(await create(apps.a, "two_v1")).toMatchObject({ code: 200 });
    expect((await emulatorGet(`stats?appKey=${apps.b.appKey}`)).body).toMatchObject({ accounts: 2 });
    expect((await emulatorGet("stats")).body).toMatchObject({ accounts: 1 });
  });

  it("refuses B's key signed with A's secret, and a key it does not serve, in each dialect", async () => {
    // A wrong CheckSum is refused as it always was (414 "checksum error"); an unknown key is 403.
    expect(await call(apps.b.appKey, apps.a.appSecret, "user/create.action", { form: { accid: "mixed_1" } })).toEqual({
      code: 414,
      desc: "checksum error",
    });
    expect(await call(apps.b.appKey, apps.a.appSecret, "im/v2/accounts", { json: { account_id: "mixed_1" } })).toEqual({
      code: 414,
      msg: "checksum error",
    });
    expect(await call("nosuchappkey", apps.a.appSecret, "user/create.action", { form: { accid: "mixed_1" } })).toEqual({
      code: 403,
      desc: "illegal appkey",
    });
    expect(await call("nosuchappkey", apps.b.appSecret, "im/v2/accounts", { json: { account_id: "mixed_1" } })).toEqual(
      { code: 403, msg: "illegal appkey" },
    );
    for (const query of ["", `?appKey=${apps.b.appKey}`]) {
      expect((await emulatorGet(`accounts/mixed_1${query}`)).body).toMatchObject({ exists: false });
    }
  });

  it("checks logins and NERTC joins with the app ?appKey= names: a token for B passes at B only", async () => {
    for (const query of ["", `?appKey=${apps.b.appKey}`]) {
      expect((await emulatorPost(`accounts${query}`, { accid: "login_1" })).body).toEqual({ code: 200 });
    }
    const token = signedToken(`${apps.b.appKey}login_1`, apps.b.appSecret);
    expect((await emulatorPost(`login?appKey=${apps.b.appKey}`, { accid: "login_1", token })).body).toMatchObject({
      code: 200,
    });
    expect((await emulatorPost("login", { accid: "login_1", token })).body).toEqual({
      code: 302,
      desc: "token rejected: bad_signature",
    });
    const join = { uid: 7, channelName: "room-1" };
    const rtcToken = (curTime: number, ttl: number) => `${apps.b.appKey}${join.uid}${curTime}${ttl}${join.channelName}`;
    const rtc = signedToken(rtcToken, apps.b.appSecret);
    expect((await emulatorPost(`rtc/join?appKey=${apps.b.appKey}`, { ...join, token: rtc })).body).toMatchObject({
      code: 200,
    });
    expect((await emulatorPost("rtc/join", { ...join, token: rtc })).body).toMatchObject({ code: 403 });
  });

  it("signs B's login callback with B's secret and sends B's AppKey", async () => {
    const { body } = await emulatorPost(`callbacks/login?appKey=${apps.b.appKey}`, { accid: "login_1" });
    const { headers, body: sent } = body as { headers: Record<string, string>; body: string };
    const expected = callbackHeaders(apps.b.appKey, apps.b.appSecret, sent, Number(headers.curtime));
    expect({ AppKey: headers.appkey, CheckSum: headers.checksum }).toEqual({
      AppKey: expected.AppKey,
      CheckSum: expected.CheckSum,
    });
  });

  it("injects a fault into the app ?appKey= names only", async () => {
    const fault = { action: "create", mode: "code500" };
    expect((await emulatorPost(`faults?appKey=${apps.b.appKey}`, fault)).status).toBe(201);
    expect(await create(apps.a, "fault_1")).toMatchObject({ code: 200 });
    expect(await create(apps.b, "fault_1")).toMatchObject({ code: 500 });
  });

  it("answers 404 no such app for an ?appKey= it does not serve; health is the emulator's", async () => {
    const noSuchApp = { status: 404, body: { code: 404, desc: "no such app" } };
    expect(await emulatorGet("accounts/login_1?appKey=nosuchappkey")).toEqual(noSuchApp);
    expect(await emulatorGet("stats?appKey=nosuchappkey")).toEqual(noSuchApp);
    expect(await emulatorPost("accounts?appKey=nosuchappkey", { accid: "nobody_1" })).toEqual(noSuchApp);
    expect(await emulatorPost("login?appKey=", { accid: "login_1", token: "x" })).toEqual(noSuchApp);
    expect(await emulatorGet("health?appKey=nosuchappkey")).toEqual({ status: 200, body: { status: "ok" } });
  });

  it("counts the rate limit per app: one app over its rate leaves the other's calls alone", async () => {
    const limited = await startEmulator({ ...apps.a, apps: [apps.b], rateLimitPerSecond: 3 });
    try {
      const at = (app: typeof apps.a, accid: string) =>
        fetchCreate(limited.url, app, accid).then((answer) => answer.code);
      // Three calls each at A and B, in one burst: within each app's rate, not within a shared one.
      const burst = await Promise.all(
        [apps.a, apps.b].flatMap((app, i) => [0, 1, 2].map((n) => at(app, `rate_${i}_${n}`))),
      );
      expect(burst).toEqual([200, 200, 200, 200, 200, 200]);
      expect(await at(apps.a, "rate_0_3")).toBe(416);
      const stats = async (query: string) =>
        ((await (await fetch(`${limited.url}/emulator/stats${query}`)).json()) as { rateRefusals: number })
          .rateRefusals;
      expect(await stats("")).toBe(1);
      expect(await stats(`?appKey=${apps.b.appKey}`)).toBe(0);
    } finally {
      await limited.dispose();
    }
  });

  it("keeps the first app's state where the one-app emulator kept it, each other app apart", () => {
    // `npm start` persisted its accounts in the object named "app": they must stay the first app's.
    const list = [apps.a, apps.b];
    expect(list.map((app) => objectName(list, app))).toEqual(["app", `app:${apps.b.appKey}`]);
  });

  it("refuses to start with one appKey twice", async () => {
    await expect(startEmulator({ ...apps.a, apps: [{ appKey, appSecret: "other" }] })).rejects.toThrow(/listed twice/);
  });
});

/** A NetEase token envelope (dynamic or NERTC) over `signed`, valid for 10 minutes from now. */
function signedToken(signed: string | ((curTime: number, ttl: number) => string), secret: string): string {
  const curTime = Date.now();
  const ttl = 600;
  const text = typeof signed === "string" ? `${signed}${curTime}${ttl}` : signed(curTime, ttl);
  const signature = createHash("sha1")
    .update(text + secret)
    .digest("hex");
  return btoa(JSON.stringify({ signature, curTime, ttl }));
}

/** A v1 create.action at the emulator at `url`, signed with `app`'s credentials. */
async function fetchCreate(url: string, app: { appKey: string; appSecret: string }, accid: string) {
  const nonce = crypto.randomUUID();
  const curTime = String(Math.floor(Date.now() / 1000));
  const response = await fetch(`${url}/nimserver/user/create.action`, {
    method: "POST",
    headers: {
      AppKey: app.appKey,
      Nonce: nonce,
      CurTime: curTime,
      CheckSum: serverApiCheckSum(app.appSecret, nonce, curTime),
      "Content-Type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({ accid }).toString(),
  });
  return (await response.json()) as { code: number };
}

describe("the apps npm start emulates, from .dev.vars (devApps)", () => {
  const emulatorBase = "http://127.0.0.1:9999/nimserver";

  it("reads the one-app form as one app named default, and none without its key or secret", () => {
    const vars = parseDevVars(
      "NIM_APP_KEY=key1\nNIM_APP_SECRET=secret1\nNERTC_PERM_SECRET=perm1\nNIM_API_BASE=http://127.0.0.1:8788/nimserver\n",
    );
    expect(devApps(vars)).toEqual({
      apps: [
        {
          name: "default",
          appKey: "key1",
          appSecret: "secret1",
          permSecret: "perm1",
          apiBase: "http://127.0.0.1:8788/nimserver",
        },
      ],
      notes: [],
    });
    expect(devNimApps(vars, emulatorBase)).toBeUndefined();
    expect(devApps({ NIM_APP_KEY: "key1" })).toEqual({ apps: [], notes: [] });
  });

  it("reads NIM_APPS: each entry whose named secret .dev.vars sets, first first; a note for the rest", () => {
    const list = [
      {
        name: "cn",
        appKey: "keycn",
        apiBase: "http://127.0.0.1:8788/nimserver",
        secret: "NIM_APP_SECRET",
        rtcPermSecret: "NERTC_PERM_SECRET",
      },
      { name: "sg", appKey: "keysg", region: "sg", secret: "NIM_APP_SECRET_SG", rtcPermSecret: "PERM_SG" },
      { name: "eu", appKey: "keyeu", apiBase: "http://localhost:8788/nimserver", secret: "NIM_APP_SECRET_EU" },
      { name: "us", appKey: "keyus", apiBase: "https://api.example/nimserver", secret: "NIM_APP_SECRET_US" },
    ];
    const vars = parseDevVars(
      [
        `NIM_APPS='${JSON.stringify(list)}'`,
        "NIM_APP_SECRET=secret-cn",
        "NERTC_PERM_SECRET=perm-cn",
        "NIM_APP_SECRET_SG=secret-sg",
        "NIM_APP_SECRET_US=secret-us",
      ].join("\n"),
    );
    const { apps, notes } = devApps(vars);
    expect(apps).toEqual([
      {
        name: "cn",
        appKey: "keycn",
        appSecret: "secret-cn",
        permSecret: "perm-cn",
        apiBase: "http://127.0.0.1:8788/nimserver",
      },
      { name: "sg", appKey: "keysg", appSecret: "secret-sg" },
      { name: "us", appKey: "keyus", appSecret: "secret-us", apiBase: "https://api.example/nimserver" },
    ]);
    expect(notes).toEqual([
      "NIM_APPS entry sg: PERM_SG is not in .dev.vars, so its permission keys go unchecked",
      "NIM_APPS entry eu: NIM_APP_SECRET_EU is not in .dev.vars, so it is not emulated",
    ]);
    // Wrangler's NIM_APPS: loopback or absent bases of emulated entries point at the emulator.
    expect(JSON.parse(devNimApps(vars, emulatorBase)!)).toEqual([
      { ...list[0], apiBase: emulatorBase },
      { ...list[1], apiBase: emulatorBase },
      list[2],
      list[3],
    ]);
  });

  it("refuses a NIM_APPS that is no list of entries, naming no secret", () => {
    const refusal = (vars: Record<string, string>) => {
      try {
        devApps(vars);
      } catch (error) {
        return (error as Error).message;
      }
      return "accepted";
    };
    expect(refusal({ NIM_APPS: "[{" })).toMatch(/NIM_APPS is not JSON/);
    expect(refusal({ NIM_APPS: '{"appKey":"k"}' })).toMatch(/list/);
    expect(refusal({ NIM_APPS: '[{"name":"cn","appKey":"k"}]', NIM_APP_SECRET: "s3cret" })).toBe(
      "NIM_APPS entry cn: appKey and secret are required",
    );
    const twice = JSON.stringify([
      { name: "one", appKey: "k", secret: "S1" },
      { name: "two", appKey: "k", secret: "S2" },
    ]);
    expect(refusal({ NIM_APPS: twice, S1: "s3cret", S2: "s3cret" })).toBe("NIM_APPS: appKey of two is listed twice");
  });
});
