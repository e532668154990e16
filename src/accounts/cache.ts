/**
 * A small bounded map whose entries expire, for the records an isolate has already read.
 */

import { CACHE_SIZES } from "../constants.ts";

/**
 * A small bounded map with per-entry expiry, for records an isolate has already read. Evicts the
 * oldest insertion when full (Map preserves insertion order), which is good enough for a cache
 * whose entries all live about the same short time. No entry outlives `ttlMs`.
 */
export class ExpiringCache<V> {
  readonly #entries = new Map<string, { value: V; refreshAt: number; expires: number }>();
  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number = CACHE_SIZES.accounts,
  ) {}

  get(key: string, now: number): V | undefined {
    return this.entry(key, now)?.value;
  }

  /** The live entry for `key` with the time (ms) it should be refreshed after, or undefined. */
  entry(key: string, now: number): { value: V; refreshAt: number; expires: number } | undefined {
    const entry = this.#entries.get(key);
    if (!entry) return undefined;
    if (entry.expires <= now) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  set(key: string, value: V, now: number): void {
    this.#entries.delete(key);
    if (this.#entries.size >= this.maxEntries) {
      const oldest = this.#entries.keys().next();
      if (!oldest.done) this.#entries.delete(oldest.value);
    }
    // Spread over a range, so entries loaded together (a burst, a deploy) do not all refresh, or
    // expire, in the same second: refresh from 5/6 to 7/8 of the TTL, expire from 11/12 to all of it
    // (50-52.5 s and 55-60 s for KV's minute). Late, so a busy user's record is re-read about once a
    // minute, as an isolate without refresh-ahead would (refreshing from half the TTL read KV 1.7
    // times as often); yet at least 5 s before expiry, so a user asking every few seconds never waits.
    const spread = Math.random();
    const refreshAt = now + (this.ttlMs * 5) / 6 + (spread * this.ttlMs) / 24;
    this.#entries.set(key, { value, refreshAt, expires: now + (this.ttlMs * 11) / 12 + (spread * this.ttlMs) / 12 });
  }
}
