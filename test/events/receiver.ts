/** The events suites' view of the local webhook receiver (scripts/webhook-receiver.ts), from inside workerd. */

import { env } from "cloudflare:test";
import type { AccountEvent } from "../../src/events/event.ts";

/** A delivery as the receiver keeps it. */
export interface Delivery {
  id: string;
  timestamp: string;
  verified: boolean;
  event: AccountEvent;
  answered: number;
  at: number;
}

const base = () => env.WEBHOOK_URL.replace(/\/events$/, "");

/** Every delivery of `uid`'s events so far, oldest first. */
export async function deliveriesOf(uid: string): Promise<Delivery[]> {
  const all = (await (await fetch(`${base()}/deliveries`)).json()) as Delivery[];
  return all.filter((delivery) => delivery.event?.data?.uid === uid);
}

/** Waits until `uid`'s deliveries satisfy `done` (at most `seconds`), and returns them. */
export async function waitForDeliveries(
  uid: string,
  done: (deliveries: Delivery[]) => boolean,
  seconds = 15,
): Promise<Delivery[]> {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const deliveries = await deliveriesOf(uid);
    if (done(deliveries)) return deliveries;
    if (Date.now() > deadline) throw new Error(`deliveries of ${uid}: ${JSON.stringify(deliveries, null, 1)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** How the receiver answers `uid`'s events from now on. */
export async function answerFor(uid: string, mode: "ok" | "fail" | "hang"): Promise<void> {
  const answer = await fetch(`${base()}/mode/${mode}?uid=${encodeURIComponent(uid)}`, { method: "POST" });
  if (answer.status !== 204) throw new Error(`receiver mode: ${answer.status}`);
}

/** Waits `ms`. */
export const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
