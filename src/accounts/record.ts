/**
 * The account record's shape and constructor, in a module with no runtime dependencies so the
 * KV import script (run directly by Node) builds records exactly as the Worker does.
 */

/**
 * Who an account belongs to: a uid of one NetEase app, named as this deployment names its apps
 * (`DEFAULT_APP` for the first). The store, the cache, the client and the object all key by it.
 */
export interface AccountId {
  app: string;
  uid: string;
}

/** Account states. A blocked account gets no tokens and fails the login callback. */
export type AccountStatus = "active" | "blocked";

/** The current schema version of account records. */
export const RECORD_VERSION = 1;

/** One uid's IM account, as stored in KV under `uid:<uid>`. */
export interface AccountRecord {
  /** Schema version of this record. */
  v: typeof RECORD_VERSION;
  accid: string;
  status: AccountStatus;
  /** Unix ms when this uid was first bound. */
  createdAt: number;
  /** Unix ms of the last change. */
  updatedAt: number;
  /** How many times the accid was rotated; 0 for the first accid. Bound accounts keep 0. */
  generation: number;
  /**
   * The user's numeric NERTC uid (1 to 2^53 − 1), fixed for life, kept across accid rotations.
   * Optional in the same schema version: records written before RTC tokens existed (and imported
   * ones) gain it on first use of `/v1/rtc/token`.
   */
  rtcUid?: number;
  /**
   * How many times this uid's Durable Object has written the record (1 for its first write). Readers
   * never replace a copy with one of a lower revision, so a stale read cannot undo a newer change.
   * Absent (0) in records written before the object existed, and by the KV import script.
   */
  revision?: number;
  /**
   * Unix ms of the last revocation ("sign out everywhere"): app sessions issued before it (with the
   * clock tolerance counted against them) get no token, and the login callback refuses dynamic tokens
   * signed before it. Absent when the uid was never revoked.
   */
  revokedBefore?: number;
}

/** The record's revision; 0 for a record no Durable Object has written. */
export function revisionOf(record: AccountRecord): number {
  return record.revision ?? 0;
}

/** A fresh, active, generation-0 record for `accid`. */
export function newAccountRecord(accid: string, now: number): AccountRecord {
  return { v: RECORD_VERSION, accid, status: "active", createdAt: now, updatedAt: now, generation: 0 };
}
