/**
 * uid → account on the token path: KV and the isolate's cache, and the uid's object on first use.
 *
 * Reads never go through the account's Durable Object: the warm path does no I/O at all, and a cold
 * one reads KV. Only a uid with no record yet (first use: "accounts on demand") or without an RTC uid
 * asks its object, which registers the account at NetEase and writes the record (see
 * src/accounts/object/). A first use waits for its turn at the deployment's creation pacer before it
 * wakes the object, so a sign-up refused on a launch day costs no object at all. Within one isolate,
 * concurrent first requests for a uid share one call.
 *
 * Records already read are served from a bounded cache for at most KV's own consistency window. A
 * record served in the last sixth of that window is re-read in the background (refresh-ahead), so a
 * busy user never waits for KV, while no copy older than the window is ever served. A copy is never
 * replaced by one of a lower revision: a stale KV read cannot undo a change this isolate has seen.
 */

import type { Metrics } from "../core/metrics.ts";
import type { AccountCache } from "./cache.ts";
import type { CreatePacing } from "./create-pacer.ts";
import type { AccountObjectClient } from "./object/client.ts";
import type { AccountRecord } from "./record.ts";
import type { AccountStore } from "./store.ts";

/** Per-isolate account lookup with a record cache and single-flight first use. */
export class AccountLookup {
  readonly #inflight = new Map<string, Promise<AccountRecord>>();
  readonly #rtcInflight = new Map<string, Promise<number>>();

  constructor(
    /** The account objects' client, which keeps what they commit in `cache`. */
    readonly objects: AccountObjectClient,
    readonly store: AccountStore,
    /** The isolate's record copies, shared with `objects`. */
    readonly cache: AccountCache,
    /** Counts first-time creations (`account_created`). */
    readonly metrics?: Metrics,
    /** Paces first-time creations below NetEase's cap; undefined when NIM_CREATE_RATE is 0. */
    readonly pacing?: CreatePacing,
  ) {}

  /**
   * The account for `uid`, registering it with NetEase if this is the uid's first use (its creation
   * turn asked for from the client's `network`, read only then: see `CreatePacing.acquire`).
   * `background` (the request's `waitUntil`) keeps a refresh-ahead read alive after the answer is sent.
   */
  account(uid: string, background?: (work: Promise<unknown>) => void, network?: () => string): Promise<AccountRecord> {
    const entry = this.cache.entry(uid);
    if (entry) {
      if (background && this.cache.now() >= entry.refreshAt && !this.#inflight.has(uid)) {
        background(this.#refresh(uid));
      }
      return Promise.resolve(entry.value);
    }
    let pending = this.#inflight.get(uid);
    if (!pending) {
      pending = this.#load(uid, network).finally(() => this.#inflight.delete(uid));
      this.#inflight.set(uid, pending);
    }
    return pending;
  }

  /** Re-reads `uid` from KV in the background; a failed read changes nothing (the copy expires on time). */
  #refresh(uid: string): Promise<void> {
    const refresh = this.store
      .get(uid)
      .then((record) => {
        if (record) this.cache.keep(uid, record);
        return record ?? this.cache.entry(uid)!.value;
      })
      .finally(() => this.#inflight.delete(uid));
    this.#inflight.set(uid, refresh);
    return refresh.then(
      () => {},
      () => {},
    );
  }

  async #load(uid: string, network: (() => string) | undefined): Promise<AccountRecord> {
    const stored = await this.store.get(uid);
    // KV may answer with an older copy than one this isolate saw committed: the cache keeps the newer.
    if (stored) return this.cache.keep(uid, stored);
    const started = Date.now();
    await this.pacing?.acquire(uid, network?.());
    // The client keeps the committed record in the cache.
    const { record, created } = await this.objects.provision(uid);
    if (created) this.metrics?.record("account_created", ["", ""], Date.now() - started);
    return record;
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
        .then((updated) => updated.rtcUid!)
        .finally(() => this.#rtcInflight.delete(uid));
      this.#rtcInflight.set(uid, pending);
    }
    return pending;
  }
}
