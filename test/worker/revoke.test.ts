/**
 * Revocation ("sign out everywhere"): an operator's revoke and a user's own, what they refuse (app
 * sessions on both token endpoints, IM tokens at the login callback) and what they leave usable (the
 * account, newer sessions, fresh logins at NetEase), the kick at NetEase in both API versions, replays
 * and a revoke racing a rotation. Runs in the worker and worker-v2 projects.
 */

import { afterEach, describe, expect, it, vi } from "vitest";
import type { TokenResponse } from "../../src/contract/responses.ts";
import { LOGIN_REJECT } from "../../src/nim/login-policy.ts";
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
  ownRuntime,
  seg,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";
import { dynamicToken } from "./netease-signing.ts";

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
    // A session whose sign-in time cannot be told (no auth_time, no iat) is refused too.
    await expectRevoked(await issue(await hsJwt(uid, { omitIat: true })));
    // The admin view shows it.
    const read = (await (await adminCall("GET", `/accounts/${seg(uid)}`)).json()) as { revokedBefore?: number };
    expect(read.revokedBefore).toBe(view.revokedBefore);

    // A new sign-in works (from the revocation's next second): the account itself was never touched.
    const newer = await hsJwt(uid, { claims: { auth_time: Math.floor(view.revokedBefore / 1000) + 1 } });
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

describe("sign-out by sign-in time: what providers really do", () => {
  it("refuses every refreshed token of a signed-out sign-in, however long after, and lets a sign-in 5 s later get tokens", async () => {
    const uid = uniqueUid("refreshed");
    // A phone signed in ten minutes ago; its SDK refreshes the session token silently (new iat,
    // the same auth_time), as Firebase, Cognito, Keycloak and every OpenID provider do.
    const signedIn = Math.floor(Date.now() / 1000) - 600;
    const phone = () => hsJwt(uid, { claims: { auth_time: signedIn } });
    expect((await issue(await phone())).status).toBe(200);
    const { revokedBefore } = (await (await signOutEverywhere(await phone())).json()) as { revokedBefore: number };

    vi.useFakeTimers({ toFake: ["Date"] });
    for (const later of [1_000, 45_000, 20 * 60_000]) {
      vi.setSystemTime(revokedBefore + later);
      const refreshed = await phone(); // iat now
      await expectRevoked(await issue(refreshed));
      await expectRevoked(await issueRtc(refreshed, { channelName: "room-1" }));
    }
    // The user signs in again on a new phone 5 s after signing out everywhere: tokens at once.
    vi.setSystemTime(revokedBefore + 5_000);
    const fresh = await hsJwt(uid, { claims: { auth_time: Math.floor(Date.now() / 1000) } });
    expect((await issue(fresh)).status).toBe(200);
    // Its own refreshes stay good, and so does a sign-in in the next second. One in the revocation's
    // own second cannot be told from one just before it: refused, as every earlier one is.
    vi.setSystemTime(revokedBefore + 45 * 60_000);
    const second = Math.floor(revokedBefore / 1000);
    expect((await issue(await hsJwt(uid, { claims: { auth_time: second + 5 } }))).status).toBe(200);
    expect((await issue(await hsJwt(uid, { claims: { auth_time: second + 1 } }))).status).toBe(200);
    await expectRevoked(await issue(await hsJwt(uid, { claims: { auth_time: second } })));
    await expectRevoked(await issue(await hsJwt(uid, { claims: { auth_time: second - 1 } })));
  });

  it("counts a backend session without auth_time from its iat: refused before the revocation, not after", async () => {
    const uid = uniqueUid("no-auth-time");
    const before = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 60 });
    expect((await issue(before)).status).toBe(200);
    const { revokedBefore } = (await (await revoke(uid, { kick: false })).json()) as { revokedBefore: number };
    await expectRevoked(await issue(before));
    expect((await issue(await hsJwt(uid, { issuedAt: Math.floor(revokedBefore / 1000) + 1 }))).status).toBe(200);
  });
});

describe("how far a revocation reaches, and when", () => {
  it("is refused at once by the isolate that made it, and by another isolate once its copy expires (under 60 s)", async () => {
    const uid = uniqueUid("reach");
    const session = await hsJwt(uid, { issuedAt: Math.floor(Date.now() / 1000) - 60 });
    // Another isolate (a runtime of its own) reads the record, and keeps it for its minute.
    const elsewhere = ownRuntime();
    expect((await issue(session, undefined, elsewhere)).status).toBe(200);
    const readAt = Date.now();
    expect((await revoke(uid, { kick: false })).status).toBe(200);
    await expectRevoked(await issue(session)); // the isolate that made the change
    // The other isolate still serves its copy (this is the window: KV here is already up to date) ...
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(readAt + 54_000);
    expect((await issue(session, undefined, elsewhere)).status).toBe(200);
    // ... until the copy expires, at most 60 s after it was read; then it reads KV and refuses.
    vi.setSystemTime(readAt + 60_001);
    await expectRevoked(await issue(session, undefined, elsewhere));
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

  it("takes no caller-chosen X-Request-Id: a repeat signs out again, and no operator's id can be planted", async () => {
    const uid = uniqueUid("self-revoke-id");
    const { accid } = await tokenFor(uid);
    const planted = `op-${crypto.randomUUID()}`;
    const signOut = async (requestId: string) => {
      const session = await hsJwt(uid, { claims: { auth_time: Math.floor(Date.now() / 1000) } });
      const response = await call("/v1/sessions/revoke", {
        method: "POST",
        headers: { Authorization: `Bearer ${session}`, "X-Request-Id": requestId },
      });
      expect(response.status).toBe(200);
      return ((await response.json()) as { revokedBefore: number }).revokedBefore;
    };
    const first = await signOut(planted);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // a sign-in after the first sign-out
    // The same id again is a new sign-out, never a replay of the first (which would keep the old time).
    const second = await signOut(planted);
    expect(second).toBeGreaterThan(first);
    // An operator who later sends that id acts: no 409, no replayed answer.
    const blocked = await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: false }, { requestId: planted });
    expect(blocked.status).toBe(200);
    expect(blocked.headers.get("Idempotent-Replayed")).toBeNull();
    expect(await blocked.json()).toMatchObject({ status: "blocked" });
    expect((await emulatedAccount(accid)).blocked).toBe(true);
    const other = `op-${crypto.randomUUID()}`;
    expect((await adminCall("POST", `/accounts/${seg(uid)}/unblock`)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100)); // a sign-in after the second sign-out
    await signOut(other);
    const revoked = await adminCall("POST", `/accounts/${seg(uid)}/revoke`, { kick: false }, { requestId: other });
    expect(revoked.headers.get("Idempotent-Replayed")).toBeNull();
    const history = (await (await adminCall("GET", `/accounts/${seg(uid)}/history`)).json()) as {
      entries: { operator: string; requestId?: string; replayed: boolean }[];
    };
    // The user's own sign-outs carry no request id; every operator action ran, none replayed.
    for (const entry of history.entries) {
      if (entry.operator === "user") expect(entry.requestId).toBeUndefined();
      expect(entry.replayed).toBe(false);
    }
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
