/**
 * The KV records behind the uid ↔ accid mapping.
 *
 *   uid:<uid>        → AccountRecord (JSON, versioned by `v`)
 *   accid:<accid>    → uid           (reverse mapping, for NetEase's login callback)
 *   rtcuid:<rtcUid>  → uid           (reverse mapping, so two users never share an RTC uid)
 *
 * KV has no transactions and no compare-and-set, so a uid's record is written only by that uid's
 * account object (src/account-object.ts), which orders all changes to it. The order of writes still
 * matters for readers: an accid is registered at NetEase before any record names it, records are
 * rewritten whole (with the object's revision), and the reverse key is written before the forward key
 * so that every accid a record names can always be traced back. Reads are eventually consistent
 * (about 60 s across locations).
 */

import { CACHE_SIZES } from "../constants.ts";
import { DomainError } from "../errors.ts";
import { type AccountRecord, RECORD_VERSION } from "./record.ts";

export type { AccountRecord, AccountStatus } from "./record.ts";

const uidKey = (uid: string) => `uid:${uid}`;
const accidKey = (accid: string) => `accid:${accid}`;
const rtcUidKey = (rtcUid: number) => `rtcuid:${rtcUid}`;

/** Reads and writes account records in one KV namespace. Cheap to construct per request. */
export class AccountStore {
  constructor(readonly kv: KVNamespace) {}

  /** The record for `uid`, or null when the uid has never been bound. */
  async get(uid: string): Promise<AccountRecord | null> {
    return parseRecord(await kvCall(() => this.kv.get(uidKey(uid), "text")), uid);
  }

  /** The uid that `accid` belongs (or belonged) to, or null. */
  async uidForAccid(accid: string): Promise<string | null> {
    return kvCall(() => this.kv.get(accidKey(accid), "text"));
  }

  /** The uid that owns `rtcUid`, or null. */
  async uidForRtcUid(rtcUid: number): Promise<string | null> {
    return kvCall(() => this.kv.get(rtcUidKey(rtcUid), "text"));
  }

  /** Claims `rtcUid` for `uid` (the reverse mapping; write it before the record that names it). */
  async claimRtcUid(rtcUid: number, uid: string): Promise<void> {
    await kvCall(() => this.kv.put(rtcUidKey(rtcUid), uid));
  }

  /** Records for many uids with bulk reads (100 keys per KV operation). Absent uids map to null. */
  async getMany(uids: readonly string[]): Promise<Map<string, AccountRecord | null>> {
    const texts = await bulkGet(this.kv, uids.map(uidKey));
    return new Map(uids.map((uid) => [uid, parseRecord(texts.get(uidKey(uid)) ?? null, uid)]));
  }

  /** Owners of many accids with bulk reads. Absent accids map to null. */
  async uidsForAccids(accids: readonly string[]): Promise<Map<string, string | null>> {
    const texts = await bulkGet(this.kv, accids.map(accidKey));
    return new Map(accids.map((accid) => [accid, texts.get(accidKey(accid)) ?? null]));
  }

  /** Writes the record for `uid` and its reverse mapping (reverse first; see the module docblock). */
  async put(uid: string, record: AccountRecord): Promise<void> {
    await kvCall(() => this.kv.put(accidKey(record.accid), uid));
    await this.putRecord(uid, record);
  }

  /** Rewrites the record for `uid` when its accid is unchanged (status changes). */
  async putRecord(uid: string, record: AccountRecord): Promise<void> {
    await kvCall(() => this.kv.put(uidKey(uid), JSON.stringify(record)));
  }
}

function parseRecord(text: string | null, uid: string): AccountRecord | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DomainError("record_corrupt", `account record for a uid of length ${uid.length} is not JSON`);
  }
  const r = value as Partial<AccountRecord>;
  if (
    r?.v !== RECORD_VERSION ||
    typeof r.accid !== "string" ||
    (r.status !== "active" && r.status !== "blocked") ||
    !Number.isSafeInteger(r.createdAt) ||
    !Number.isSafeInteger(r.updatedAt) ||
    !Number.isSafeInteger(r.generation) ||
    (r.rtcUid !== undefined && !(Number.isSafeInteger(r.rtcUid) && r.rtcUid > 0)) ||
    (r.revision !== undefined && !(Number.isSafeInteger(r.revision) && r.revision >= 0))
  ) {
    throw new DomainError("record_corrupt", "account record has an unknown shape or version");
  }
  return r as AccountRecord;
}

const BULK_READ_KEYS = 100;

async function bulkGet(kv: KVNamespace, keys: readonly string[]): Promise<Map<string, string | null>> {
  const unique = [...new Set(keys)];
  const out = new Map<string, string | null>();
  for (let i = 0; i < unique.length; i += BULK_READ_KEYS) {
    const batch = unique.slice(i, i + BULK_READ_KEYS);
    const values = await kvCall(() => kv.get(batch, "text"));
    for (const [key, value] of values) out.set(key, value);
  }
  return out;
}

async function kvCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw new DomainError(
      "storage_unavailable",
      `KV: ${error instanceof Error ? error.message.slice(0, 120) : "error"}`,
    );
  }
}

/**
 * A small bounded map with per-entry expiry, for records an isolate has already read. Evicts the
 * oldest insertion when full (Map preserves insertion order), which is good enough for a cache
 * whose entries all live about the same short time. No entry outlives `ttlMs`.
 */
export class RecordCache<V> {
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
    // expire, in the same second: refresh from 1/2 to 2/3 of the TTL, expire from 3/4 to all of it.
    const spread = Math.random();
    const refreshAt = now + this.ttlMs / 2 + (spread * this.ttlMs) / 6;
    this.#entries.set(key, { value, refreshAt, expires: now + (this.ttlMs * 3) / 4 + (spread * this.ttlMs) / 4 });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }
}
