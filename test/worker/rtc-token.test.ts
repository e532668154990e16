/** POST /v1/rtc/token: NERTC tokens from the same Worker, checked by the emulated NERTC join. */

import { describe, expect, it } from "vitest";
import type { RtcTokenResponse, TokenResponse } from "../../src/contract.ts";
import { sha1Hex } from "../../src/nim/digest.ts";
import { AccountStore } from "../../src/records/store.ts";
import {
  adminCall,
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

const store = () => new AccountStore(env.ACCOUNTS!);

async function rtcTokenFor(uid: string, channelName: string, ttl?: number): Promise<RtcTokenResponse> {
  const response = await issueRtc(await hsJwt(uid), ttl === undefined ? { channelName } : { channelName, ttl });
  if (response.status !== 200) throw new Error(`rtc token: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

async function join(uid: number, channelName: string, token: string): Promise<{ code: number; desc?: string }> {
  const response = await emulator("/emulator/rtc/join", {
    method: "POST",
    body: JSON.stringify({ uid, channelName, token }),
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
