/**
 * Account-change events (docs/events.md) against real Queues and a real R2 bucket in workerd, and a
 * local receiver that verifies each delivery with the Standard Webhooks library: what each change
 * sends, what sends nothing, retries, the dead-letter queue, and the operator's redelivery.
 * Runs in the worker-events project: two attempts, a second apart (test/settings.ts).
 */

import { runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { AccountOperations } from "../../src/accounts/object/object.ts";
import type { Env } from "../../src/env.ts";
import { EVENTS_TEST_SECRET } from "../settings.ts";
import { adminCall, call, env, hsJwt, seg, stockAccid, tokenFor, uniqueUid } from "../worker/helpers.ts";
import { answerFor, type Delivery, deliveriesOf, pause, waitForDeliveries } from "./receiver.ts";

const typesOf = (deliveries: Delivery[]) => deliveries.map((d) => d.event.type);

interface ParkedList {
  configured: boolean;
  deadLetters: { id: string; uid: string; type: string; attempts: number; lastError: string }[];
  cursor: string | null;
}

async function parked(): Promise<ParkedList> {
  const answer = await adminCall("GET", "/events/dead-letters?limit=100");
  expect(answer.status).toBe(200);
  return answer.json();
}

/** Waits until event `id` is parked, and returns its entry. */
async function waitParked(id: string, seconds = 20): Promise<ParkedList["deadLetters"][number]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const found = (await parked()).deadLetters.find((letter) => letter.id === id);
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`event ${id} was not parked`);
    await pause(250);
  }
}

describe("what each change sends", () => {
  it("a first use, a block, a rotation and a user's own sign-out each reach the backend once, signed", async () => {
    const uid = uniqueUid("events");
    const { accid, token } = await tokenFor(uid);
    const block = await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: false }, { requestId: `b-${uid}` });
    expect(block.status).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/unblock`, {})).status).toBe(200);
    const rotate = await adminCall("POST", `/accounts/${seg(uid)}/rotate`, {}, { requestId: `r-${uid}` });
    expect(rotate.status).toBe(200);
    const { accid: rotated } = (await rotate.json()) as { accid: string };
    const signOut = await call("/v1/sessions/revoke", {
      method: "POST",
      headers: { Authorization: `Bearer ${await hsJwt(uid)}` },
    });
    expect(signOut.status).toBe(200);

    const deliveries = await waitForDeliveries(uid, (all) => all.length >= 5);
    await pause(1500); // nothing more comes
    const all = (await deliveriesOf(uid)).sort((a, b) => a.event.data.revision - b.event.data.revision);
    expect(typesOf(all)).toEqual([
      "account.created",
      "account.blocked",
      "account.unblocked",
      "account.rotated",
      "account.signed_out",
    ]);
    expect(deliveries.every((d) => d.verified && d.answered === 204)).toBe(true);
    // webhook-id is the event's own id, the same in the header and the body.
    expect(all.every((d) => d.id === d.event.id && /^evt_[0-9a-f]{32}$/.test(d.id))).toBe(true);
    const [created, blocked, , rotation, signedOut] = all.map((d) => d.event);
    expect(created!.data).toEqual({
      app: "default",
      uid,
      accid,
      status: "active",
      revision: 1,
      outcome: "done",
      operator: "user",
    });
    expect(blocked!.data).toMatchObject({ status: "blocked", operator: "admin token", requestId: `b-${uid}` });
    expect(rotation!.data).toMatchObject({ accid: rotated, previousAccid: accid, requestId: `r-${uid}` });
    expect(signedOut!.data).toMatchObject({ operator: "user", kick: "done" });
    expect(signedOut!.data.requestId).toBeUndefined();
    // Never a token or a secret.
    const text = JSON.stringify(all);
    for (const secret of [token, env.NIM_APP_SECRET!, EVENTS_TEST_SECRET, env.ADMIN_TOKEN!]) {
      expect(text).not.toContain(secret);
    }
  });

  it("a replayed request id, a refused action and a bind that changes nothing send nothing", async () => {
    const uid = uniqueUid("events-quiet");
    const { accid } = await tokenFor(uid);
    const requestId = `same-${uid}`;
    for (let i = 0; i < 2; i++) {
      expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, {}, { requestId })).status).toBe(200);
    }
    // Not found: a failure, recorded in history, but no change.
    expect((await adminCall("POST", `/accounts/${seg(`${uid}-none`)}/block`, {})).status).toBe(404);
    const rebind = await adminCall("PUT", `/accounts/${seg(uid)}`, { accid });
    expect(((await rebind.json()) as { outcome: string }).outcome).toBe("already_bound");
    await adminCall("POST", `/accounts/${seg(uid)}/unblock`, {});
    await waitForDeliveries(uid, (all) => typesOf(all).includes("account.unblocked"));
    await pause(2000);
    expect(typesOf(await deliveriesOf(uid)).sort()).toEqual([
      "account.blocked",
      "account.created",
      "account.unblocked",
    ]);
    expect(await deliveriesOf(`${uid}-none`)).toEqual([]);
  });

  it("a one-request import sends account.imported; a file import's rows send nothing", async () => {
    const [one, filed] = [uniqueUid("events-import"), uniqueUid("events-file")];
    const accids = [stockAccid(), stockAccid()];
    const made = await fetch(`${env.EMULATOR_URL}/emulator/accounts`, {
      method: "POST",
      body: JSON.stringify({ accids }),
    });
    expect(made.status).toBe(200);
    expect((await adminCall("POST", "/accounts/import", [{ uid: one, accid: accids[0] }])).status).toBe(200);
    const started = await adminCall("POST", "/imports", `${JSON.stringify({ uid: filed, accid: accids[1] })}\n`, {
      contentType: "application/x-ndjson",
    });
    expect(started.status).toBe(202);
    const { id } = (await started.json()) as { id: string };
    for (let i = 0; i < 100; i++) {
      const status = (await (await adminCall("GET", `/imports/${id}`)).json()) as {
        status: string;
        counts: { bound: number };
      };
      if (status.status === "complete") {
        expect(status.counts.bound).toBe(1);
        break;
      }
      await pause(100);
    }
    await waitForDeliveries(one, (all) => typesOf(all).includes("account.imported"));
    await pause(2000);
    expect(await deliveriesOf(filed)).toEqual([]);
  });

  it("an event outlives a queue that is down: kept with its change, queued by the object's alarm", async () => {
    const uid = uniqueUid("events-outbox");
    await tokenFor(uid);
    await waitForDeliveries(uid, (all) => all.length === 1);
    const stub = env.ACCOUNT_OBJECTS!.get(env.ACCOUNT_OBJECTS!.idFromName(uid));
    const down: Queue = {
      send: () => Promise.reject(new Error("queue unavailable")),
      sendBatch: () => Promise.reject(new Error("queue unavailable")),
    } as unknown as Queue;
    await runInDurableObject(stub, async (_instance, state) => {
      const operations = new AccountOperations(state, { ...env, EVENTS: down } as Env);
      const blocked = await operations.block({ app: "default", uid }, false, { operator: "tester" });
      expect(blocked.ok).toBe(true);
      const waiting = state.storage.sql.exec("SELECT body FROM outbox").toArray();
      expect(waiting).toHaveLength(1);
      expect(JSON.parse(String(waiting[0]!.body)).type).toBe("account.blocked");
      // Sent after the answer: the failed send sets the alarm a moment later.
      for (let tries = 0; tries < 50 && (await state.storage.getAlarm()) === null; tries++) await pause(20);
      expect(await state.storage.getAlarm()).not.toBeNull();
    });
    await pause(1500);
    expect(typesOf(await deliveriesOf(uid))).toEqual(["account.created"]);
    // The object's own alarm (with the working queue) sends it, and empties the outbox.
    expect(await runDurableObjectAlarm(stub)).toBe(true);
    const after = await waitForDeliveries(uid, (all) => all.length === 2);
    expect(after[1]!.event.data).toMatchObject({ status: "blocked", operator: "tester" });
    await runInDurableObject(stub, (_instance, state) => {
      expect(state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n).toBe(0);
    });
  });

  it("events switched off while some wait: the object forgets them at its next operation", async () => {
    const uid = uniqueUid("events-off");
    await tokenFor(uid);
    await waitForDeliveries(uid, (all) => all.length === 1);
    const stub = env.ACCOUNT_OBJECTS!.get(env.ACCOUNT_OBJECTS!.idFromName(uid));
    const down = { sendBatch: () => Promise.reject(new Error("queue unavailable")) } as unknown as Queue;
    await runInDurableObject(stub, async (_instance, state) => {
      const failing = new AccountOperations(state, { ...env, EVENTS: down } as Env);
      expect((await failing.block({ app: "default", uid }, false, { operator: "tester" })).ok).toBe(true);
      const count = () => state.storage.sql.exec("SELECT COUNT(*) AS n FROM outbox").one().n;
      expect(count()).toBe(1);
      const off = new AccountOperations(state, { ...env, EVENTS_WEBHOOK_URL: "", EVENTS_WEBHOOK_SECRET: "" } as Env);
      expect((await off.get({ app: "default", uid })).ok).toBe(true);
      expect(count()).toBe(0);
    });
  });
});

describe("delivery, retries and the dead-letter queue", () => {
  it("a receiver that answers 500 gets the event again, then it is parked; redelivered under its own id", async () => {
    const uid = uniqueUid("events-fail");
    await tokenFor(uid);
    await waitForDeliveries(uid, (all) => all.length === 1);
    await answerFor(uid, "fail");
    await adminCall("POST", `/accounts/${seg(uid)}/block`, {});
    const failed = await waitForDeliveries(uid, (all) => all.filter((d) => d.answered === 500).length === 2);
    const attempts = failed.filter((d) => d.answered === 500);
    // The same event twice, a second apart at least (EVENTS_RETRY_DELAY=1), each signed afresh.
    expect(attempts[1]!.id).toBe(attempts[0]!.id);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(900);
    expect(attempts.every((d) => d.verified)).toBe(true);
    const letter = await waitParked(attempts[0]!.id);
    expect(letter).toMatchObject({ uid, type: "account.blocked", attempts: 2, lastError: "status 500" });

    await answerFor(uid, "ok");
    const redelivery = await adminCall("POST", `/events/dead-letters/${letter.id}/redeliver`, {});
    expect(redelivery.status).toBe(202);
    expect(await redelivery.json()).toEqual({ id: letter.id, queued: true });
    const done = await waitForDeliveries(uid, (all) => all.some((d) => d.id === letter.id && d.answered === 204));
    expect(done.filter((d) => d.id === letter.id)).toHaveLength(3);
    expect((await parked()).deadLetters.some((l) => l.id === letter.id)).toBe(false);
    const again = await adminCall("POST", `/events/dead-letters/${letter.id}/redeliver`, {});
    expect(again.status).toBe(404);
    expect(((await again.json()) as { error: string }).error).toBe("not_found");
  });

  it("a receiver that never answers: each attempt times out, the event is parked, and an operator drops it", async () => {
    const uid = uniqueUid("events-hang");
    await tokenFor(uid);
    await waitForDeliveries(uid, (all) => all.length === 1);
    await answerFor(uid, "hang");
    await adminCall("POST", `/accounts/${seg(uid)}/block`, {});
    const hung = await waitForDeliveries(uid, (all) => all.filter((d) => d.answered === 0).length >= 1);
    const id = hung.find((d) => d.answered === 0)!.id;
    const letter = await waitParked(id, 40);
    expect(letter).toMatchObject({ attempts: 2, lastError: "timeout" });
    expect((await adminCall("DELETE", `/events/dead-letters/${id}`)).status).toBe(204);
    expect((await parked()).deadLetters.some((l) => l.id === id)).toBe(false);
    expect((await adminCall("DELETE", `/events/dead-letters/${id}`)).status).toBe(404);
  }, 60_000);
});

describe("the dead-letter routes refuse what they cannot take", () => {
  it("redelivers only an event the Worker wrote, under the id it is parked as", async () => {
    const uid = uniqueUid("forged");
    const parked = (id: string, event: unknown) =>
      env.ADMIN_FILES!.put(`events/dead-letter/${id}`, JSON.stringify({ event, attempts: 2, lastError: "timeout" }));
    const genuine = {
      id: `evt_${"a".repeat(32)}`,
      type: "account.unblocked",
      timestamp: new Date().toISOString(),
      data: { app: "default", uid, accid: "a1", status: "active", revision: 3, outcome: "done", operator: "x" },
    };
    // Under another id; with a field the Worker never writes; not JSON at all.
    await parked(`evt_${"b".repeat(32)}`, genuine);
    await parked(`evt_${"c".repeat(32)}`, { ...genuine, id: `evt_${"c".repeat(32)}`, extra: "token" });
    await env.ADMIN_FILES!.put(`events/dead-letter/evt_${"d".repeat(32)}`, "not json");
    for (const id of ["b", "c", "d"].map((c) => `evt_${c.repeat(32)}`)) {
      const answer = await adminCall("POST", `/events/dead-letters/${id}/redeliver`, {});
      expect(answer.status, id).toBe(409);
      expect(((await answer.json()) as { error: string }).error).toBe("conflict");
      expect((await adminCall("DELETE", `/events/dead-letters/${id}`)).status).toBe(204);
    }
    await pause(1500);
    expect(await deliveriesOf(uid)).toEqual([]);
  });

  it("a cursor the bucket refuses is the caller's 400; the bucket failing without one is a 503", async () => {
    // A bucket that refuses every listing (local R2 ignores a cursor it did not give; R2 refuses it).
    const refusing = { list: () => Promise.reject(new Error("bad cursor")) } as unknown as R2Bucket;
    const overrides = { ADMIN_FILES: refusing };
    const forged = await adminCall("GET", "/events/dead-letters?cursor=forged", undefined, { overrides });
    expect(forged.status).toBe(400);
    expect(((await forged.json()) as { error: string }).error).toBe("invalid_request");
    const down = await adminCall("GET", "/events/dead-letters", undefined, { overrides });
    expect(down.status).toBe(503);
    expect(((await down.json()) as { error: string }).error).toBe("storage_unavailable");
  });

  it("a malformed id, a bad page size or no credential", async () => {
    const bad = await adminCall("POST", "/events/dead-letters/evt_1.2/redeliver", {});
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toBe("invalid_request");
    expect((await adminCall("DELETE", `/events/dead-letters/${"a".repeat(40)}`)).status).toBe(400);
    expect((await adminCall("GET", "/events/dead-letters?limit=0")).status).toBe(400);
    expect((await adminCall("GET", "/events/dead-letters?page=2")).status).toBe(400);
    expect((await adminCall("GET", "/events/dead-letters", undefined, { token: null })).status).toBe(401);
    const missing = await adminCall("POST", `/events/dead-letters/evt_${"0".repeat(32)}/redeliver`, {});
    expect(missing.status).toBe(404);
  });
});
