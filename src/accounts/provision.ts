/**
 * uid → account, creating the NetEase account on first use ("accounts on demand").
 *
 * Order matters because KV cannot do compare-and-set: the derived accid is registered at NetEase
 * first, and only on success is the record written. A failed registration writes nothing, so the next
 * request simply tries again. NetEase's `already register` counts as success, which makes the whole
 * step idempotent: racing first requests in different isolates derive the same accid and agree.
 *
 * Within one isolate, concurrent first requests for a uid share one promise (one upstream call), and
 * records already read are served from a bounded cache for at most KV's own consistency window, so the
 * warm path does no I/O at all. A record served in the second half of that window is also re-read in
 * the background (refresh-ahead), so a busy user never waits for KV, while no copy older than the
 * window is ever served: the staleness bound is the same as without it.
 */

import { TIMING } from "../constants.ts";
import type { NimServerApi } from "../nim/server-api.ts";
import { deriveAccid } from "./accid.ts";
import { newAccountRecord } from "./record.ts";
import { deriveRtcUid } from "./rtc-uid.ts";

/** Candidates tried per uid before giving up (each is taken with probability about n / 2^53). */
const MAX_RTC_UID_ATTEMPTS = 8;
/** Derived accids tried on first use before giving up (one is taken only by a deliberate bind). */
const MAX_ACCID_GENERATIONS = 8;

import { type AccountRecord, type AccountStore, RecordCache } from "./store.ts";

/** Per-isolate account provisioning with a record cache and single-flight first use. */
export class AccountProvisioner {
  readonly #cache = new RecordCache<AccountRecord>(TIMING.accountCacheTtlMs);
  readonly #inflight = new Map<string, Promise<AccountRecord>>();
  readonly #rtcInflight = new Map<string, Promise<number>>();

  constructor(
    readonly accidKey: Promise<CryptoKey>,
    readonly nim: NimServerApi,
    readonly store: AccountStore,
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
        background(this.#refresh(uid, entry.value));
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

  /** Records a change made by this isolate (admin operations), so it is seen here at once. */
  remember(uid: string, record: AccountRecord): void {
    this.#cache.set(uid, record, this.now());
  }

  /** Re-reads `uid` from KV, unless the isolate's copy changed meanwhile (an admin change here wins). */
  #refresh(uid: string, seen: AccountRecord): Promise<void> {
    const refresh = this.store
      .get(uid)
      .then((record) => {
        if (record && this.#cache.entry(uid, this.now())?.value === seen) this.#cache.set(uid, record, this.now());
        return record ?? seen;
      })
      .finally(() => this.#inflight.delete(uid));
    this.#inflight.set(uid, refresh);
    return refresh.then(
      () => {},
      () => {}, // a failed refresh changes nothing: the copy expires on time and the next request reads KV
    );
  }

  async #load(uid: string): Promise<AccountRecord> {
    const record = (await this.store.get(uid)) ?? (await this.#register(uid));
    this.#cache.set(uid, record, this.now());
    return record;
  }

  async #register(uid: string): Promise<AccountRecord> {
    // An operator may have bound another uid to a stock accid that happens to equal this uid's
    // derived one; two users must never share an IM account, so take the next generation.
    const key = await this.accidKey;
    let generation = 0;
    let accid = await deriveAccid(key, uid, generation);
    for (let owner = await this.store.uidForAccid(accid); owner !== null && owner !== uid; ) {
      if (++generation >= MAX_ACCID_GENERATIONS) throw new Error("no free derived accid");
      accid = await deriveAccid(key, uid, generation);
      owner = await this.store.uidForAccid(accid);
    }
    accid = (await this.nim.createAccount(accid)).accid;
    const record: AccountRecord = {
      ...newAccountRecord(accid, this.now()),
      generation,
      rtcUid: await this.#claimRtcUid(uid),
    };
    await this.store.put(uid, record);
    return record;
  }

  /**
   * The user's RTC uid: the one in `record`, or, for a record written before RTC tokens existed (or
   * imported), one claimed now and stored. The record is re-read from KV before it is rewritten, so
   * a change made elsewhere (a block) is not overwritten by this isolate's cached copy.
   */
  async rtcUid(uid: string, record: AccountRecord): Promise<number> {
    if (record.rtcUid !== undefined) return record.rtcUid;
    let pending = this.#rtcInflight.get(uid);
    if (!pending) {
      pending = this.#addRtcUid(uid, record).finally(() => this.#rtcInflight.delete(uid));
      this.#rtcInflight.set(uid, pending);
    }
    return pending;
  }

  async #addRtcUid(uid: string, cached: AccountRecord): Promise<number> {
    const latest = (await this.store.get(uid)) ?? cached;
    if (latest.rtcUid !== undefined) {
      this.#cache.set(uid, latest, this.now());
      return latest.rtcUid;
    }
    const rtcUid = await this.#claimRtcUid(uid);
    const updated: AccountRecord = { ...latest, rtcUid, updatedAt: this.now() };
    await this.store.putRecord(uid, updated);
    this.#cache.set(uid, updated, this.now());
    return rtcUid;
  }

  /** Finds the first RTC uid candidate no other uid owns, and claims it (reverse mapping first). */
  async #claimRtcUid(uid: string): Promise<number> {
    const key = await this.accidKey;
    for (let attempt = 0; attempt < MAX_RTC_UID_ATTEMPTS; attempt++) {
      const candidate = await deriveRtcUid(key, uid, attempt);
      const owner = await this.store.uidForRtcUid(candidate);
      if (owner === uid) return candidate; // claimed by an earlier, interrupted attempt
      if (owner === null) {
        await this.store.claimRtcUid(candidate, uid);
        return candidate;
      }
    }
    throw new Error("no free RTC uid candidate"); // 2^53 space: unreachable short of a broken store
  }
}
