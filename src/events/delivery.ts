/**
 * The queue consumers of events: delivery to the app's backend, and parking what could not be
 * delivered.
 *
 * Delivery is at least once. Each attempt is signed afresh (receivers refuse a timestamp more than
 * a few minutes off) under the event's own id, so a receiver drops a repeat by `webhook-id`. A 2xx
 * answer delivers; anything else (another status, a redirect, no answer within 10 s, no connection)
 * is retried after the delay EVENTS_RETRY_DELAY starts, doubling; after EVENTS_MAX_ATTEMPTS the
 * event goes to the dead-letter queue with the reason of its last attempt. The dead-letter
 * consumer writes it to the operators' bucket, where the console lists it and redelivers it. A
 * consumer that throws (our fault, not the receiver's) is retried by Queues itself, and after the
 * queue's own `max_retries` Queues moves the message to the same dead-letter queue.
 */

import { logLine } from "../core/log.ts";
import { type AccountEvent, isAccountEvent } from "./event.ts";
import { DELIVERY, type EventSettings, retryDelay } from "./settings.ts";
import { importWebhookKey, webhookHeaders } from "./webhook.ts";

/** What the dead-letter queue carries: the event and why its last attempt failed. */
export interface DeadLetter {
  event: AccountEvent;
  attempts: number;
  /** `status 500`, `timeout`, `no connection`, `redirect 302`, or `consumer failed` (Queues' own retries). */
  lastError: string;
}

/** Where a parked event is kept in the bucket: one object per event id. */
export const DEAD_LETTER_PREFIX = "events/dead-letter/";

/** The name a dead-letter queue ends with (wrangler.jsonc): how the Worker's queue handler tells the two apart. */
export const DEAD_LETTER_QUEUE_SUFFIX = "-dead-letter";

const keys = new WeakMap<Uint8Array<ArrayBuffer>, Promise<CryptoKey>>();

/** One attempt: undefined when delivered, else why not. */
async function attempt(settings: EventSettings, event: AccountEvent): Promise<string | undefined> {
  let key = keys.get(settings.webhookKey);
  if (!key) {
    key = importWebhookKey(settings.webhookKey);
    keys.set(settings.webhookKey, key);
  }
  const body = JSON.stringify(event);
  const headers = await webhookHeaders(await key, event.id, Math.floor(Date.now() / 1000), body);
  try {
    const answer = await fetch(settings.webhookUrl, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json", "User-Agent": "nim-token-worker" },
      body,
      // A redirect is not followed: the operator set one URL, and the signature is for it alone.
      redirect: "manual",
      signal: AbortSignal.timeout(DELIVERY.timeoutMs),
    });
    await answer.body?.cancel();
    if (answer.status >= 200 && answer.status < 300) return undefined;
    return answer.status >= 300 && answer.status < 400 ? `redirect ${answer.status}` : `status ${answer.status}`;
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    return name === "TimeoutError" || name === "AbortError" ? "timeout" : "no connection";
  }
}

/**
 * Delivers a batch of the events queue: each message acknowledged, retried later, or sent on as a
 * dead letter, each on its own (one message's failure never decides another's fate).
 */
export async function deliverEvents(batch: MessageBatch<unknown>, settings: EventSettings): Promise<void> {
  await Promise.all(batch.messages.map((message) => deliverOne(message, settings)));
}

async function deliverOne(message: Message<unknown>, settings: EventSettings): Promise<void> {
  try {
    await deliver(message, settings);
  } catch (error) {
    // Our fault or the dead-letter queue's (its send failed): tried again later, counted by Queues.
    logLine("error", { event: "event_delivery_failed", detail: error instanceof Error ? error.name : "error" });
    message.retry({ delaySeconds: settings.retryDelaySeconds });
  }
}

async function deliver(message: Message<unknown>, settings: EventSettings): Promise<void> {
  const event = message.body;
  if (!isAccountEvent(event)) {
    // Nothing a retry could mend; said loudly, since only a bug writes one.
    logLine("error", { event: "event_unreadable", detail: `message ${message.id}` });
    message.ack();
    return;
  }
  const failure = await attempt(settings, event);
  const fields = { event: "event_delivery", id: event.id, type: event.type, attempt: message.attempts };
  if (failure === undefined) {
    message.ack();
    return;
  }
  if (message.attempts >= settings.maxAttempts) {
    const letter: DeadLetter = { event, attempts: message.attempts, lastError: failure };
    await settings.deadLetters.send(letter, { contentType: "json" });
    logLine("error", { ...fields, outcome: "dead_letter", detail: failure });
    message.ack();
    return;
  }
  const delaySeconds = retryDelay(settings, message.attempts);
  logLine("warn", { ...fields, outcome: "retry", detail: failure, delaySeconds });
  message.retry({ delaySeconds });
}

/** How long a dead letter waits before it is parked again after the bucket failed. */
const PARK_RETRY_SECONDS = 60;

/**
 * Parks a batch of the dead-letter queue in the bucket, one object per event id (a repeat
 * overwrites it). A message that is a bare event came from Queues' own retries. A failed write is
 * tried again a minute later, up to the dead-letter queue's own `max_retries` (wrangler.jsonc).
 */
export async function parkDeadLetters(batch: MessageBatch<unknown>, files: R2Bucket): Promise<void> {
  await Promise.all(
    batch.messages.map(async (message) => {
      try {
        await park(message, files);
      } catch (error) {
        logLine("error", { event: "dead_letter_unparked", detail: error instanceof Error ? error.name : "error" });
        message.retry({ delaySeconds: PARK_RETRY_SECONDS });
      }
    }),
  );
}

async function park(message: Message<unknown>, files: R2Bucket): Promise<void> {
  const body = message.body as Partial<DeadLetter> | undefined;
  const letter: DeadLetter | undefined = isAccountEvent(body?.event)
    ? { event: body.event, attempts: Number(body.attempts) || message.attempts, lastError: String(body.lastError) }
    : isAccountEvent(message.body)
      ? { event: message.body, attempts: message.attempts, lastError: "consumer failed" }
      : undefined;
  if (!letter) {
    logLine("error", { event: "event_unreadable", detail: `dead letter ${message.id}` });
    message.ack();
    return;
  }
  const parkedAt = new Date().toISOString();
  await files.put(`${DEAD_LETTER_PREFIX}${letter.event.id}`, JSON.stringify({ ...letter, parkedAt }), {
    httpMetadata: { contentType: "application/json" },
    customMetadata: {
      type: letter.event.type,
      app: letter.event.data.app,
      uid: letter.event.data.uid,
      timestamp: letter.event.timestamp,
      attempts: String(letter.attempts),
      lastError: letter.lastError,
      parkedAt,
    },
  });
  message.ack();
}
