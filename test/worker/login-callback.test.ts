/** NetEase's login callback: signature checks, and allow/reject decisions over the whole loop. */

import { describe, expect, it } from "vitest";
import { signDynamicToken } from "../../src/nim/dynamic-token.ts";
import { LOGIN_REJECT } from "../../src/nim/login-policy.ts";
import { adminCall, call, emulator, env, seg, tokenFor, uniqueUid } from "./helpers.ts";
import { callbackHeaders } from "./netease-signing.ts";

type Signed = { headers: Record<string, string>; body: string };

/** A login callback for `accid` signed by the emulator, as NetEase would send it. */
async function emulatorCallback(accid: string, token?: string, authType?: number | string): Promise<Signed> {
  const response = await emulator("/emulator/callbacks/login", {
    method: "POST",
    body: JSON.stringify({ accid, token, authType }),
  });
  return response.json();
}

function send({ headers, body }: Signed, overrides: Record<string, unknown> = {}): Promise<Response> {
  return call("/v1/nim/login-callback", { method: "POST", headers, body }, overrides);
}

async function decision(
  signed: Signed,
  overrides: Record<string, unknown> = {},
): Promise<{ errCode: number; responseCode?: number }> {
  const response = await send(signed, overrides);
  expect(response.status).toBe(200);
  return response.json();
}

async function expectUnauthorized(response: Response): Promise<void> {
  expect(response.status).toBe(401);
  expect(await response.json()).toEqual({ error: "unauthorized", message: "Unauthorized." });
}

describe("login callback signature", () => {
  it("accepts NetEase's signature (the emulator's)", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    expect(await decision(await emulatorCallback(accid, token))).toEqual({ errCode: 0 });
  });

  it("refuses a tampered body, a wrong CheckSum, a stale CurTime, another app and missing headers", async () => {
    const { accid } = await tokenFor(uniqueUid());
    const signed = await emulatorCallback(accid);
    await expectUnauthorized(await send({ ...signed, body: signed.body.replace('"WEB"', '"IOS"') }));
    // Header names come back from the emulator lowercased (as Headers iterates them).
    await expectUnauthorized(await send({ ...signed, headers: { ...signed.headers, checksum: "0".repeat(40) } }));
    await expectUnauthorized(await send({ ...signed, headers: { ...signed.headers, md5: "0".repeat(32) } }));
    const { checksum: _omit, ...noCheckSum } = signed.headers;
    expect(_omit).toMatch(/^[0-9a-f]{40}$/);
    await expectUnauthorized(await send({ ...signed, headers: noCheckSum }));

    const stale = callbackHeaders(
      signed.body,
      { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! },
      Date.now() - 6 * 60_000,
    );
    await expectUnauthorized(await send({ body: signed.body, headers: stale }));
    const future = callbackHeaders(
      signed.body,
      { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! },
      Date.now() + 6 * 60_000,
    );
    await expectUnauthorized(await send({ body: signed.body, headers: future }));
    const otherApp = callbackHeaders(
      signed.body,
      { appKey: "otherappkey", appSecret: env.NIM_APP_SECRET! },
      Date.now(),
    );
    await expectUnauthorized(await send({ body: signed.body, headers: otherApp }));
    const otherSecret = callbackHeaders(
      signed.body,
      { appKey: env.NIM_APP_KEY!, appSecret: "not-our-secret" },
      Date.now(),
    );
    await expectUnauthorized(await send({ body: signed.body, headers: otherSecret }));
  });

  it("accepts NIM_APP_SECRET_PREVIOUS only while it is set (secret rotation)", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    const body = JSON.stringify({ eventType: "36", fromAccount: accid, token, authType: "1" });
    const headers = callbackHeaders(
      body,
      { appKey: env.NIM_APP_KEY!, appSecret: "the-old-app-secret-0000" },
      Date.now(),
    );
    await expectUnauthorized(await send({ headers, body }));
    expect(await decision({ headers, body }, { NIM_APP_SECRET_PREVIOUS: "the-old-app-secret-0000" })).toEqual({
      errCode: 0,
    });
  });
});

describe("login callback decisions", () => {
  it("allows an active account with its current dynamic token", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    expect(await decision(await emulatorCallback(accid, token))).toEqual({ errCode: 0 });
  });

  it("rejects a blocked account, and allows it again once unblocked", async () => {
    const uid = uniqueUid();
    const { accid, token } = await tokenFor(uid);
    await adminCall("POST", `/accounts/${seg(uid)}/block`);
    expect(await decision(await emulatorCallback(accid, token))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.blocked,
    });
    await adminCall("POST", `/accounts/${seg(uid)}/unblock`);
    expect(await decision(await emulatorCallback(accid, token))).toEqual({ errCode: 0 });
  });

  it("rejects an unknown accid and an accid that was rotated away", async () => {
    // Validly signed tokens, so only the account lookup can refuse them.
    const stranger = await signDynamicToken({
      appKey: env.NIM_APP_KEY!,
      accid: "nobody_knows_me",
      curTime: Date.now(),
      ttl: 600,
      appSecret: env.NIM_APP_SECRET!,
    });
    expect(await decision(await emulatorCallback("nobody_knows_me", stranger.token))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.unknownAccount,
    });
    const uid = uniqueUid();
    const { accid, token } = await tokenFor(uid);
    await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    expect(await decision(await emulatorCallback(accid, token))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.superseded,
    });
  });

  it("rejects an expired token and a token for another accid or app secret", async () => {
    const { accid } = await tokenFor(uniqueUid());
    const base = { appKey: env.NIM_APP_KEY!, accid, appSecret: env.NIM_APP_SECRET! };
    const expired = await signDynamicToken({ ...base, curTime: Date.now() - 700_000, ttl: 600 });
    expect(await decision(await emulatorCallback(accid, expired.token))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.expiredToken,
    });
    const foreign = await signDynamicToken({ ...base, accid: "someone_else", curTime: Date.now(), ttl: 600 });
    expect(await decision(await emulatorCallback(accid, foreign.token))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.badToken,
    });
    const wrongSecret = await signDynamicToken({ ...base, appSecret: "x", curTime: Date.now(), ttl: 600 });
    expect(await decision(await emulatorCallback(accid, wrongSecret.token))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.badToken,
    });
    expect(await decision(await emulatorCallback(accid, "static-token-abc"))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.badToken,
    });
  });

  it("allows events that are not logins, and rejects a login event without a usable accid", async () => {
    const sign = async (event: unknown) => {
      const body = JSON.stringify(event);
      return {
        body,
        headers: callbackHeaders(body, { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! }, Date.now()),
      };
    };
    expect(await decision(await sign({ eventType: "37", fromAccount: "x" }))).toEqual({ errCode: 0 });
    expect(await decision(await sign({ eventType: 36 }))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.malformedEvent,
    });
    expect(await decision(await sign(["not", "an", "object"]))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.malformedEvent,
    });
  });

  it("never allows a login without proof: no token, an empty one, a static-token login, an unknown authType", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    const noToken = { errCode: 1, responseCode: LOGIN_REJECT.noToken };
    expect(await decision(await emulatorCallback(accid))).toEqual(noToken);
    expect(await decision(await emulatorCallback(accid, undefined, 2))).toEqual(noToken); // third-party, no token
    const sign = async (event: unknown) => {
      const body = JSON.stringify(event);
      return {
        body,
        headers: callbackHeaders(body, { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! }, Date.now()),
      };
    };
    expect(await decision(await sign({ eventType: 36, fromAccount: accid, token: "" }))).toEqual(noToken);
    expect(await decision(await sign({ eventType: 36, fromAccount: accid, token: 42 }))).toEqual(noToken);
    expect(await decision(await emulatorCallback(accid, token, 0))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.badToken,
    });
    expect(await decision(await emulatorCallback(accid, token, 9))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.malformedEvent,
    });
  });

  it("takes eventType and authType as strings or numbers, ignores unknown fields, and allows authType 2 with a valid token", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    const sign = async (event: unknown) => {
      const body = JSON.stringify(event);
      return {
        body,
        headers: callbackHeaders(body, { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! }, Date.now()),
      };
    };
    for (const [eventType, authType] of [
      [36, 1],
      ["36", "1"],
      [36, "2"],
      ["36", 2],
    ] as const) {
      const event = { eventType, authType, fromAccount: accid, token, fromClientType: "IOS", somethingNew: { x: 1 } };
      expect(await decision(await sign(event)), `${eventType}/${authType}`).toEqual({ errCode: 0 });
    }
    expect(await decision(await sign({ eventType: 36, fromAccount: accid, token }))).toEqual({ errCode: 0 });
  });

  it("accepts a token signed with NIM_APP_SECRET_PREVIOUS only until NIM_APP_SECRET_PREVIOUS_UNTIL", async () => {
    const { accid } = await tokenFor(uniqueUid());
    const old = "the-old-app-secret-0000";
    const { token } = await signDynamicToken({
      appKey: env.NIM_APP_KEY!,
      accid,
      curTime: Date.now(),
      ttl: 600,
      appSecret: old,
    });
    const signed = await emulatorCallback(accid, token);
    expect(await decision(signed)).toEqual({ errCode: 1, responseCode: LOGIN_REJECT.badToken });
    expect(await decision(signed, { NIM_APP_SECRET_PREVIOUS: old })).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.badToken,
    });
    const until = new Date(Date.now() + 600_000).toISOString();
    expect(await decision(signed, { NIM_APP_SECRET_PREVIOUS: old, NIM_APP_SECRET_PREVIOUS_UNTIL: until })).toEqual({
      errCode: 0,
    });
  });
});
