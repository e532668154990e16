/** Accounts on demand: first use registers at NetEase, once; failures write nothing. */

import { describe, expect, it, vi } from "vitest";
import { AccountStore } from "../../src/accounts/store.ts";
import type { TokenResponse } from "../../src/contract/responses.ts";
import {
  apiVersion,
  emulatedAccount,
  env,
  expectedAccid,
  expectedRtcUid,
  hsJwt,
  injectFault,
  issue,
  ownRuntime,
  registerAtNetEase,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";

const store = () => new AccountStore(env.ACCOUNTS!);

describe("accounts on demand", () => {
  it("registers a new uid at NetEase, then stores a versioned record and its reverse mapping", async () => {
    const uid = uniqueUid();
    const accid = await expectedAccid(uid);
    expect((await emulatedAccount(accid)).exists).toBe(false);
    const before = Date.now();
    expect((await issue(await hsJwt(uid))).status).toBe(200);
    expect(await emulatedAccount(accid)).toMatchObject({ exists: true, blocked: false, calls: { create: 1 } });
    const record = await store().get(uid);
    expect(record).toEqual({
      v: 1,
      accid,
      status: "active",
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
      generation: 0,
      rtcUid: await expectedRtcUid(uid),
      revision: 1,
    });
    expect(record!.createdAt).toBeGreaterThanOrEqual(before);
    expect(await store().uidForAccid(accid)).toBe(uid);
    expect(await store().uidForRtcUid(record!.rtcUid!)).toBe(uid);
  });

  it("makes one upstream call for 20 concurrent first requests, and they all agree on one accid", async () => {
    const uid = uniqueUid("burst");
    const jwt = await hsJwt(uid);
    const answers = await Promise.all(Array.from({ length: 20 }, () => issue(jwt)));
    expect(answers.map((r) => r.status)).toEqual(Array(20).fill(200));
    const accids = new Set(await Promise.all(answers.map(async (r) => (await r.json<TokenResponse>()).accid)));
    expect(accids).toEqual(new Set([await expectedAccid(uid)]));
    expect((await emulatedAccount([...accids][0]!)).calls).toEqual({ create: 1 });
  });

  it("does not call NetEase again for a known uid", async () => {
    const uid = uniqueUid();
    const jwt = await hsJwt(uid);
    for (let i = 0; i < 5; i++) expect((await issue(jwt)).status).toBe(200);
    expect((await emulatedAccount(await expectedAccid(uid))).calls).toEqual({ create: 1 });
  });

  it("treats NetEase's 'already register' as success (a registration whose answer was lost)", async () => {
    const uid = uniqueUid();
    const accid = await expectedAccid(uid);
    // Registered at NetEase, but nothing recorded: a first use whose answer never arrived.
    await registerAtNetEase(accid);
    const first = await issue(await hsJwt(uid));
    expect(first.status).toBe(200);
    expect((await first.json<TokenResponse>()).accid).toBe(accid);
    // v2 documents no "already exists" code, so a refused create is followed by a look-up (v1's
    // `414 already register` needs none).
    const lookUp = apiVersion() === "v2" ? { getUinfos: 1 } : {};
    expect((await emulatedAccount(accid)).calls).toEqual({ create: 2, ...lookUp });
    expect(await store().get(uid)).toMatchObject({ accid, status: "active" });
  });

  it("restores a record missing from KV from the uid's object, without asking NetEase again", async () => {
    const uid = uniqueUid();
    const accid = await expectedAccid(uid);
    expect((await issue(await hsJwt(uid))).status).toBe(200);
    const committed = await store().get(uid);
    // Lost from KV (or not yet visible here): a fresh runtime reads KV, misses, and asks the object.
    await env.ACCOUNTS!.delete(`uid:${uid}`);
    const fresh = await issue(await hsJwt(uid), undefined, ownRuntime()); // a runtime of its own: empty cache
    expect(fresh.status).toBe(200);
    expect((await fresh.json<TokenResponse>()).accid).toBe(accid);
    expect((await emulatedAccount(accid)).calls).toEqual({ create: 1 });
    expect(await store().get(uid)).toEqual(committed);
    // A second miss within the minute is answered too, but not rewritten: a burst of misses from
    // locations KV has not reached must not write one key many times a second.
    await env.ACCOUNTS!.delete(`uid:${uid}`);
    const again = await issue(await hsJwt(uid), undefined, ownRuntime());
    expect((await again.json<TokenResponse>()).accid).toBe(accid);
    expect(await store().get(uid)).toBeNull();
  });

  it.each([
    ["http500", 503, "upstream_unavailable", "5"],
    ["code500", 503, "upstream_unavailable", "5"],
    // code416 blocks the isolate's NetEase calls for 10 s, so it has its own runtime: netease.test.ts.
    ["malformed", 503, "upstream_unavailable", "5"],
    ["code403", 502, "upstream_error", null],
  ])(
    "writes nothing when NetEase fails (%s → %i), and the next request succeeds",
    async (mode, status, code, retryAfter) => {
      const uid = uniqueUid(mode);
      const accid = await expectedAccid(uid);
      await injectFault(accid, "user/create.action", mode);
      const failed = await issue(await hsJwt(uid));
      expect(failed.status).toBe(status);
      const body = await failed.json<{ error: string; message: string }>();
      expect(body.error).toBe(code);
      expect(JSON.stringify(body)).not.toMatch(/internal error|frequency|illegal|gateway/);
      expect(failed.headers.get("Retry-After")).toBe(retryAfter);
      expect(await store().get(uid)).toBeNull();
      expect(await store().uidForAccid(accid)).toBeNull();

      const retried = await issue(await hsJwt(uid));
      expect(retried.status).toBe(200);
      expect((await retried.json<TokenResponse>()).accid).toBe(accid);
      expect(await store().get(uid)).toMatchObject({ accid });
    },
  );

  it("answers 503 when NetEase does not answer in time, writing nothing", async () => {
    const uid = uniqueUid("timeout");
    const accid = await expectedAccid(uid);
    await injectFault(accid, "user/create.action", "timeout");
    const failed = await issue(await hsJwt(uid));
    expect(failed.status).toBe(503);
    expect((await failed.json<{ error: string }>()).error).toBe("upstream_unavailable");
    expect(await store().get(uid)).toBeNull();
  });

  it("answers 502 when NetEase refuses the registration (its 403), writing nothing", async () => {
    const uid = uniqueUid();
    await injectFault(await expectedAccid(uid), "user/create.action", "code403");
    const response = await issue(await hsJwt(uid));
    expect(response.status).toBe(502);
    expect((await response.json<{ error: string }>()).error).toBe("upstream_error");
    expect(await store().get(uid)).toBeNull();
  });

  it("refuses tokens to a blocked account with 403 account_blocked", async () => {
    const uid = uniqueUid();
    const now = Date.now();
    await store().put(uid, {
      v: 1,
      accid: await expectedAccid(uid),
      status: "blocked",
      createdAt: now,
      updatedAt: now,
      generation: 0,
    });
    const response = await issue(await hsJwt(uid));
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: "account_blocked",
      message: "This account is blocked from IM login.",
    });
  });

  it("serves a known account from the isolate cache for at most 60 s, then reads KV again", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const uid = uniqueUid("cache");
      const { accid } = await tokenFor(uid);
      // Another location blocks the account: only KV knows.
      const record = (await store().get(uid))!;
      await store().putRecord(uid, { ...record, status: "blocked" });
      const start = Date.now();
      vi.setSystemTime(start + 49_000); // before any refresh-ahead (from 50 s) or expiry (from 55 s)
      expect((await issue(await hsJwt(uid))).status).toBe(200); // still this isolate's copy
      vi.setSystemTime(start + 61_000);
      const response = await issue(await hsJwt(uid));
      expect(response.status).toBe(403); // the copy expired; KV says blocked
      expect(accid).toBe(record.accid);
    } finally {
      vi.useRealTimers();
    }
  });

  it("re-reads a copy older than 50–52.5 s in the background (refresh-ahead), serving the copy meanwhile", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      const uid = uniqueUid("ahead");
      await tokenFor(uid);
      const record = (await store().get(uid))!;
      await store().putRecord(uid, { ...record, status: "blocked" });
      const start = Date.now();
      vi.setSystemTime(start + 53_000); // past any entry's refresh time (≤ 52.5 s), before any expiry (≥ 55 s)
      // Served from the copy at once; the background read (awaited by the test's waitUntil) sees the block.
      expect((await issue(await hsJwt(uid))).status).toBe(200);
      vi.setSystemTime(start + 54_000);
      expect((await issue(await hsJwt(uid))).status).toBe(403); // well before the copy would have expired
    } finally {
      vi.useRealTimers();
    }
  });
});
