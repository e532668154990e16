/**
 * The records an isolate has already read or seen committed: a small bounded map whose entries
 * expire, and the account cache built on it.
 */

import { CACHE_SIZES, TIMING } from "../core/constants.ts";
import { type AccountRecord, revisionOf } from "./record.ts";

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

/**
 * The isolate's copies of account records, shared by the token path's lookup (what it reads from KV)
 * and the account objects' client (what an object just committed). A copy is never replaced by one
 * of a lower revision, so a stale KV read cannot undo a change this isolate has seen.
 *
 * What may enter is decided in two places only: `AccountLookup` keeps what it read from KV, and
 * `AccountObjectClient` keeps what an object committed, never a replayed answer (a repeated
 * X-Request-Id: the first answer's record, which may be older than the committed one, and whose
 * entry would otherwise be renewed for another minute by every replay).
 */
export class AccountCache {
  readonly #entries: ExpiringCache<AccountRecord>;

  constructor(
    readonly now: () => number = () => Date.now(),
    ttlMs: number = TIMING.accountCacheTtlMs,
  ) {
    this.#entries = new ExpiringCache<AccountRecord>(ttlMs);
  }

  /** The live copy of `uid`'s record with its refresh and expiry times, or undefined. */
  entry(uid: string): { value: AccountRecord; refreshAt: number; expires: number } | undefined {
    return this.#entries.entry(uid, this.now());
  }

  /** Keeps `record` unless the cache holds a newer revision; returns the copy now held. */
  keep(uid: string, record: AccountRecord): AccountRecord {
    const now = this.now();
    const cached = this.#entries.get(uid, now);
    if (cached && revisionOf(cached) > revisionOf(record)) return cached;
    this.#entries.set(uid, record, now);
    return record;
  }
}
