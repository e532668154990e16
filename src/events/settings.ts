/**
 * The events settings (env.ts, group Events): where deliveries go, how they are signed and retried,
 * and the bindings they travel through. Off, `undefined`, unless EVENTS_WEBHOOK_URL is set: then
 * every other piece is required, so a deployment never queues events it cannot deliver or park.
 */

import type { Problems } from "../core/problems.ts";
import { isFetchableUrl, present, wholeNumber } from "../core/setting-values.ts";
import type { Env } from "../env.ts";
import { webhookKeyBytes } from "./webhook.ts";

/** The bounds and defaults of the retry settings. */
export const DELIVERY = {
  defaultAttempts: 8,
  maxAttempts: 20,
  defaultRetryDelaySeconds: 10,
  /** Longest wait between two attempts; also the most EVENTS_RETRY_DELAY may be. */
  maxRetryDelaySeconds: 3600,
  /** One attempt gives up after this long: the receiver should answer, then work. */
  timeoutMs: 10_000,
} as const;

/** Validated events settings. The key is a secret: never log this object. */
export interface EventSettings {
  webhookUrl: string;
  /** EVENTS_WEBHOOK_SECRET's bytes. */
  webhookKey: Uint8Array<ArrayBuffer>;
  maxAttempts: number;
  retryDelaySeconds: number;
  queue: Queue;
  deadLetters: Queue;
  files: R2Bucket;
}

/** The events settings, or undefined when events are off; problems go to `problems`. */
export function parseEventSettings(env: Env, problems: Problems): EventSettings | undefined {
  const webhookUrl = present(env.EVENTS_WEBHOOK_URL);
  const secret = present(env.EVENTS_WEBHOOK_SECRET);
  if (webhookUrl === undefined) {
    if (secret !== undefined) problems.bad("EVENTS_WEBHOOK_URL", "set with EVENTS_WEBHOOK_SECRET (or unset both)");
    return undefined;
  }
  if (!isFetchableUrl(webhookUrl)) {
    problems.bad("EVENTS_WEBHOOK_URL", "an https URL without credentials, query or fragment (http only on loopback)");
  }
  const webhookKey = secret === undefined ? undefined : webhookKeyBytes(secret);
  if (secret === undefined) problems.missing("EVENTS_WEBHOOK_SECRET");
  else if (!webhookKey) problems.bad("EVENTS_WEBHOOK_SECRET", "whsec_ and 24 to 64 bytes in base64");
  const maxAttempts = wholeNumber(env.EVENTS_MAX_ATTEMPTS, DELIVERY.defaultAttempts);
  if (!(maxAttempts >= 1 && maxAttempts <= DELIVERY.maxAttempts)) {
    problems.bad("EVENTS_MAX_ATTEMPTS", `a whole number from 1 to ${DELIVERY.maxAttempts}`);
  }
  const retryDelaySeconds = wholeNumber(env.EVENTS_RETRY_DELAY, DELIVERY.defaultRetryDelaySeconds);
  if (!(retryDelaySeconds >= 1 && retryDelaySeconds <= DELIVERY.maxRetryDelaySeconds)) {
    problems.bad("EVENTS_RETRY_DELAY", `seconds, a whole number from 1 to ${DELIVERY.maxRetryDelaySeconds}`);
  }
  if (!env.EVENTS) problems.missing("EVENTS");
  if (!env.EVENTS_DEAD_LETTER) problems.missing("EVENTS_DEAD_LETTER");
  if (!env.ADMIN_FILES) problems.missing("ADMIN_FILES");
  if (!webhookKey || !env.EVENTS || !env.EVENTS_DEAD_LETTER || !env.ADMIN_FILES) return undefined;
  return {
    webhookUrl,
    webhookKey,
    maxAttempts,
    retryDelaySeconds,
    queue: env.EVENTS,
    deadLetters: env.EVENTS_DEAD_LETTER,
    files: env.ADMIN_FILES,
  };
}

/** Seconds before attempt `attempts + 1`: the first delay, doubled after each attempt, capped at an hour. */
export function retryDelay(settings: Pick<EventSettings, "retryDelaySeconds">, attempts: number): number {
  const doubled = settings.retryDelaySeconds * 2 ** Math.max(0, attempts - 1);
  return Math.min(doubled, DELIVERY.maxRetryDelaySeconds);
}
