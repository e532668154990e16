/**
 * The provider's sense of time and of sign-in, shared by its parts.
 *
 * - `WorkerClock`: the Worker's clock as the device sees it. Each answer's `serverTime` gives the
 *   offset, so a phone whose clock is minutes off still judges expiry right.
 * - `Lifecycle`: one sign-in's lifetime (an epoch). Everything fetched under an epoch is dropped when
 *   it ends (`clear()`), and its controller aborts the requests and waits that belong to it.
 * - `defaultSleep`: the wait between retries, cut short when its epoch ends.
 */

import { TokenProviderError } from "./errors.js";

/** The Worker's clock, learned from its answers. */
export class WorkerClock {
  /** Worker clock minus device clock, from the last answer. */
  #offset = 0;

  /** The device's clock (ms). */
  readonly deviceNow: () => number;

  constructor(deviceNow: () => number) {
    this.deviceNow = deviceNow;
  }

  /** Now, in the Worker's clock (ms). */
  now(): number {
    return this.deviceNow() + this.#offset;
  }

  /** Learns the offset from an answer produced between `sentAt` and `receivedAt` (device ms). */
  learn(serverTime: number, sentAt: number, receivedAt: number): void {
    // The answer was produced somewhere between sending and receiving; the midpoint halves the error.
    this.#offset = serverTime - Math.round((sentAt + receivedAt) / 2);
  }
}

/** One sign-in's lifetime. Its controller aborts the requests and waits that belong to it. */
export interface Epoch {
  readonly controller: AbortController;
}

/** The current epoch, and whether the provider was stopped for good. */
export class Lifecycle {
  #epoch: Epoch = { controller: new AbortController() };
  #disposed = false;

  readonly signal: AbortSignal | undefined;

  constructor(signal: AbortSignal | undefined) {
    this.signal = signal;
  }

  get epoch(): Epoch {
    return this.#epoch;
  }

  /** Stopped for good (dispose(), or the caller's signal aborted). */
  get stopped(): boolean {
    return this.#disposed || this.signal?.aborted === true;
  }

  /** Throws `aborted` once stopped. */
  assertLive(): void {
    if (this.stopped) throw aborted();
  }

  /** Throws when `owner` is no longer the current epoch: its answer belongs to a signed-out session. */
  assertCurrent(owner: Epoch): void {
    this.assertLive();
    if (owner !== this.#epoch) throw cleared();
  }

  /** Ends the epoch (sign-out): aborts what belongs to it and starts a new one. */
  end(): void {
    this.#epoch.controller.abort();
    this.#epoch = { controller: new AbortController() };
  }

  /** Stops for good. Returns false if it already was. */
  dispose(): boolean {
    if (this.#disposed) return false;
    this.#disposed = true;
    this.end();
    return true;
  }
}

const aborted = () => new TokenProviderError("aborted", "The token provider was stopped.");
const cleared = () =>
  new TokenProviderError("cleared", "The session was cleared (sign-out) while this token was being fetched.");

/** Waits `ms`, or until `signal` aborts (the caller then checks its epoch). */
export function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
