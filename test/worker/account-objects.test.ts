/**
 * Account objects: one Durable Object per uid is the single writer of its record. Changes for one
 * uid are linearizable, each reports what it did, a repeated X-Request-Id replays the first result,
 * and a stale copy (in KV or in an isolate's cache) can never undo a change.
 */

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AccountCache } from "../../src/accounts/cache.ts";
import { AccountLookup } from "../../src/accounts/lookup.ts";
import { AccountObjectClient } from "../../src/accounts/object/client.ts";
import type { AccountRecord } from "../../src/accounts/record.ts";
import { AccountStore } from "../../src/accounts/store.ts";
import type { AdminAccount } from "../../src/contract/responses.ts";
import { adminCall, emulatedAccount, env, expectedAccid, injectFault, seg, tokenFor, uniqueUid } from "./helpers.ts";

const store = () => new AccountStore(env.ACCOUNTS!);
const objectOf = (uid: string) => env.ACCOUNT_OBJECTS!.get(env.ACCOUNT_OBJECTS!.idFromName(uid));

/**
 * Checks that KV, the uid's object and NetEase agree: the record's accid is the current one with
 * the record's state, every earlier derived accid is blocked, and no later one exists (no orphan).
 */
async function expectAgreement(uid: string): Promise<AccountRecord> {
  const record = (await store().get(uid))!;
  const view = await (await adminCall("GET", `/accounts/${seg(uid)}`)).json<AdminAccount>();
  expect(view).toMatchObject({
    accid: record.accid,
    status: record.status,
    generation: record.generation,
    revision: record.revision,
  });
  expect(record.accid).toBe(await expectedAccid(uid, record.generation));
  expect(await emulatedAccount(record.accid)).toMatchObject({
    exists: true,
    blocked: record.status === "blocked",
  });
  for (let generation = 0; generation < record.generation; generation++) {
    const earlier = await emulatedAccount(await expectedAccid(uid, generation));
    if (earlier.exists) expect(earlier.blocked).toBe(true);
  }
  for (let generation = record.generation + 1; generation <= record.generation + 3; generation++) {
    expect((await emulatedAccount(await expectedAccid(uid, generation))).exists).toBe(false);
  }
  expect(await store().uidForAccid(record.accid)).toBe(uid);
  return record;
}

describe("one writer per uid", () => {
  it("runs concurrent mixed block, unblock and rotate one at a time: KV, the object and NetEase agree", async () => {
    const uid = uniqueUid("mixed");
    await tokenFor(uid);
    const kinds = ["rotate", "block", "unblock", "rotate", "block", "rotate", "unblock", "rotate", "block", "unblock"];
    const answers = await Promise.all(kinds.map((kind) => adminCall("POST", `/accounts/${seg(uid)}/${kind}`)));
    const bodies = await Promise.all(answers.map((r) => r.json<AdminAccount & { previousAccid?: string }>()));
    const statuses = answers.map((r) => r.status);
    // Only a rotation that found the account blocked is refused; every other change happened.
    for (const [i, status] of statuses.entries()) expect(status === 200 || kinds[i] === "rotate").toBe(true);
    for (const status of statuses) if (status !== 200) expect(status).toBe(409);
    const record = await expectAgreement(uid);
    const done = statuses.filter((s) => s === 200).length;
    expect(record.revision).toBe(1 + done); // one commit per change, none lost
    // Each rotation that happened produced its own accid, one generation after another.
    const rotated = bodies.filter((_body, i) => kinds[i] === "rotate" && statuses[i] === 200);
    expect(new Set(rotated.map((b) => b.accid)).size).toBe(rotated.length);
    expect(record.generation).toBe(rotated.length);
    for (const b of rotated) expect(b.accid).toBe(await expectedAccid(uid, b.generation));
  });

  it("queues concurrent rotations: each happens and reports the accid it produced", async () => {
    const uid = uniqueUid("rotations");
    const { accid } = await tokenFor(uid);
    const answers = await Promise.all([1, 2, 3].map(() => adminCall("POST", `/accounts/${seg(uid)}/rotate`)));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    const bodies = await Promise.all(answers.map((r) => r.json<AdminAccount & { previousAccid: string }>()));
    const byGeneration = [...bodies].sort((a, b) => a.generation - b.generation);
    expect(byGeneration.map((b) => b.generation)).toEqual([1, 2, 3]);
    expect(byGeneration[0]!.previousAccid).toBe(accid);
    expect(byGeneration[1]!.previousAccid).toBe(byGeneration[0]!.accid);
    expect(byGeneration[2]!.previousAccid).toBe(byGeneration[1]!.accid);
    await expectAgreement(uid);
  });

  it("makes one registration for concurrent first uses from different runtimes", async () => {
    const uid = uniqueUid("first");
    const answers = await Promise.all(
      ["601", "602", "603", "604"].map((ttl) => tokenFor(uid, { TOKEN_TTL_DEFAULT: ttl })),
    );
    expect(new Set(answers.map((a) => a.accid))).toEqual(new Set([await expectedAccid(uid)]));
    expect((await emulatedAccount(await expectedAccid(uid))).calls).toEqual({ create: 1 });
    expect(await store().get(uid)).toMatchObject({ revision: 1 });
  });
});

describe("stale copies cannot undo a change", () => {
  it("a rotate after a block is refused even when KV still shows the old active record", async () => {
    const uid = uniqueUid("stale");
    const { accid } = await tokenFor(uid);
    const active = (await store().get(uid))!;
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(200);
    // What a location whose KV replica has not caught up would read: the record before the block.
    await env.ACCOUNTS!.put(`uid:${uid}`, JSON.stringify(active));
    const rotate = await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    expect(rotate.status).toBe(409); // the object acts on its own copy: blocked
    expect((await emulatedAccount(accid)).blocked).toBe(true);
    expect((await emulatedAccount(await expectedAccid(uid, 1))).exists).toBe(false);
    const view = await (await adminCall("GET", `/accounts/${seg(uid)}`)).json<AdminAccount>();
    expect(view).toMatchObject({ accid, status: "blocked" });
  });

  it("an isolate keeps a newer copy when a background refresh reads an older one from KV", async () => {
    const uid = uniqueUid("refresh");
    let now = 1_000_000;
    const active: AccountRecord = {
      v: 1,
      accid: "a".repeat(32),
      status: "active",
      createdAt: 1,
      updatedAt: 1,
      generation: 0,
      revision: 1,
    };
    const blocked: AccountRecord = { ...active, status: "blocked", revision: 2 };
    // A store whose reads always answer the stale, active copy.
    const staleStore = { get: async () => active } as unknown as AccountStore;
    const cache = new AccountCache(() => now);
    const provisioner = new AccountLookup(new AccountObjectClient(env.ACCOUNT_OBJECTS!, cache), staleStore, cache);
    cache.keep(uid, blocked); // the block this isolate saw committed
    const background: Promise<unknown>[] = [];
    now += 53_000; // past the refresh point (≤ 52.5 s), before expiry (≥ 55 s)
    expect(await provisioner.account(uid, (work) => background.push(work))).toEqual(blocked);
    expect(background).toHaveLength(1);
    await Promise.all(background);
    expect(await provisioner.account(uid)).toEqual(blocked); // the stale read did not replace it
  });
});

describe("what an isolate's cache learns from the objects", () => {
  it("keeps what an object committed, and nothing of a replayed answer: its record and expiry stay as they were", async () => {
    const uid = uniqueUid("replay-cache");
    await tokenFor(uid);
    let now = Date.now();
    const cache = new AccountCache(() => now);
    const objects = new AccountObjectClient(env.ACCOUNT_OBJECTS!, cache);
    const blockId = `block-${crypto.randomUUID()}`;
    const unblockId = `unblock-${crypto.randomUUID()}`;
    const blocked = await objects.block(uid, false, { requestId: blockId, operator: "test" });
    expect(blocked.replayed).toBe(false);
    expect(cache.entry(uid)!.value).toEqual(blocked.value);
    now += 1_000;
    const unblocked = await objects.unblock(uid, { requestId: unblockId, operator: "test" });
    const kept = { ...cache.entry(uid)! };
    expect(kept.value).toEqual(unblocked.value);
    // 40 s later both are replayed: the older block, and the unblock whose record is the cached one.
    // Neither changes the copy, nor renews its expiry (else a replay every 40 s would keep the
    // isolate from ever reading KV again, and an operator's change made elsewhere from reaching it).
    now += 40_000;
    for (const replay of [
      () => objects.block(uid, false, { requestId: blockId, operator: "test" }),
      () => objects.unblock(uid, { requestId: unblockId, operator: "test" }),
    ]) {
      expect((await replay()).replayed).toBe(true);
      expect(cache.entry(uid)).toEqual(kept);
    }
    // Past its minute the copy is gone, and a replay does not bring it back.
    now += 20_000;
    expect(cache.entry(uid)).toBeUndefined();
    expect((await objects.unblock(uid, { requestId: unblockId, operator: "test" })).replayed).toBe(true);
    expect(cache.entry(uid)).toBeUndefined();
  });
});

describe("X-Request-Id makes operator actions idempotent", () => {
  it("answers a repeated request id with the first result, without acting again", async () => {
    const uid = uniqueUid("replay");
    const { accid } = await tokenFor(uid);
    const requestId = `block-${crypto.randomUUID()}`;
    const first = await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: false }, { requestId });
    expect(first.status).toBe(200);
    const firstBody = await first.json<AdminAccount>();
    expect((await adminCall("POST", `/accounts/${seg(uid)}/unblock`)).status).toBe(200);
    const repeated = await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: false }, { requestId });
    expect(repeated.status).toBe(200);
    expect(await repeated.json()).toEqual(firstBody);
    // Not blocked again: the unblock after it stands, and NetEase saw one block.
    expect(await store().get(uid)).toMatchObject({ status: "active" });
    expect(await emulatedAccount(accid)).toMatchObject({ blocked: false, calls: { block: 1, unblock: 1 } });
  });

  it("refuses a request id reused for another operation with 409, acting not at all", async () => {
    const uid = uniqueUid("reuse");
    await tokenFor(uid);
    const requestId = `op-${crypto.randomUUID()}`;
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, undefined, { requestId })).status).toBe(200);
    const reused = await adminCall("POST", `/accounts/${seg(uid)}/unblock`, undefined, { requestId });
    expect(reused.status).toBe(409);
    expect(await reused.json()).toEqual({
      error: "conflict",
      message: "This X-Request-Id was already used for a different operation on this uid; send a new one.",
    });
    expect(await store().get(uid)).toMatchObject({ status: "blocked" });
  });

  it("does not keep a transient failure: a retry with the same id acts", async () => {
    const uid = uniqueUid("transient");
    const { accid } = await tokenFor(uid);
    const requestId = `retry-${crypto.randomUUID()}`;
    await injectFault(accid, "user/block.action", "http500");
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, undefined, { requestId })).status).toBe(503);
    const retried = await adminCall("POST", `/accounts/${seg(uid)}/block`, undefined, { requestId });
    expect(retried.status).toBe(200);
    expect((await emulatedAccount(accid)).blocked).toBe(true);
  });
});

describe("KV catches up with the object", () => {
  it("writes a committed record to KV again on the object's alarm when the first write did not land", async () => {
    const uid = uniqueUid("resync");
    await tokenFor(uid);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(200);
    const committed = (await store().get(uid))!;
    // As if the KV write after the commit had failed: KV still has the record before it.
    await env.ACCOUNTS!.put(`uid:${uid}`, JSON.stringify({ ...committed, status: "active", revision: 1 }));
    const stub = objectOf(uid);
    await runInDurableObject(stub, async (_instance, state) => {
      state.storage.sql.exec("UPDATE account SET kv_pending = 1 WHERE id = 1");
      await state.storage.setAlarm(Date.now() + 60_000);
    });
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    expect(await store().get(uid)).toEqual(committed);
  });
});
