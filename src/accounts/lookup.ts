/**
 * uid → account on the token path: KV and the isolate's cache, and the uid's object on first use.
 *
 * Reads never go through the account's Durable Object: the warm path does no I/O at all, and a cold
 * one reads KV. Only a uid with no record yet (first use: "accounts on demand") or without an RTC uid
 * asks its object, which registers the account at NetEase and writes the record (see
 * src/account-object/). A first use waits for its turn at the deployment's creation pacer before it
 * wakes the object, so a sign-up refused on a launch day costs no object at all. Within one isolate,
 * concurrent first requests for a uid share one call.
 *
 * Records already read are served from a bounded cache for at most KV's own consistency window. A
 * record served in the last sixth of that window is re-read in the background (refresh-ahead), so a
 * busy user never waits for KV, while no copy older than the window is ever served. A copy is never
 * replaced by one of a lower revision: a stale KV read cannot undo a change this isolate has seen.
 */

import type { AccountObjectClient } from "../account-object/client.ts";
import { TIMING } from "../constants.ts";
import type { Metrics } from "../metrics.ts";
import type { CreatePacing } from "../pacing/create-pacer.ts";
import { type AccountRecord, revisionOf } from "../records/record.ts";
import type { AccountStore } from "../records/store.ts";
import { ExpiringCache } from "./cache.ts";

/** Per-isolate account lookup with a record cache and single-flight first use. */
export class AccountLookup {
  readonly #cache = new ExpiringCache<AccountRecord>(TIMING.accountCacheTtlMs);
  readonly #inflight = new Map<string, Promise<AccountRecord>>();
  readonly #rtcInflight = new Map<string, Promise<number>>();

  constructor(
    readonly objects: AccountObjectClient,
    readonly store: AccountStore,
    /** Counts first-time creations (`account_created`). */
    readonly metrics?: Metrics,
    /** Paces first-time creations below NetEase's cap; undefined when NIM_CREATE_RATE is 0. */
    readonly pacing?: CreatePacing,
    readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * The account for `uid`, registering it with NetEase if this is the uid's first use. `background`
   * (the request's `waitUntil`) keeps a refresh-ahead read alive after the answer is sent.
   */
  account(uid: string, background?: (work: Promise<unknown>) => void): Promise<AccountRecord> {
    const now = this.now();
    const entry = this.#cache.entry(uid, now);
    if (entry) {
      if (background && now >= entry.refreshAt && !this.#inflight.has(uid)) {
        background(this.#refresh(uid));
      }
      return Promise.resolve(entry.value);
    }
    let pending = this.#inflight.get(uid);
    if (!pending) {
      pending = this.#load(uid).finally(() => this.#inflight.delete(uid));
      this.#inflight.set(uid, pending);
    }
    return pending;
  }

  /** Keeps a record the uid's object just committed (admin operations), so it is seen here at once. */
  remember(uid: string, record: AccountRecord): void {
    this.#keep(uid, record);
  }

  /** Re-reads `uid` from KV in the background; a failed read changes nothing (the copy expires on time). */
  #refresh(uid: string): Promise<void> {
    const refresh = this.store
      .get(uid)
      .then((record) => {
        if (record) this.#keep(uid, record);
        return record ?? this.#cache.get(uid, this.now())!;
      })
      .finally(() => this.#inflight.delete(uid));
    this.#inflight.set(uid, refresh);
    return refresh.then(
      () => {},
      () => {},
    );
  }

  /** Caches `record` unless the cache holds a newer revision (KV may answer with an older copy). */
  #keep(uid: string, record: AccountRecord): AccountRecord {
    const cached = this.#cache.get(uid, this.now());
    if (cached && revisionOf(cached) > revisionOf(record)) return cached;
    this.#cache.set(uid, record, this.now());
    return record;
  }

  async #load(uid: string): Promise<AccountRecord> {
    const stored = await this.store.get(uid);
    if (stored) return this.#keep(uid, stored);
    const started = this.now();
    await this.pacing?.acquire(uid);
    const { record, created } = await this.objects.provision(uid);
    if (created) this.metrics?.record("account_created", ["", ""], this.now() - started);
    return this.#keep(uid, record);
  }

  /**
   * The user's RTC uid: the one in `record`, or, for a record written before RTC tokens existed (or
   * imported), one the uid's object assigns now.
   */
  async rtcUid(uid: string, record: AccountRecord): Promise<number> {
    if (record.rtcUid !== undefined) return record.rtcUid;
    let pending = this.#rtcInflight.get(uid);
    if (!pending) {
      pending = this.objects
        .withRtcUid(uid)
        .then((updated) => {
          this.#keep(uid, updated);
          return updated.rtcUid!;
        })
        .finally(() => this.#rtcInflight.delete(uid));
      this.#rtcInflight.set(uid, pending);
    }
    return pending;
  }
}
