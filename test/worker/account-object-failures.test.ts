/**
 * The account object's failure paths, driven for real: a KV write that fails (the object's own KV
 * binding made to refuse), a rollback that cannot reach NetEase, the alarm that finishes both and
 * re-arms while it cannot, and the day-long clean-up of stored operation results.
 */

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { AccountObject } from "../../src/accounts/object/entry.ts";
import { AccountLedger } from "../../src/accounts/object/ledger.ts";
import { AccountStore } from "../../src/accounts/store.ts";
import { DEFAULT_APP, TIMING } from "../../src/core/constants.ts";
import {
  adminCall,
  call,
  emulatedAccount,
  env,
  expectedAccid,
  injectFault,
  registerAtNetEase,
  seg,
  stockAccid,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";
import { callbackHeaders } from "./netease-signing.ts";

const store = () => new AccountStore(env.ACCOUNTS!);
const objectOf = (uid: string) =>
  env.ACCOUNT_OBJECTS!.get(env.ACCOUNT_OBJECTS!.idFromName(uid)) as DurableObjectStub<AccountObject>;

/** What the object's ledger holds: KV still owed, a registration to undo, and the alarm. */
async function ledgerState(uid: string) {
  return runInDurableObject(objectOf(uid), async (_instance, state) => {
    const entry = new AccountLedger(state.storage.sql).read()!;
    return { kvPending: entry.kvPending, pending: entry.pending, alarm: await state.storage.getAlarm() };
  });
}

describe("a KV write that fails after the change is committed", () => {
  it("keeps the change, marks KV as owed, sets an alarm, and the alarm writes KV once it can", async () => {
    const uid = uniqueUid("kv-fails");
    await tokenFor(uid);
    const before = (await store().get(uid))!;
    const answer = await runInDurableObject(objectOf(uid), async (instance) => {
      const kv = (instance as unknown as { env: { ACCOUNTS: KVNamespace } }).env.ACCOUNTS;
      const put = kv.put;
      kv.put = () => Promise.reject(new Error("KV is down"));
      try {
        return await instance.block({ app: DEFAULT_APP, uid }, true, {});
      } finally {
        kv.put = put;
      }
    });
    expect(answer).toMatchObject({ ok: true, value: { status: "blocked" } }); // the change stands
    expect(await store().get(uid)).toEqual(before); // KV did not get it
    expect(await emulatedAccount(before.accid)).toMatchObject({ blocked: true });
    const owed = await ledgerState(uid);
    expect(owed.kvPending).toBe(true);
    expect(owed.alarm).not.toBeNull();
    expect(await runDurableObjectAlarm(objectOf(uid))).toBe(true);
    expect(await store().get(uid)).toMatchObject({ status: "blocked", revision: (before.revision ?? 0) + 1 });
    expect((await ledgerState(uid)).kvPending).toBe(false);
  });
});

describe("a rollback that cannot reach NetEase", () => {
  it("keeps the registration to undo, re-arms the alarm while NetEase still fails, and undoes it once it can", async () => {
    const uid = uniqueUid("rollback-fails");
    const { accid } = await tokenFor(uid);
    const next = await expectedAccid(uid, 1);
    // The rotation registers the next accid, then blocking the old one fails; so do the first two
    // attempts of the rollback to ask NetEase about the new one (the tests' Worker has one base).
    await injectFault(accid, "user/block.action", "code403");
    await injectFault(next, "user/getUinfos.action", "http502", 2);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/rotate`)).status).toBe(502);
    const waiting = await ledgerState(uid);
    expect(waiting.pending).toEqual({ accid: next, generation: 1 });
    expect(waiting.alarm).not.toBeNull();
    expect(await emulatedAccount(next)).toMatchObject({ exists: true, blocked: false }); // not undone yet

    // The alarm's own attempt meets NetEase still failing: it re-arms.
    expect(await runDurableObjectAlarm(objectOf(uid))).toBe(true);
    const still = await ledgerState(uid);
    expect(still.pending).toEqual({ accid: next, generation: 1 });
    expect(still.alarm).not.toBeNull();

    // NetEase answers again: the next alarm undoes the registration and commits the skipped generation.
    expect(await runDurableObjectAlarm(objectOf(uid))).toBe(true);
    const done = await ledgerState(uid);
    expect(done.pending).toBeNull();
    expect(await emulatedAccount(next)).toMatchObject({ exists: true, blocked: true });
    expect(await emulatedAccount(accid)).toMatchObject({ blocked: false });
    expect(await store().get(uid)).toMatchObject({ accid, status: "active", generation: 1 });
  });
});

describe("stored operation results", () => {
  it("are replayed for 24 hours, then forgotten when a later operation is remembered", async () => {
    const uid = uniqueUid("retention");
    await tokenFor(uid);
    await runInDurableObject(objectOf(uid), async (_instance, state) => {
      const ledger = new AccountLedger(state.storage.sql);
      const day = TIMING.operationResultRetentionMs;
      const t0 = 1_800_000_000_000;
      ledger.remember("old", "unblock", { ok: true, value: "first" }, t0);
      expect(ledger.replay("old", "unblock", t0 + day - 1)).toEqual({ ok: true, value: "first" });
      expect(ledger.replay("old", "unblock", t0 + day)).toBeUndefined(); // past 24 h it is not replayed
      ledger.remember("new", "block true", { ok: true, value: "second" }, t0 + day);
      const rows = state.storage.sql.exec<{ request_id: string }>("SELECT request_id FROM result").toArray();
      expect(rows.map((r) => r.request_id)).toEqual(["new"]); // and the old row is gone
    });
  });
});

describe("the Worker when objects or KV cannot be reached", () => {
  const brokenKv = {
    get: () => Promise.reject(new Error("KV is down")),
    put: () => Promise.reject(new Error("KV is down")),
  };

  it("answers an import 503 storage_unavailable when the rows' objects cannot be reached", async () => {
    const unreachable = {
      idFromName: (name: string) => env.ACCOUNT_OBJECTS!.idFromName(name),
      get: () => ({ bind: () => Promise.reject(new Error("Durable Object reset because its code was updated.")) }),
    };
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const response = await adminCall("POST", "/accounts/import", [{ uid: uniqueUid(), accid }], {
      overrides: { ACCOUNT_OBJECTS: unreachable },
    });
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBe("2");
    expect((await response.json<{ error: string }>()).error).toBe("storage_unavailable");
  });

  it("answers NetEase's login callback 503 when KV is down, after checking the token", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    const body = JSON.stringify({ eventType: 36, fromAccount: accid, authType: 2, token });
    const headers = callbackHeaders(body, { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! });
    const down = await call("/v1/nim/login-callback", { method: "POST", headers, body }, { ACCOUNTS: brokenKv });
    expect(down.status).toBe(503); // NetEase then applies the default chosen in its console
    expect((await down.json<{ error: string }>()).error).toBe("storage_unavailable");
    // A bad token is refused before KV is needed, so it is still a decision.
    const forged = JSON.stringify({ eventType: 36, fromAccount: accid, authType: 2, token: "garbage" });
    const signed = callbackHeaders(forged, { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! });
    const refused = await call(
      "/v1/nim/login-callback",
      { method: "POST", headers: signed, body: forged },
      {
        ACCOUNTS: brokenKv,
      },
    );
    expect(await refused.json()).toEqual({ errCode: 1, responseCode: 20004 });
  });
});
