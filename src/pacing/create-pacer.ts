/**
 * Pacing first-time account creations below NetEase's rate cap, across the whole deployment.
 *
 * NetEase allows about 100 creations a second per app; past that it answers 416 and refuses the app
 * for about 10 s, every call included (an operator's urgent block too). Every isolate learns of the
 * block only by hitting it, so on a launch day thousands of new users would trip it again and again.
 * One Durable Object (`CreatePacer`, one per app key) hands out creation slots at a steady
 * `NIM_CREATE_RATE` a second and holds each caller until its slot; when the slot would be more than
 * a few seconds away, the caller is refused at once with the time the queue needs to drain (503
 * with that `Retry-After`). Slots are spaced evenly, and a release never puts more than the rate
 * into any 1000 ms.
 *
 * Only first-time provisioning asks for a slot. Known users never reach it, and operator actions
 * (block, unblock, rotate, bind, import) bypass it: they are few, and they must not wait behind a
 * launch. The schedule lives in the object's memory: if the object is evicted, it restarts empty,
 * which at worst lets one second's worth of creations through at once.
 */

import { DurableObject } from "cloudflare:workers";
import { LIMITS } from "../constants.ts";
import { DomainError } from "../errors.ts";
import { logLine } from "../log.ts";

/** A slot, or a refusal: `waitMs` until the slot; `retryAfterSeconds` until the queue has room again. */
export type SlotAnswer = { waitMs: number } | { retryAfterSeconds: number };

/**
 * The even schedule: given when the next free slot is (`next`, ms), the time now, the rate and the
 * longest wait a caller accepts, the answer and the next free slot after it. Pure (known-answer
 * tested).
 */
export function reserveSlot(
  next: number,
  now: number,
  ratePerSecond: number,
  maxWaitMs: number,
): { answer: SlotAnswer; next: number } {
  const slot = Math.max(now, next);
  const waitMs = slot - now;
  if (waitMs > maxWaitMs) {
    // The queue drains to a servable length after (waitMs - maxWaitMs); at least one second, so a
    // refused caller does not come straight back into the same full queue.
    return { answer: { retryAfterSeconds: Math.max(1, Math.ceil((waitMs - maxWaitMs) / 1000)) }, next };
  }
  return { answer: { waitMs }, next: slot + 1000 / ratePerSecond };
}

/**
 * Of the releases in `recent` (ms, oldest first), how long from `now` until one more keeps every
 * 1000 ms window at `ratePerSecond` or fewer: 0 when there is room. Pure.
 */
export function windowWait(recent: readonly number[], now: number, ratePerSecond: number): number {
  const inWindow = recent.filter((at) => now - at < 1000);
  if (inWindow.length < ratePerSecond) return 0;
  // The window has room again when its oldest release that must leave has left.
  return inWindow[inWindow.length - ratePerSecond]! + 1000 - now;
}

/**
 * The Durable Object class bound as NIM_CREATE_PACER; one instance per app key.
 *
 * It hands out the slot and also holds the caller until it: a caller that slept on its own would
 * wake late whenever its isolate was busy, and late sleepers wake together, so NetEase would see
 * bursts well over the rate (measured: 212 creations in one second under an 80/s schedule). At the
 * moment of release it also checks the last second's releases, so however late its own timers fire,
 * no 1000 ms window ever holds more than the rate.
 */
export class CreatePacer extends DurableObject {
  #next = 0;
  /** When recent callers were released (ms, oldest first; at most a second's worth). */
  #released: number[] = [];

  /**
   * Resolves at this caller's slot with `{waitMs}` (how long it was held), or at once with a
   * refusal when the slot is more than `maxWaitMs` away.
   */
  async reserve(ratePerSecond: number, maxWaitMs: number): Promise<SlotAnswer> {
    const asked = Date.now();
    const { answer, next } = reserveSlot(this.#next, asked, ratePerSecond, maxWaitMs);
    this.#next = next;
    if (!("waitMs" in answer)) return answer;
    if (answer.waitMs > 0) await sleep(answer.waitMs);
    for (let wait = windowWait(this.#released, Date.now(), ratePerSecond); wait > 0; ) {
      await sleep(wait);
      wait = windowWait(this.#released, Date.now(), ratePerSecond);
    }
    const now = Date.now();
    this.#released = [...this.#released.filter((at) => now - at < 1000), now];
    return { waitMs: now - asked };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the pacing client needs of the binding: structural, like the account objects' namespace. */
export interface PacerNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): unknown;
}

type PacerStub = { reserve(ratePerSecond: number, maxWaitMs: number): Promise<SlotAnswer> };

/**
 * Asks the deployment's pacer for a creation slot and waits for it. Create once per isolate; the
 * stub is made per call, because a stub belongs to the object that made it and account objects
 * sharing an isolate cannot use each other's.
 */
export class CreatePacing {
  readonly #namespace: PacerNamespace;
  readonly #name: string;

  constructor(
    namespace: PacerNamespace,
    /** The app key: NetEase's cap is per app, so is the pacer. */
    appKey: string,
    readonly ratePerSecond: number,
    readonly maxWaitMs: number = LIMITS.maxCreateWaitMs,
  ) {
    this.#namespace = namespace;
    this.#name = `create-pacer:${appKey}`;
  }

  /**
   * Resolves when this caller may create an account (the pacer holds it until its slot); throws
   * `creation_queue_full` (503 with the queue's Retry-After) when its slot is too far away. A pacer that cannot be reached does not
   * stop creations: NetEase's own 416 handling still applies, and a sign-up is worth more than a
   * perfect pace.
   */
  async acquire(): Promise<void> {
    let answer: SlotAnswer;
    try {
      const stub = this.#namespace.get(this.#namespace.idFromName(this.#name)) as PacerStub;
      answer = await stub.reserve(this.ratePerSecond, this.maxWaitMs);
    } catch (error) {
      logLine("warn", { event: "create_pacer_unreachable", detail: error instanceof Error ? error.name : "error" });
      return;
    }
    if ("retryAfterSeconds" in answer) {
      throw new DomainError("creation_queue_full", {
        detail: `creation queue over ${this.maxWaitMs} ms`,
        retryAfter: answer.retryAfterSeconds,
      });
    }
  }
}
