/**
 * The undelivered events an operator sees in the console: those the dead-letter consumer parked in
 * the operators' bucket (`events/delivery.ts`), listed, sent again or dropped. Redelivery queues the
 * same event, id included, so a receiver that did get it after all drops the repeat.
 */

import { DEAD_LETTER_PREFIX, type DeadLetter } from "../events/delivery.ts";
import { isAccountEvent } from "../events/event.ts";
import type { EventSettings } from "../events/settings.ts";

/** One parked event, as listed (the event itself stays in the bucket until redelivered or dropped). */
export interface ParkedEvent {
  id: string;
  type: string;
  app: string;
  uid: string;
  /** When the change happened (ISO 8601). */
  timestamp: string;
  attempts: number;
  lastError: string;
  parkedAt: string;
}

/** A page of parked events, in the order of their ids, and the cursor to the next page (null at the end). */
export async function listDeadLetters(
  files: R2Bucket,
  limit: number,
  cursor: string | undefined,
): Promise<{ deadLetters: ParkedEvent[]; cursor: string | null }> {
  const listed = await files.list({
    prefix: DEAD_LETTER_PREFIX,
    limit,
    ...(cursor === undefined ? {} : { cursor }),
    include: ["customMetadata"],
  });
  const deadLetters = listed.objects.map(({ key, customMetadata = {} }) => ({
    id: key.slice(DEAD_LETTER_PREFIX.length),
    type: customMetadata.type ?? "",
    app: customMetadata.app ?? "",
    uid: customMetadata.uid ?? "",
    timestamp: customMetadata.timestamp ?? "",
    attempts: Number(customMetadata.attempts ?? 0),
    lastError: customMetadata.lastError ?? "",
    parkedAt: customMetadata.parkedAt ?? "",
  }));
  return { deadLetters, cursor: listed.truncated ? listed.cursor : null };
}

/**
 * Queues parked event `id` for delivery again and drops it from the bucket: `queued`, `missing` when
 * there is none, `unreadable` when what is stored under the id is not an event the Worker wrote.
 */
export async function redeliver(settings: EventSettings, id: string): Promise<"queued" | "missing" | "unreadable"> {
  const key = `${DEAD_LETTER_PREFIX}${id}`;
  const object = await settings.files.get(key);
  if (!object) return "missing";
  let letter: Partial<DeadLetter>;
  try {
    letter = await object.json();
  } catch {
    return "unreadable";
  }
  // Only the event this key names, in exactly the shape the Worker writes: what is sent on is signed.
  if (!isAccountEvent(letter.event) || letter.event.id !== id) return "unreadable";
  // Queued before it is dropped: a failure between the two leaves it parked, never lost.
  await settings.queue.send(letter.event, { contentType: "json" });
  await settings.files.delete(key);
  return "queued";
}

/** Drops parked event `id`; false when there is none. */
export async function discard(files: R2Bucket, id: string): Promise<boolean> {
  const key = `${DEAD_LETTER_PREFIX}${id}`;
  if (!(await files.head(key))) return false;
  await files.delete(key);
  return true;
}
