/**
 * The events queue's consumer, batch by batch (`events/delivery.ts`, `events/consumer.ts`): what it
 * acknowledges, retries (and after how long), sends on as a dead letter and parks; the Standard
 * Webhooks headers it signs; and the retry schedule. Real receiver over HTTP, real R2.
 */

import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import { describe, expect, it, type MockInstance, vi } from "vitest";
import { Problems } from "../../src/core/problems.ts";
import { type DeadLetter, deliverEvents, parkDeadLetters } from "../../src/events/delivery.ts";
import { accountEvent } from "../../src/events/event.ts";
import { DELIVERY, type EventSettings, parseEventSettings, retryDelay } from "../../src/events/settings.ts";
import worker from "../../src/index.ts";
import { uniqueUid } from "../worker/helpers.ts";
import { answerFor, deliveriesOf } from "./receiver.ts";

/** The project's settings, with a dead-letter queue that keeps what it is sent. */
function settings(): { settings: EventSettings; sent: DeadLetter[] } {
  const problems = new Problems();
  const parsed = parseEventSettings(env, problems);
  expect(problems.list).toEqual([]);
  const sent: DeadLetter[] = [];
  const deadLetters = { send: async (letter: DeadLetter) => void sent.push(letter) } as unknown as Queue;
  return { settings: { ...parsed!, deadLetters }, sent };
}

function eventFor(uid: string) {
  return accountEvent("block", Date.now(), {
    app: "default",
    uid,
    accid: "accid-1",
    status: "blocked",
    revision: 2,
    outcome: "done",
    operator: "tester",
  });
}

/** The retries the consumer logged: which event, after how long, and why. */
function retried(warnings: MockInstance<typeof console.warn>) {
  return warnings.mock.calls
    .map(([line]) => JSON.parse(String(line)) as Record<string, unknown>)
    .filter((fields) => fields.event === "event_delivery" && fields.outcome === "retry")
    .map(({ id, delaySeconds, detail }) => ({ id, delaySeconds, detail }));
}

async function run(messages: { body: unknown; attempts: number }[], chosen = settings()) {
  const batch = createMessageBatch(
    "nim-token-worker-events",
    messages.map((message, index) => ({ id: `m${index}`, timestamp: Date.now(), ...message })),
  );
  const ctx = createExecutionContext();
  await deliverEvents(batch, chosen.settings);
  return { result: await getQueueResult(batch, ctx), sent: chosen.sent };
}

describe("delivering a batch", () => {
  it("acknowledges what the receiver took, retries what it refused, and sends on the last attempt's failure", async () => {
    const ok = uniqueUid("batch-ok");
    const refused = uniqueUid("batch-refused");
    await answerFor(refused, "fail");
    const events = [eventFor(ok), eventFor(refused), eventFor(refused)];
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    const { result, sent } = await run([
      { body: events[0], attempts: 1 },
      { body: events[1], attempts: 1 },
      { body: events[2], attempts: 2 },
    ]);
    expect(result.explicitAcks.sort()).toEqual(["m0", "m2"]);
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual(["m1"]);
    // The delay asked of Queues (the test harness does not record it; the log line does).
    expect(retried(warnings)).toEqual([{ id: events[1]!.id, delaySeconds: 1, detail: "status 500" }]);
    warnings.mockRestore();
    expect(sent).toEqual([{ event: events[2], attempts: 2, lastError: "status 500" }]);
    const got = await deliveriesOf(ok);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ id: events[0]!.id, verified: true, answered: 204 });
  });

  it("a dead-letter queue that fails keeps that message for later, and decides nothing for the others", async () => {
    const ok = uniqueUid("batch-ok-2");
    const refused = uniqueUid("batch-refused-2");
    await answerFor(refused, "fail");
    const chosen = settings();
    chosen.settings.deadLetters = { send: () => Promise.reject(new Error("queue down")) } as unknown as Queue;
    const errors = vi.spyOn(console, "error").mockImplementation(() => {});
    const { result } = await run(
      [
        { body: eventFor(refused), attempts: 2 },
        { body: eventFor(ok), attempts: 1 },
      ],
      chosen,
    );
    errors.mockRestore();
    expect(result.explicitAcks).toEqual(["m1"]);
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual(["m0"]);
  });

  it("acknowledges a message that is no event (only a bug writes one), and logs it", async () => {
    const event = eventFor(uniqueUid("odd"));
    const { result, sent } = await run([
      { body: { id: "evt_x", type: "account.blocked" }, attempts: 1 },
      { body: { ...event, token: "a secret" }, attempts: 1 },
      { body: { ...event, data: { ...event.data, revision: "3" } }, attempts: 1 },
    ]);
    expect(result.explicitAcks).toEqual(["m0", "m1", "m2"]);
    expect(sent).toEqual([]);
  });

  it("counts an unreachable receiver as a failed attempt, and waits longer after each", async () => {
    const chosen = settings();
    chosen.settings = { ...chosen.settings, webhookUrl: "http://127.0.0.1:9/events", maxAttempts: 5 };
    const warnings = vi.spyOn(console, "warn").mockImplementation(() => {});
    const event = eventFor(uniqueUid("batch-down"));
    const { result, sent } = await run([{ body: event, attempts: 3 }], chosen);
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual(["m0"]);
    expect(retried(warnings)).toEqual([{ id: event.id, delaySeconds: 4, detail: "no connection" }]);
    expect(sent).toEqual([]);
    warnings.mockRestore();
  });

  it("a signature the receiver's library refuses is a failed attempt (wrong key)", async () => {
    const chosen = settings();
    chosen.settings = { ...chosen.settings, webhookKey: new Uint8Array(32).fill(7) };
    const uid = uniqueUid("batch-wrong-key");
    const { result } = await run([{ body: eventFor(uid), attempts: 1 }], chosen);
    expect(result.retryMessages).toHaveLength(1);
    expect((await deliveriesOf(uid))[0]).toMatchObject({ verified: false, answered: 400 });
  });

  it("waits the first delay, doubled after each attempt, never more than an hour", () => {
    const first = { retryDelaySeconds: 10 };
    expect([1, 2, 3, 4].map((attempts) => retryDelay(first, attempts))).toEqual([10, 20, 40, 80]);
    expect(retryDelay(first, 20)).toBe(DELIVERY.maxRetryDelaySeconds);
  });
});

describe("the dead-letter queue", () => {
  it("parks each letter in the bucket under its event id, with what the console lists", async () => {
    const event = eventFor(uniqueUid("park"));
    const bare = eventFor(uniqueUid("park-bare"));
    const batch = createMessageBatch<unknown>("nim-token-worker-events-dead-letter", [
      { id: "d0", timestamp: Date.now(), attempts: 1, body: { event, attempts: 8, lastError: "timeout" } },
      // Moved here by Queues itself, after the consumer failed: the bare event.
      { id: "d1", timestamp: Date.now(), attempts: 1, body: bare },
    ]);
    const ctx = createExecutionContext();
    await parkDeadLetters(batch, env.ADMIN_FILES!);
    expect((await getQueueResult(batch, ctx)).explicitAcks.sort()).toEqual(["d0", "d1"]);
    const kept = await env.ADMIN_FILES!.get(`events/dead-letter/${event.id}`);
    expect(await kept!.json()).toMatchObject({ event, attempts: 8, lastError: "timeout" });
    expect(kept!.customMetadata).toMatchObject({ type: "account.blocked", uid: event.data.uid, lastError: "timeout" });
    const bareKept = await env.ADMIN_FILES!.head(`events/dead-letter/${bare.id}`);
    expect(bareKept!.customMetadata!.lastError).toBe("consumer failed");
  });

  it("the Worker's queue handler tells the queues apart by name", async () => {
    const event = eventFor(uniqueUid("handler"));
    const batch = createMessageBatch<unknown>("nim-token-worker-events-dead-letter", [
      { id: "h0", timestamp: Date.now(), attempts: 1, body: { event, attempts: 2, lastError: "status 503" } },
    ]);
    const ctx = createExecutionContext();
    await worker.queue(batch, env);
    expect((await getQueueResult(batch, ctx)).explicitAcks).toEqual(["h0"]);
    expect(await env.ADMIN_FILES!.head(`events/dead-letter/${event.id}`)).not.toBeNull();
  });
});
