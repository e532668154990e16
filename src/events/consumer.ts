/**
 * The Worker's queue handler (src/index.ts imports this module on the first batch, so an isolate that
 * only issues tokens never compiles it): a batch of the events queue is delivered, a batch of the
 * dead-letter queue (its name ends in `-dead-letter`, as wrangler.jsonc declares it) is parked.
 */

import { logLine } from "../core/log.ts";
import { Problems } from "../core/problems.ts";
import type { Env } from "../env.ts";
import { DEAD_LETTER_QUEUE_SUFFIX, deliverEvents, parkDeadLetters } from "./delivery.ts";
import { DELIVERY, parseEventSettings } from "./settings.ts";

/** Handles one batch of either queue. */
export async function consumeEvents(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  if (batch.queue.endsWith(DEAD_LETTER_QUEUE_SUFFIX)) {
    // Parked even after events were switched off: they are the operator's to redeliver or drop.
    if (!env.ADMIN_FILES) {
      logLine("error", { event: "events_misconfigured", detail: "ADMIN_FILES" });
      batch.retryAll({ delaySeconds: DELIVERY.maxRetryDelaySeconds });
      return;
    }
    await parkDeadLetters(batch, env.ADMIN_FILES);
    return;
  }
  const problems = new Problems();
  const settings = parseEventSettings(env, problems);
  if (problems.list.length > 0) {
    // Kept, not dropped: once the settings are mended they are delivered (or, after the queue's own
    // retries, parked).
    logLine("error", { event: "events_misconfigured", detail: problems.list.map((p) => p.name).join(",") });
    batch.retryAll({ delaySeconds: DELIVERY.maxRetryDelaySeconds });
    return;
  }
  if (!settings) {
    // Switched off (EVENTS_WEBHOOK_URL unset) while events waited: the operator no longer wants them.
    logLine("warn", { event: "events_off", count: batch.messages.length });
    batch.ackAll();
    return;
  }
  await deliverEvents(batch, settings);
}
