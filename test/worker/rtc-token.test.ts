/** POST /v1/rtc/token: NERTC tokens from the same Worker, checked by the emulated NERTC join. */

import { describe, expect, it } from "vitest";
import { AccountStore } from "../../src/accounts/store.ts";
import type { RtcTokenResponse, TokenResponse } from "../../src/contract/responses.ts";
import { sha1Hex } from "../../src/nim/digest.ts";
import { signRtcPermissionKey } from "../../src/rtc/permission-key.ts";
import {
  adminCall,
  call,
  emulator,
  env,
  expectedAccid,
  expectedRtcUid,
  hsJwt,
  issue,
  issueRtc,
  registerAtNetEase,
  seg,
  stockAccid,
  uniqueUid,
} from "./helpers.ts";
import { decodePermissionKey, permissionKey } from "./netease-signing.ts";

const store = () => new AccountStore(env.ACCOUNTS!);

async function rtcTokenFor(uid: string, channelName: string, ttl?: number): Promise<RtcTokenResponse> {
  const response = await issueRtc(await hsJwt(uid), ttl === undefined ? { channelName } : { channelName, ttl });
  if (response.status !== 200) throw new Error(`rtc token: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function join(
  uid: number,
  channelName: string,
  token: string,
  extra: { permKey?: string | undefined; publish?: string[] } = {},
): Promise<{ code: number; desc?: string }> {
  const response = await emulator("/emulator/rtc/join", {
    method: "POST",
    body: JSON.stringify({ uid, channelName, token, ...extra }),
  });
  return response.json();
}

describe("POST /v1/rtc/token", () => {
  it("issues a token that verifies with NERTC's formula and passes the emulated join", async () => {
    const uid = uniqueUid("caller");
    const channelName = "Team Call #7 (ops)";
    const response = await issueRtc(await hsJwt(uid), { channelName });
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const body = await response.json<RtcTokenResponse>();
    expect(body).toEqual({
      uid: await expectedRtcUid(uid),
      channelName,
      token: expect.stringMatching(/^[A-Za-z0-9+/]+={0,2}$/),
      appKey: env.NIM_APP_KEY,
      curTime: expect.any(Number),
      ttl: 600,
      expiresAt: body.curTime + 600_000,
      serverTime: expect.any(Number),
      refreshAfter: body.curTime + 480_000,
      // The test Worker has NERTC_PERM_SECRET: without a policy, a key with every right for an hour.
      permKey: expect.stringMatching(/^[A-Za-z0-9*_-]+$/),
      privilege: 63,
      permKeyTtl: 3600,
      permKeyExpiresAt: (Math.floor(body.curTime / 1000) + 3600) * 1000,
    });
    expect(typeof body.uid).toBe("number");
    expect(Number.isSafeInteger(body.uid) && body.uid > 0).toBe(true);
    const fields = JSON.parse(atob(body.token)) as { signature: string; curTime: number; ttl: number };
    expect(Object.keys(fields)).toEqual(["signature", "curTime", "ttl"]);
    const recomputed = await sha1Hex(
      `${env.NIM_APP_KEY}${body.uid}${body.curTime}${body.ttl}${channelName}${env.NIM_APP_SECRET}`,
    );
    expect(fields).toEqual({ signature: recomputed, curTime: body.curTime, ttl: 600 });
    expect(await join(body.uid, channelName, body.token)).toMatchObject({ code: 200 });
    expect((await join(body.uid, "another room", body.token)).code).toBe(403);
    expect((await join(body.uid + 1, channelName, body.token)).code).toBe(403);
  });

  it("gives a user the same RTC uid on every channel and call, and different users different ones", async () => {
    const alice = uniqueUid("alice");
    const bob = uniqueUid("bob");
    const a1 = await rtcTokenFor(alice, "room1");
    const a2 = await rtcTokenFor(alice, "room2", 600);
    const a3 = await rtcTokenFor(alice, "room1");
    const b1 = await rtcTokenFor(bob, "room1");
    expect(new Set([a1.uid, a2.uid, a3.uid])).toEqual(new Set([a1.uid]));
    expect(b1.uid).not.toBe(a1.uid);
    expect(a2.ttl).toBe(600);
    // The same account as /v1/token: one accid, registered once.
    const im = await (await issue(await hsJwt(alice))).json<TokenResponse>();
    expect(im.accid).toBe(await expectedAccid(alice));
    expect((await store().get(alice))?.rtcUid).toBe(a1.uid);
  });

  it("creates the account (and its IM registration) for a user who never asked for an IM token", async () => {
    const uid = uniqueUid("rtc-first");
    const { uid: rtcUid } = await rtcTokenFor(uid, "lobby");
    const record = await store().get(uid);
    expect(record).toMatchObject({ accid: await expectedAccid(uid), status: "active", rtcUid });
    const account = await (await emulator(`/emulator/accounts/${await expectedAccid(uid)}`)).json();
    expect(account).toMatchObject({ exists: true, calls: { create: 1 } });
  });

  it("gives a record written before RTC tokens existed an RTC uid on first use, keeping the rest", async () => {
    const uid = uniqueUid("legacy");
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const old = {
      v: 1,
      accid,
      status: "active",
      createdAt: 1_700_000_000_000,
      updatedAt: 1_700_000_000_000,
      generation: 0,
    };
    await env.ACCOUNTS!.put(`accid:${accid}`, uid);
    await env.ACCOUNTS!.put(`uid:${uid}`, JSON.stringify(old));
    const im = await (await issue(await hsJwt(uid))).json<TokenResponse>();
    expect(im.accid).toBe(accid); // the old record still works as it is
    const { uid: rtcUid } = await rtcTokenFor(uid, "room1");
    expect(rtcUid).toBe(await expectedRtcUid(uid));
    expect(await store().get(uid)).toEqual({ ...old, rtcUid, updatedAt: expect.any(Number), revision: 1 });
    expect(await store().uidForRtcUid(rtcUid)).toBe(uid);
    const view = await (await adminCall("GET", `/accounts/${seg(uid)}`)).json<{ rtcUid: number }>();
    expect(view.rtcUid).toBe(rtcUid);
    expect((await rtcTokenFor(uid, "room2")).uid).toBe(rtcUid);
  });

  it("resolves a collision: a uid whose RTC uid is taken by another user gets the next candidate", async () => {
    const uid = uniqueUid("collides");
    const taken = await expectedRtcUid(uid, 0);
    await env.ACCOUNTS!.put(`rtcuid:${taken}`, "someone-else");
    const { uid: rtcUid } = await rtcTokenFor(uid, "room1");
    expect(rtcUid).not.toBe(taken);
    expect(rtcUid).toBe(await expectedRtcUid(uid, 1));
    expect(await store().uidForRtcUid(rtcUid)).toBe(uid);
    expect(await store().uidForRtcUid(taken)).toBe("someone-else");
  });

  it.each([
    [{}, "channelName must be 1 to 64 characters of a-z A-Z 0-9, space and !#$%&()+-:;<=.>?@[]^_{|}~,."],
    [{ channelName: "" }, "channelName must be 1 to 64 characters"],
    [{ channelName: "x".repeat(65) }, "channelName must be 1 to 64 characters"],
    [{ channelName: "频道" }, "channelName must be 1 to 64 characters"],
    [{ channelName: "a/b" }, "channelName must be 1 to 64 characters"],
    [{ channelName: 7 }, "channelName must be 1 to 64 characters"],
    [{ channelName: "room", ttl: 59 }, "ttl must be a whole number of seconds from 60 to 86399."],
    [{ channelName: "room", ttl: 86_400 }, "ttl must be a whole number of seconds from 60 to 86399."],
    [{ channelName: "room", ttl: 1.5 }, "ttl must be a whole number of seconds from 60 to 86399."],
    [{ channelName: "room", extra: 1 }, "Unknown field(s): extra."],
  ])("answers 400 invalid_request for %j, stating the rule", async (body, message) => {
    const response = await issueRtc(await hsJwt(uniqueUid()), body);
    expect(response.status).toBe(400);
    const answer = await response.json<{ error: string; message: string }>();
    expect(answer.error).toBe("invalid_request");
    expect(answer.message.startsWith(message)).toBe(true);
  });

  it("accepts a 64-character channel name of every allowed character", async () => {
    const channelName = "aZ09 !#$%&()+-:;<=.>?@[]^_{|}~,".padEnd(64, "x");
    const body = await rtcTokenFor(uniqueUid(), channelName);
    expect(await join(body.uid, channelName, body.token)).toMatchObject({ code: 200 });
  });

  it("answers 403 account_blocked for a blocked user, and 401 without a session", async () => {
    const uid = uniqueUid("blocked");
    await rtcTokenFor(uid, "room1");
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(200);
    const blocked = await issueRtc(await hsJwt(uid), { channelName: "room1" });
    expect(blocked.status).toBe(403);
    expect((await blocked.json<{ error: string }>()).error).toBe("account_blocked");
    const anonymous = await issueRtc(undefined, { channelName: "room1" });
    expect(anonymous.status).toBe(401);
    expect((await anonymous.json<{ error: string }>()).error).toBe("missing_session");
  });

  it("uses RTC_TOKEN_TTL_DEFAULT and refuses an RTC ttl range reaching 86400", async () => {
    const jwt = await hsJwt(uniqueUid());
    const custom = await issueRtc(jwt, { channelName: "r" }, { RTC_TOKEN_TTL_DEFAULT: "900" });
    expect((await custom.json<RtcTokenResponse>()).ttl).toBe(900);
    const bad = await issueRtc(jwt, { channelName: "r" }, { RTC_TOKEN_TTL_MAX: "86400" });
    expect(bad.status).toBe(500);
  });
});

/** The issue's example policy: own rooms with every right, live rooms to watch for 30 minutes. */
const ROOMS = JSON.stringify([
  { channel: "user-{uid}-*", privileges: ["all"] },
  { channel: "live-*", privileges: ["receive", "join"], keyTtl: 1800 },
]);

async function refusal(response: Response): Promise<{ status: number; error: string }> {
  return { status: response.status, error: (await response.json<{ error: string }>()).error };
}

describe("NERTC permission keys and channel policy", () => {
  it("signs a key NetEase's formula verifies, for the user's RTC uid and the channel", async () => {
    const uid = uniqueUid("keyed");
    const channelName = `room ${crypto.randomUUID().slice(0, 8)}`;
    const body = await rtcTokenFor(uid, channelName);
    const key = decodePermissionKey(body.permKey!);
    const curTime = Math.floor(body.curTime / 1000);
    expect(key).toEqual({
      appkey: env.NIM_APP_KEY,
      checksum: key.checksum,
      cname: channelName,
      curTime,
      expireTime: 3600,
      privilege: 63,
      uid: body.uid,
    });
    // The checksum, recomputed by the tests' own signer (node:crypto) from the same fields.
    const again = permissionKey({
      appKey: env.NIM_APP_KEY!,
      uid: body.uid,
      channelName,
      curTime,
      ttl: 3600,
      privilege: 63,
      permSecret: env.NERTC_PERM_SECRET!,
    });
    expect(decodePermissionKey(again).checksum).toBe(key.checksum);
    expect(
      await join(body.uid, channelName, body.token, { permKey: body.permKey, publish: ["audio", "video"] }),
    ).toEqual({
      code: 200,
      expiresAt: body.expiresAt,
    });
    // The key names its uid and channel: another user's join with it is refused.
    const other = await rtcTokenFor(uniqueUid(), channelName);
    expect((await join(other.uid, channelName, other.token, { permKey: body.permKey })).desc).toBe(
      "permission key rejected: wrong_subject",
    );
  });

  it("issues no key without NERTC_PERM_SECRET", async () => {
    const response = await issueRtc(await hsJwt(uniqueUid()), { channelName: "room1" }, { NERTC_PERM_SECRET: "" });
    const body = await response.json<RtcTokenResponse>();
    expect(Object.keys(body).sort()).toEqual(
      ["appKey", "channelName", "curTime", "expiresAt", "refreshAfter", "serverTime", "token", "ttl", "uid"].sort(),
    );
  });

  it("follows the configured rules: own rooms with every right, live rooms to watch, nothing else", async () => {
    const settings = { RTC_CHANNEL_POLICY: ROOMS };
    const alice = uniqueUid("alice");
    const bob = uniqueUid("bob");
    const own = await issueRtc(await hsJwt(alice), { channelName: `user-${alice}-1` }, settings);
    expect(await own.json<RtcTokenResponse>()).toMatchObject({ privilege: 63, permKeyTtl: 3600 });
    // The token's lifetime is the caller's; the key's is the policy's, whichever is longer.
    const live = await issueRtc(await hsJwt(alice), { channelName: "live-news", ttl: 86_399 }, settings);
    const liveBody = await live.json<RtcTokenResponse>();
    expect(liveBody).toMatchObject({ ttl: 86_399, privilege: 44, permKeyTtl: 1800 });
    expect(liveBody.permKeyExpiresAt).toBe((Math.floor(liveBody.curTime / 1000) + 1800) * 1000);
    expect(await refusal(await issueRtc(await hsJwt(bob), { channelName: `user-${alice}-1` }, settings))).toEqual({
      status: 403,
      error: "channel_refused",
    });
    expect(await refusal(await issueRtc(await hsJwt(bob), { channelName: "lobby" }, settings))).toEqual({
      status: 403,
      error: "channel_refused",
    });
  });

  it("reads $ sequences in a uid as text: no uid reaches another user's own rooms", async () => {
    // The review's case: `$'` in the uid once stood for the pattern's text after {uid}.
    const settings = { RTC_CHANNEL_POLICY: ROOMS };
    const victim = crypto.randomUUID();
    const attacker = `${victim.slice(0, 8)}$'${victim.slice(9)}`;
    for (const channelName of [`user-${victim}-private`, `user-${victim.slice(0, 8)}-`]) {
      expect(await refusal(await issueRtc(await hsJwt(attacker), { channelName }, settings))).toEqual({
        status: 403,
        error: "channel_refused",
      });
    }
    // A uid's own rooms, spelt with its `$` sequence as written, are still its own (NERTC's channel
    // characters hold `$` and `&`, not `'`).
    const dollar = `${victim}$&`;
    expect((await issueRtc(await hsJwt(dollar), { channelName: `user-${dollar}-1` }, settings)).status).toBe(200);
    expect(await refusal(await issueRtc(await hsJwt(dollar), { channelName: `user-${victim}-1` }, settings))).toEqual({
      status: 403,
      error: "channel_refused",
    });
  });

  it("keeps a uid out of the rooms of a longer uid it begins (alice and alice-bob)", async () => {
    const settings = { RTC_CHANNEL_POLICY: ROOMS };
    const alice = `alice${crypto.randomUUID().slice(0, 8)}`;
    const aliceBob = `${alice}-bob`;
    expect(await refusal(await issueRtc(await hsJwt(alice), { channelName: `user-${aliceBob}-1` }, settings))).toEqual({
      status: 403,
      error: "channel_refused",
    });
    expect((await issueRtc(await hsJwt(aliceBob), { channelName: `user-${aliceBob}-1` }, settings)).status).toBe(200);
    expect((await issueRtc(await hsJwt(alice), { channelName: `user-${alice}-1` }, settings)).status).toBe(200);
  });

  it("refuses a channel before provisioning anything, with a message that names no rule", async () => {
    const uid = uniqueUid("refused");
    const response = await issueRtc(await hsJwt(uid), { channelName: "lobby" }, { RTC_CHANNEL_POLICY: ROOMS });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: "channel_refused",
      message: "This session may not get tokens for this channel.",
    });
    expect(await store().get(uid)).toBeNull();
  });

  it("lets a viewer's key join a live room but not create it, nor send; the host's key creates it", async () => {
    // Every live room may be granted in full; each session's claim narrows it.
    const settings = {
      RTC_CHANNEL_POLICY: JSON.stringify([{ channel: "live-*", privileges: ["all"] }]),
      RTC_POLICY_CLAIM: "nertc",
    };
    const viewerClaims = { nertc: [{ channel: "live-*", privileges: ["receive", "join"] }] };
    const hostClaims = { nertc: [{ channel: "live-*", privileges: ["all"] }] };
    const channelName = `live-${crypto.randomUUID().slice(0, 8)}`;
    const viewer = await (
      await issueRtc(await hsJwt(uniqueUid("viewer"), { claims: viewerClaims }), { channelName }, settings)
    ).json<RtcTokenResponse>();
    const host = await (
      await issueRtc(await hsJwt(uniqueUid("host"), { claims: hostClaims }), { channelName }, settings)
    ).json<RtcTokenResponse>();
    expect([viewer.privilege, host.privilege]).toEqual([44, 63]);
    expect(await join(viewer.uid, channelName, viewer.token, { permKey: viewer.permKey })).toEqual({
      code: 403,
      desc: "no permission to create the room",
    });
    expect(await join(host.uid, channelName, host.token, { permKey: host.permKey, publish: ["video"] })).toMatchObject({
      code: 200,
    });
    expect(await join(viewer.uid, channelName, viewer.token, { permKey: viewer.permKey })).toMatchObject({ code: 200 });
    expect(await join(viewer.uid, channelName, viewer.token, { permKey: viewer.permKey, publish: ["audio"] })).toEqual({
      code: 403,
      desc: "no permission to send audio",
    });
    // A session without the claim gets nothing.
    const bare = await issueRtc(await hsJwt(uniqueUid()), { channelName }, settings);
    expect(await refusal(bare)).toEqual({ status: 403, error: "channel_refused" });
  });

  it("a key past its lifetime is refused by NERTC, though the token would still pass", async () => {
    const body = await rtcTokenFor(uniqueUid("late"), `room-${crypto.randomUUID().slice(0, 8)}`);
    const signedAt = Math.floor(Date.now() / 1000) - 3601;
    const lapsed = await signRtcPermissionKey({
      appKey: env.NIM_APP_KEY!,
      uid: body.uid,
      channelName: body.channelName,
      curTime: signedAt,
      ttl: 3600,
      privilege: 63,
      permSecret: env.NERTC_PERM_SECRET!,
    });
    expect(await join(body.uid, body.channelName, body.token, { permKey: lapsed.permKey })).toEqual({
      code: 403,
      desc: "permission key rejected: expired",
    });
    expect(await join(body.uid, body.channelName, body.token, { permKey: body.permKey })).toMatchObject({ code: 200 });
  });

  it("gives a blocked user, or a session signed out everywhere, no new key", async () => {
    const uid = uniqueUid("nokey");
    await rtcTokenFor(uid, "room1");
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(200);
    const blocked = await issueRtc(await hsJwt(uid), { channelName: "room1" });
    expect(await refusal(blocked)).toEqual({ status: 403, error: "account_blocked" });

    const other = uniqueUid("signed-out");
    const old = await hsJwt(other, { issuedAt: Math.floor(Date.now() / 1000) - 120 });
    await rtcTokenFor(other, "room1");
    const revoke = await call("/v1/sessions/revoke", { method: "POST", headers: { Authorization: `Bearer ${old}` } });
    expect(revoke.status).toBe(200);
    const revoked = await issueRtc(old, { channelName: "room1" });
    expect(await refusal(revoked)).toEqual({ status: 401, error: "session_revoked" });
  });
});
