/**
 * Revocation ("sign out everywhere"): an operator's revoke and a user's own, what they refuse (app
 * sessions on both token endpoints, IM tokens at the login callback) and what they leave usable (the
 * account, newer sessions, fresh logins at NetEase), the kick at NetEase in both API versions, replays
 * and a revoke racing a rotation. Runs in the worker and worker-v2 projects.
 */

import { afterEach, describe, expect, it, vi } from "vitest";
import type { TokenResponse } from "../../src/responses.ts";
import { LOGIN_REJECT } from "../../src/routes/login-callback.ts";
import {
  adminCall,
  apiVersion,
  call,
  emulatedAccount,
  emulator,
  emulatorLogin,
  env,
  hsJwt,
  injectFault,
  issue,
  issueRtc,
  seg,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";
import { dynamicToken } from "./netease-signing.ts";

/** The clock tolerance counted against a session in a revocation (TIMING.jwtClockToleranceSeconds). */
const TOLERANCE_MS = 30_000;

afterEach(() => {
  vi.useRealTimers();
});

function revoke(uid: string, body: unknown = {}, requestId?: string): Promise<Response> {
  return adminCall("POST", `/accounts/${seg(uid)}/revoke`, body, { requestId });
}

function signOutEverywhere(jwt: string): Promise<Response> {
  return call("/v1/sessions/revoke", { method: "POST", headers: { Authorization: `Bearer ${jwt}` } });
}

/** A login callback for `accid` with `token`, signed by the emulator as NetEase signs it, and its decision. */
async function callbackDecision(accid: string, token: string): Promise<{ errCode: number; responseCode?: number }> {
  const signed = (await (
    await emulator("/emulator/callbacks/login", { method: "POST", body: JSON.stringify({ accid, token }) })
  ).json()) as { headers: Record<string, string>; body: string };
  const response = await call("/v1/nim/login-callback", { method: "POST", headers: signed.headers, body: signed.body });
  expect(response.status).toBe(200);
  return response.json();
}

async function expectRevoked(response: Response): Promise<void> {
  expect(response.status).toBe(401);
  expect(await response.json()).toEqual({
    error: "session_revoked",
    message: "This session was signed out everywhere; sign in again.",
  });
}

describe("an operator's revoke", () => {
  it("refuses the same session on its next request, on both token endpoints; a newer session gets tokens", async () => {
    const uid = uniqueUid("revoke");
    const session = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 60 });
    expect((await issue(session)).status).toBe(200);

    const revoked = await revoke(uid);
    expect(revoked.status).toBe(200);
    const view = (await revoked.json()) as { revokedBefore: number; kick: string; status: string };
    expect(view).toMatchObject({ status: "active", kick: "done" });
    expect(Math.abs(view.revokedBefore - Date.now())).toBeLessThan(5_000);

    await expectRevoked(await issue(session));
    await expectRevoked(await issueRtc(session, { channelName: "room-1" }));
    // A session stamped after the revocation but within the clock tolerance may come from an issuer
    // whose clock is ahead: refused too. So is a session without iat, whose age cannot be told.
    const withinTolerance = await hsJwt(uid, { issuedAt: Math.floor((view.revokedBefore + TOLERANCE_MS) / 1000) - 1 });
    await expectRevoked(await issue(withinTolerance));
    await expectRevoked(await issue(await hsJwt(uid, { omitIat: true })));
    // The admin view shows it.
    const read = (await (await adminCall("GET", `/accounts/${seg(uid)}`)).json()) as { revokedBefore?: number };
    expect(read.revokedBefore).toBe(view.revokedBefore);

    // Once the tolerance has passed, a new sign-in works: the account itself was never touched.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(view.revokedBefore + TOLERANCE_MS + 1_000);
    const newer = await hsJwt(uid);
    expect((await issue(newer)).status).toBe(200);
    expect((await issueRtc(newer, { channelName: "room-1" })).status).toBe(200);
    await expectRevoked(await issue(session)); // and the old one stays dead
  });

  it("makes the login callback refuse an IM token signed before it and allow a newer one", async () => {
    const uid = uniqueUid("revoke-callback");
    const older = await tokenFor(uid);
    expect(await callbackDecision(older.accid, older.token)).toEqual({ errCode: 0 });
    const view = (await (await revoke(uid, { kick: false })).json()) as { revokedBefore: number; kick: string };
    expect(view.kick).toBe("not_requested");
    expect(await callbackDecision(older.accid, older.token)).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.revoked,
    });
    // A token signed after the revocation (by this service, with its clock) is allowed.
    const newer = dynamicToken({
      appKey: env.NIM_APP_KEY!,
      accid: older.accid,
      curTime: view.revokedBefore + 1,
      ttl: 600,
      appSecret: env.NIM_APP_SECRET!,
    });
    expect(await callbackDecision(older.accid, newer)).toEqual({ errCode: 0 });
  });

  it("kicks live IM sessions at NetEase and leaves the account usable for a fresh login", async () => {
    const uid = uniqueUid("revoke-kick");
    const { accid } = await tokenFor(uid);
    const before = await emulatedAccount(accid);
    expect((await (await revoke(uid)).json()) as { kick: string }).toMatchObject({ kick: "done" });
    const after = await emulatedAccount(accid);
    expect(after.kicks).toBe(before.kicks + 1);
    expect(after.blocked).toBe(false);
    // v2 kicks with its own call; v1 has none, so it blocks with needkick and unblocks at once.
    const calls = apiVersion() === "v2" ? { create: 1, kick: 1 } : { create: 1, block: 1, unblock: 1 };
    expect(after.calls).toEqual(calls);
    const fresh = dynamicToken({
      appKey: env.NIM_APP_KEY!,
      accid,
      curTime: Date.now(),
      ttl: 600,
      appSecret: env.NIM_APP_SECRET!,
    });
    expect(await emulatorLogin(accid, fresh)).toMatchObject({ code: 200 });
  });

  it("kicks a blocked account without unblocking it", async () => {
    const uid = uniqueUid("revoke-blocked");
    const { accid } = await tokenFor(uid);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: false })).status).toBe(200);
    expect((await (await revoke(uid)).json()) as { kick: string; status: string }).toMatchObject({
      kick: "done",
      status: "blocked",
    });
    expect(await emulatedAccount(accid)).toMatchObject({ blocked: true, kicks: 1 });
  });

  it("answers a repeated X-Request-Id with the first answer, without revoking or kicking again", async () => {
    const uid = uniqueUid("revoke-replay");
    const { accid } = await tokenFor(uid);
    const requestId = `revoke-${crypto.randomUUID()}`;
    const first = await revoke(uid, {}, requestId);
    const firstView = (await first.json()) as { revokedBefore: number; revision: number };
    await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await revoke(uid, {}, requestId);
    expect(second.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await second.json()).toEqual({ ...firstView });
    expect((await emulatedAccount(accid)).kicks).toBe(1);
    // The same id for another operation is a conflict.
    const other = await adminCall("POST", `/accounts/${seg(uid)}/rotate`, {}, { requestId });
    expect(other.status).toBe(409);
  });

  it("and a rotation racing it both happen, in some order, and the revocation survives the new accid", async () => {
    const uid = uniqueUid("revoke-rotate");
    const session = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 60 });
    const { accid: first } = (await (await issue(session)).json()) as TokenResponse;
    const [revoked, rotated] = await Promise.all([revoke(uid), adminCall("POST", `/accounts/${seg(uid)}/rotate`, {})]);
    expect([revoked.status, rotated.status]).toEqual([200, 200]);
    const read = (await (await adminCall("GET", `/accounts/${seg(uid)}`)).json()) as {
      accid: string;
      generation: number;
      revokedBefore?: number;
      revision: number;
    };
    expect(read.accid).not.toBe(first);
    expect(read.generation).toBe(1);
    expect(read.revokedBefore).toBe(((await revoked.json()) as { revokedBefore: number }).revokedBefore);
    await expectRevoked(await issue(session));
    expect((await emulatedAccount(first)).blocked).toBe(true); // the rotation blocked the old accid
  });

  it("stands when the kick fails, and says so", async () => {
    const uid = uniqueUid("revoke-kick-fails");
    const session = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 60 });
    const { accid } = (await (await issue(session)).json()) as TokenResponse;
    await injectFault(accid, apiVersion() === "v2" ? "kick" : "block", "code500");
    expect((await (await revoke(uid)).json()) as { kick: string }).toMatchObject({ kick: "failed" });
    await expectRevoked(await issue(session));
    expect((await emulatedAccount(accid)).blocked).toBe(false);
  });

  it.skipIf(apiVersion() === "v2")(
    "v1: a kick whose unblock fails leaves an unblock owed, paid by the object's next operation",
    async () => {
      const uid = uniqueUid("revoke-owed");
      const { accid } = await tokenFor(uid);
      // The kick's unblock fails, and so does the object's immediate second try.
      await injectFault(accid, "unblock", "code500", 2);
      expect((await (await revoke(uid)).json()) as { kick: string }).toMatchObject({ kick: "failed" });
      expect((await emulatedAccount(accid)).blocked).toBe(true);
      // Any later operation of the object settles the debt first (here an operator's read).
      expect((await adminCall("GET", `/accounts/${seg(uid)}`)).status).toBe(200);
      expect((await emulatedAccount(accid)).blocked).toBe(false);
    },
  );

  it("is 404 for a uid without an account, and 400 for a bad body", async () => {
    expect((await revoke(uniqueUid("nobody"))).status).toBe(404);
    const uid = uniqueUid("revoke-body");
    await tokenFor(uid);
    const bad = await revoke(uid, { kick: "yes" });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "invalid_request" });
  });
});

describe("a user's own sign-out everywhere", () => {
  it("revokes the caller's sessions, itself included, and kicks live IM sessions", async () => {
    const uid = uniqueUid("self-revoke");
    const session = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 60 });
    const { accid } = (await (await issue(session)).json()) as TokenResponse;
    const other = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 120 }); // another device

    const response = await signOutEverywhere(session);
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const { revokedBefore } = (await response.json()) as { revokedBefore: number };
    expect(Math.abs(revokedBefore - Date.now())).toBeLessThan(5_000);

    await expectRevoked(await issue(other));
    await expectRevoked(await issue(session));
    // A revoked session cannot revoke again (a leaked old session could otherwise sign the user out at will).
    await expectRevoked(await signOutEverywhere(session));
    expect((await emulatedAccount(accid)).kicks).toBe(1);
  });

  it("works for a user seen for the first time (the account is created, then revoked)", async () => {
    const uid = uniqueUid("self-revoke-new");
    const session = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 60 });
    expect((await signOutEverywhere(session)).status).toBe(200);
    await expectRevoked(await issue(session));
  });

  it("needs a valid session", async () => {
    expect((await call("/v1/sessions/revoke", { method: "POST" })).status).toBe(401);
    const forged = await hsJwt(uniqueUid(), {}, "another-secret-that-is-long-enough-0123456789");
    expect((await signOutEverywhere(forged)).status).toBe(401);
  });
});
