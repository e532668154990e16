/**
 * One cached token (the IM token, or one NERTC channel's) with single-flight fetching and a
 * background refresh a little (jittered) before `refreshAfter`, judged in the Worker's clock. A
 * token that expires within `refreshMargin` is never handed out.
 */

import type { Timed } from "./answers.js";
import { TokenProviderError } from "./errors.js";
import type { Lifecycle, WorkerClock } from "./session.js";
import type { FetchToken } from "./transport.js";

/** The background refresh starts up to this share of the token's lifetime before the refresh point. */
const REFRESH_JITTER_FRACTION = 0.1;
const MAX_REFRESH_JITTER_MS = 30_000;
/** After a failed background refresh, try again this much later (while the held token lasts). */
const BACKGROUND_RETRY_MS = 15_000;

/** What a slot needs. */
export interface SlotOptions<T> {
  url: string;
  body: () => unknown;
  accept: (value: unknown) => value is T;
  /** The times that govern refreshing an answer (default: its own); an RTC answer with a key has two. */
  times?: (value: T) => Timed;
  fetchToken: FetchToken;
  clock: WorkerClock;
  lifecycle: Lifecycle;
  refreshMargin: number;
  backgroundRefresh: boolean;
  random: () => number;
  /** Whether the app is in the foreground (background refresh pauses otherwise). */
  isActive: () => boolean;
}

/** A cached token. */
export interface Slot<T> {
  /** A fresh token from memory, or the shared fetch. */
  get(): Promise<T>;
  /** A token fetched now (or the fetch already under way), whatever is held. */
  refresh(): Promise<T>;
  /** The held token if usable; past its refresh point it also starts a background refresh. */
  peek(): T | undefined;
  /** Resumes background refresh after a pause. */
  resume(): void;
  pause(): void;
  /** Forgets everything; an abandoned flight is rejected by its own epoch check. */
  reset(): void;
}

/** Creates a slot. */
export function createSlot<T extends Timed>(options: SlotOptions<T>): Slot<T> {
  const { url, body, accept, fetchToken, clock, lifecycle, refreshMargin, random } = options;
  const times = options.times ?? ((t: T): Timed => t);
  let cached: T | undefined;
  let inflight: Promise<T> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const refreshAt = (t: T) => Math.min(times(t).refreshAfter, times(t).expiresAt - refreshMargin);
  const fresh = (t: T) => clock.now() < refreshAt(t);
  const usable = (t: T) => clock.now() < times(t).expiresAt - refreshMargin;

  function stopTimer(): void {
    if (timer !== undefined) clearTimeout(timer);
    timer = undefined;
  }

  /** Schedules the background refresh `inMs` from now (device clock). */
  function schedule(inMs: number): void {
    stopTimer();
    if (!options.backgroundRefresh || !options.isActive() || lifecycle.stopped) return;
    timer = setTimeout(background, Math.max(0, inMs));
    // In Node, a pending refresh must not keep a finished script alive.
    (timer as { unref?: () => void }).unref?.();
  }

  function scheduleFor(t: T): void {
    const lifetime = times(t).expiresAt - t.curTime;
    const jitter = random() * Math.min(MAX_REFRESH_JITTER_MS, lifetime * REFRESH_JITTER_FRACTION);
    schedule(refreshAt(t) - jitter - clock.now());
  }

  function background(): void {
    timer = undefined;
    if (!options.isActive() || lifecycle.stopped) return;
    fetchShared().catch((error: unknown) => {
      if (!(error instanceof TokenProviderError) || error.final || error.code === "aborted" || error.code === "cleared")
        return;
      // Transient: try again while the token we hold still lasts (foreground calls fetch anyway).
      if (cached && usable(cached)) schedule(BACKGROUND_RETRY_MS);
    });
  }

  function fetchShared(): Promise<T> {
    if (inflight) return inflight;
    const owner = lifecycle.epoch;
    const flight = fetchToken(owner, url, body, accept).then((token) => {
      lifecycle.assertCurrent(owner);
      cached = token;
      scheduleFor(token);
      return token;
    });
    inflight = flight;
    // Only the current epoch's flight is cleared here; clear() already dropped an older one.
    const settle = () => {
      if (inflight === flight) inflight = undefined;
    };
    flight.then(settle, settle);
    return flight;
  }

  return {
    async get(): Promise<T> {
      lifecycle.assertLive();
      if (cached && fresh(cached)) return cached;
      return fetchShared();
    },
    refresh(): Promise<T> {
      lifecycle.assertLive();
      return fetchShared();
    },
    peek(): T | undefined {
      if (lifecycle.stopped || !cached || !usable(cached)) return undefined;
      if (!fresh(cached) && !inflight) background();
      return cached;
    },
    resume(): void {
      if (!cached) return;
      if (fresh(cached)) scheduleFor(cached);
      else background();
    },
    pause: stopTimer,
    reset(): void {
      stopTimer();
      cached = undefined;
      inflight = undefined;
    },
  };
}
