/**
 * Pacing first-time account creations below NetEase's rate cap, across the whole deployment.
 *
 * NetEase allows about 100 creations a second per app; past that it answers 416 and refuses the
 * app for about 10 s, every call included (an operator's urgent block too). Every isolate learns of the
 * block only by hitting it, so on a launch day thousands of new users would trip it again and again.
 * One Durable Object (`CreatePacer`, one per app key) hands out creation turns at a steady
 * `NIM_CREATE_RATE` a second and holds each caller until its turn. A new user whose turn is more than
 * a few seconds away is answered at once (503 with a `Retry-After`), but keeps that turn: the pacer
 * books it, and the Retry-After brings the user back just before it. So a user is refused once, not
 * every second while the queue is long, and returns to its own place rather than the back.
 *
 * The Worker asks before it wakes the uid's object, so a refusal costs one call to this object and
 * nothing else. Known users never ask (KV has their record), and operator actions (block, unblock,
 * rotate, bind, import) never ask: they are few, and must not wait behind a launch.
 *
 * A booked turn is spent whether or not its caller comes back, so a caller could hold back real
 * sign-ups by booking turns it never claims: cheap identities (anonymous sign-ins) make a uid each
 * for nothing. So each client network (an IPv4 address, an IPv6 /64) holds at most
 * `LIMITS.createBookingsPerNetwork` booked turns at once; past that its callers are refused without a
 * booking, and queue again when they return. A uid released in
 * the last minute (KV's consistency window: another location may not see its record yet) goes past
 * the queue, though never past the per-second limit. The schedule lives in the object's memory: if
 * the object is evicted, it restarts empty, which at worst lets one second's worth of creations
 * through at once, and booked users join the queue again when they return.
 */

import { DurableObject } from "cloudflare:workers";
import { LIMITS, TIMING } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import { logLine } from "../core/log.ts";

/** A turn, or a refusal: `waitMs` until the turn; `retryAfterSeconds` until the caller should ask again. */
export type TurnReply = { waitMs: number } | { retryAfterSeconds: number };

/** How the schedule books and forgets; the defaults are LIMITS' and TIMING's. */
export interface ScheduleBounds {
  /** How far ahead turns are booked for refused callers. */
  horizonMs: number;
  /** How late a booked caller may come back and keep its turn. */
  graceMs: number;
  /** How long a released uid goes past the queue (KV's consistency window). */
  rememberMs: number;
  /** How many booked turns one client network may hold at once. */
  bookingsPerNetwork: number;
}

const DEFAULT_BOUNDS: ScheduleBounds = {
  horizonMs: LIMITS.createBookingHorizonMs,
  graceMs: LIMITS.createBookingGraceMs,
  rememberMs: TIMING.accountCacheTtlMs,
  bookingsPerNetwork: LIMITS.createBookingsPerNetwork,
};

/**
 * The pacer's schedule, pure (every method takes the time; known-answer tested). Turns are spaced
 * evenly at the rate; a caller beyond `maxWaitMs` is booked a turn within `horizonMs` and told to
 * come back a little before it. Releases are checked against the last second's, so however late the
 * pacer's timers fire, no 1000 ms window ever holds more than the rate.
 */
export class CreateSchedule {
  /** When the next unbooked turn is (ms). */
  #next = 0;
  /** uid → its booked turn and the network that booked it, in turn order (turns only grow). */
  readonly #booked = new Map<string, { turn: number; network: string }>();
  /** network → how many turns it holds booked. */
  readonly #held = new Map<string, number>();
  /** uid → when it was released, oldest first. */
  readonly #released = new Map<string, number>();
  /** When recent callers were released (ms, oldest first; at most a second's worth). */
  #window: number[] = [];

  constructor(readonly bounds: ScheduleBounds = DEFAULT_BOUNDS) {}

  /** Booked turns not yet claimed (bounded by the horizon times the rate). */
  get bookings(): number {
    return this.#booked.size;
  }

  /**
   * `uid`'s reply at `now`, at `ratePerSecond` creations a second, for a caller from `network`
   * (see `networkOf`) that accepts up to `maxWaitMs` of waiting on the spot. Without `book`, a
   * caller whose turn is further away is refused without a booking: it takes nobody's place.
   */
  ask(uid: string, now: number, ratePerSecond: number, maxWaitMs: number, network = "", book = true): TurnReply {
    const { horizonMs, bookingsPerNetwork } = this.bounds;
    this.#forget(now);
    if (this.#released.has(uid)) return { waitMs: 0 };
    const booked = this.#booked.get(uid);
    if (booked !== undefined) {
      const { turn } = booked;
      // Back too early (its client ignored the Retry-After): told again, its turn kept.
      if (turn - now > maxWaitMs) return { retryAfterSeconds: comeBackBefore(turn - now, maxWaitMs) };
      this.#unbook(uid, booked.network);
      return { waitMs: Math.max(0, turn - now) };
    }
    const turn = Math.max(now, this.#next);
    const waitMs = turn - now;
    if (waitMs > horizonMs) {
      // Not even bookable: come back when the queue reaches back within the horizon.
      return { retryAfterSeconds: Math.ceil((waitMs - horizonMs) / 1000) };
    }
    if (waitMs > maxWaitMs && (!book || (this.#held.get(network) ?? 0) >= bookingsPerNetwork)) {
      // The network holds its share of the queue: no turn taken, come back when this one would be.
      return { retryAfterSeconds: comeBackBefore(waitMs, maxWaitMs) };
    }
    this.#next = turn + 1000 / ratePerSecond;
    if (waitMs <= maxWaitMs) return { waitMs };
    this.#booked.set(uid, { turn, network });
    this.#held.set(network, (this.#held.get(network) ?? 0) + 1);
    return { retryAfterSeconds: comeBackBefore(waitMs, maxWaitMs) };
  }

  #unbook(uid: string, network: string): void {
    this.#booked.delete(uid);
    const held = (this.#held.get(network) ?? 1) - 1;
    if (held > 0) this.#held.set(network, held);
    else this.#held.delete(network);
  }

  /** How long from `now` until one more release keeps every 1000 ms at `ratePerSecond` or fewer. */
  windowWait(now: number, ratePerSecond: number): number {
    return windowWait(this.#window, now, ratePerSecond);
  }

  /** Records that `uid` was released to create its account at `now`. */
  release(uid: string, now: number): void {
    this.#window = [...this.#window.filter((at) => now - at < 1000), now];
    this.#released.delete(uid);
    this.#released.set(uid, now);
  }

  /** Drops turns whose callers are later than the grace (their turn is lost) and old releases. */
  #forget(now: number): void {
    for (const [uid, { turn, network }] of this.#booked) {
      if (turn >= now - this.bounds.graceMs) break;
      this.#unbook(uid, network);
    }
    for (const [uid, at] of this.#released) {
      if (at >= now - this.bounds.rememberMs) break;
      this.#released.delete(uid);
    }
  }
}

/**
 * Whole seconds until a caller whose turn is `waitMs` away should come back: at least one, and late
 * enough that the turn is then within `maxWaitMs`, yet not after it (so the pacer holds the caller
 * for the rest of the second rather than the caller missing its turn).
 */
function comeBackBefore(waitMs: number, maxWaitMs: number): number {
  return Math.max(1, Math.ceil((waitMs - maxWaitMs) / 1000), Math.floor(waitMs / 1000));
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
 * It hands out the turn and also holds the caller until it: a caller that slept on its own would
 * wake late whenever its isolate was busy, and late sleepers wake together, so NetEase would see
 * bursts well over the rate (measured: 212 creations in one second under an 80/s schedule).
 */
export class CreatePacer extends DurableObject {
  readonly #schedule = new CreateSchedule();

  /**
   * Resolves at `uid`'s turn with `{waitMs}` (how long it was held), or at once with a refusal
   * (its turn booked when within the horizon).
   */
  async reserve(uid: string, ratePerSecond: number, maxWaitMs: number, network = "", book = true): Promise<TurnReply> {
    const asked = Date.now();
    const reply = this.#schedule.ask(uid, asked, ratePerSecond, maxWaitMs, network, book);
    if (!("waitMs" in reply)) return reply;
    if (reply.waitMs > 0) await sleep(reply.waitMs);
    for (let wait = this.#schedule.windowWait(Date.now(), ratePerSecond); wait > 0; ) {
      await sleep(wait);
      wait = this.#schedule.windowWait(Date.now(), ratePerSecond);
    }
    const now = Date.now();
    this.#schedule.release(uid, now);
    return { waitMs: now - asked };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** What the pacing client needs of the binding: structural, like the account objects' namespace. */
export interface PacerNamespace {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): unknown;
}

/** Asks the deployment's pacer for a creation turn and waits for it. Create once per isolate. */
export class CreatePacing {
  readonly #namespace: PacerNamespace;
  readonly #name: string;

  constructor(
    namespace: PacerNamespace,
    /** The app key: NetEase's cap is per app, so is the pacer. */
    appKey: string,
    readonly ratePerSecond: number,
    /** The longest a sign-up waits for its turn on the spot before it is told to come back. */
    readonly maxWaitMs: number = LIMITS.maxCreateWaitMs,
  ) {
    this.#namespace = namespace;
    this.#name = `create-pacer:${appKey}`;
  }

  /**
   * Resolves when `uid`, asking from `network` (`networkOf` its client's IP), may have its account
   * created (the pacer holds it until its turn); throws `creation_queue_full` (503 with the
   * Retry-After that brings the user back for its booked turn) when the turn is too far away.
   * Without `book` (a chatroom's address call, which anyone may cause), a turn too far away is
   * refused without a booking, so such calls never hold back the sign-ups booked behind them. A
   * pacer that cannot be reached does not stop creations: NetEase's own 416 handling still applies,
   * and a sign-up is worth more than a perfect pace.
   */
  async acquire(uid: string, network = "", book = true): Promise<void> {
    let reply: TurnReply;
    try {
      // The stub is made per call: a stub belongs to the request (or object) that made it.
      // Typed from the class, as the account objects' client is, so the call cannot drift from it.
      const stub = this.#namespace.get(this.#namespace.idFromName(this.#name)) as DurableObjectStub<CreatePacer>;
      reply = await stub.reserve(uid, this.ratePerSecond, this.maxWaitMs, network, book);
    } catch (error) {
      logLine("warn", { event: "create_pacer_unreachable", detail: error instanceof Error ? error.name : "error" });
      return;
    }
    if ("retryAfterSeconds" in reply) {
      throw new DomainError("creation_queue_full", {
        detail: "creation turn booked beyond the longest wait",
        retryAfter: reply.retryAfterSeconds,
      });
    }
  }
}
