/**
 * The KV records behind the uid ↔ accid mapping.
 *
 *   uid:<uid>        → AccountRecord (JSON, versioned by `v`)
 *   accid:<accid>    → uid           (reverse mapping, for NetEase's login callback)
 *   rtcuid:<rtcUid>  → uid           (reverse mapping, so two users never share an RTC uid)
 *
 * A store belongs to one NetEase app: the default app's keys are the ones above (as they always
 * were); another app's carry its name in front (`<app>/uid:<uid>`), since uids, accids and RTC uids
 * are each app's own namespace.
 *
 * KV has no transactions and no compare-and-set, so a uid's record is written only by that uid's
 * account object (src/accounts/object/), which orders all changes to it. The order of writes still
 * matters for readers: an accid is registered at NetEase before any record names it, records are
 * rewritten whole (with the object's revision), and the reverse key is written before the forward key
 * so that every accid a record names can always be traced back. Reads are eventually consistent
 * (about 60 s across locations).
 */

import { DEFAULT_APP, LIMITS } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import { type AccountRecord, RECORD_VERSION } from "./record.ts";

/** Reads and writes one NetEase app's account records in a KV namespace. Cheap to construct. */
export class AccountStore {
  /** Key names: a uid's record, and the two reverse mappings. */
  readonly #recordKey: (uid: string) => string;
  readonly #accidOwnerKey: (accid: string) => string;
  readonly #rtcUidOwnerKey: (rtcUid: number) => string;

  constructor(
    readonly kv: KVNamespace,
    readonly app: string = DEFAULT_APP,
  ) {
    const prefix = app === DEFAULT_APP ? "" : `${app}/`;
    this.#recordKey = (uid) => `${prefix}uid:${uid}`;
    this.#accidOwnerKey = (accid) => `${prefix}accid:${accid}`;
    this.#rtcUidOwnerKey = (rtcUid) => `${prefix}rtcuid:${rtcUid}`;
  }

  /** The record for `uid`, or null when the uid has never been bound. */
  async get(uid: string): Promise<AccountRecord | null> {
    return parseRecord(await kvCall(() => this.kv.get(this.#recordKey(uid), "text")), uid);
  }

  /** The uid that `accid` belongs (or belonged) to, or null. */
  async uidForAccid(accid: string): Promise<string | null> {
    return kvCall(() => this.kv.get(this.#accidOwnerKey(accid), "text"));
  }

  /** The uid that owns `rtcUid`, or null. */
  async uidForRtcUid(rtcUid: number): Promise<string | null> {
    return kvCall(() => this.kv.get(this.#rtcUidOwnerKey(rtcUid), "text"));
  }

  /** Claims `rtcUid` for `uid` (the reverse mapping; write it before the record that names it). */
  async claimRtcUid(rtcUid: number, uid: string): Promise<void> {
    await kvCall(() => this.kv.put(this.#rtcUidOwnerKey(rtcUid), uid));
  }

  /** Records for many uids with bulk reads (100 keys per KV operation). Absent uids map to null. */
  async getMany(uids: readonly string[]): Promise<Map<string, AccountRecord | null>> {
    const texts = await bulkGet(this.kv, uids.map(this.#recordKey));
    return new Map(uids.map((uid) => [uid, parseRecord(texts.get(this.#recordKey(uid)) ?? null, uid)]));
  }

  /** Owners of many accids with bulk reads. Absent accids map to null. */
  async uidsForAccids(accids: readonly string[]): Promise<Map<string, string | null>> {
    const texts = await bulkGet(this.kv, accids.map(this.#accidOwnerKey));
    return new Map(accids.map((accid) => [accid, texts.get(this.#accidOwnerKey(accid)) ?? null]));
  }

  /** Writes the record for `uid` and its reverse mapping (reverse first; see the module docblock). */
  async put(uid: string, record: AccountRecord): Promise<void> {
    await kvCall(() => this.kv.put(this.#accidOwnerKey(record.accid), uid));
    await this.putRecord(uid, record);
  }

  /** Rewrites the record for `uid` when its accid is unchanged (status changes). */
  async putRecord(uid: string, record: AccountRecord): Promise<void> {
    await kvCall(() => this.kv.put(this.#recordKey(uid), JSON.stringify(record)));
  }
}

function parseRecord(text: string | null, uid: string): AccountRecord | null {
  if (text === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DomainError("record_corrupt", { detail: `account record for a uid of length ${uid.length} is not JSON` });
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
    (r.revision !== undefined && !(Number.isSafeInteger(r.revision) && r.revision >= 0)) ||
    (r.revokedBefore !== undefined && !(Number.isSafeInteger(r.revokedBefore) && r.revokedBefore > 0))
  ) {
    throw new DomainError("record_corrupt", { detail: "account record has an unknown shape or version" });
  }
  return r as AccountRecord;
}

async function bulkGet(kv: KVNamespace, keys: readonly string[]): Promise<Map<string, string | null>> {
  const unique = [...new Set(keys)];
  const out = new Map<string, string | null>();
  for (let i = 0; i < unique.length; i += LIMITS.kvBulkReadKeys) {
    const batch = unique.slice(i, i + LIMITS.kvBulkReadKeys);
    const values = await kvCall(() => kv.get(batch, "text"));
    for (const [key, value] of values) out.set(key, value);
  }
  return out;
}

async function kvCall<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    const cause = error instanceof Error ? error.message.slice(0, LIMITS.logDetailChars) : "error";
    throw new DomainError("storage_unavailable", { detail: `KV: ${cause}` });
  }
}
