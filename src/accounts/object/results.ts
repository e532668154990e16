/**
 * What crosses the RPC boundary between the Worker and an account object: plain values only, since
 * a thrown error does not keep its class across it.
 */

import type { DomainErrorKind } from "../../core/errors.ts";
import type { AccountRecord } from "../record.ts";

/** An operation's result as it crosses the RPC boundary. `internal` is a fault in the object itself. */
export type ObjectResult<T> =
  | { ok: true; value: T; replayed?: boolean }
  | {
      ok: false;
      kind: DomainErrorKind | "internal";
      detail?: string;
      reason?: string;
      retryAfter?: number;
      replayed?: boolean;
    };

/**
 * An operator action's outcome. `replayed` means a repeated X-Request-Id: `value` is what the first
 * request was answered, which may be older than the record now (never a copy to cache or act on).
 */
export interface Operated<T> {
  value: T;
  replayed: boolean;
}

/** What a revocation's kick did: asked and done, asked and failed (the revocation stands), or not asked. */
export type KickOutcome = "done" | "failed" | "not_requested";

/** A revocation's result: the committed record, and what its kick did. */
export interface Revocation {
  record: AccountRecord;
  kick: KickOutcome;
}

/** An account's state on either side of a change. */
export interface AccountSide {
  status: AccountRecord["status"];
  accid: string;
}

/** One entry of a uid's audit trail. */
export interface HistoryEntry {
  /** Increasing per uid; the cursor for older entries. */
  id: number;
  /** When (Unix ms). */
  at: number;
  /** Who: an Access email, "service-token:<name>", "admin token", "user" (the uid's own request) or "system". */
  operator: string;
  /** create, assign_rtc_uid, bind, import, block, unblock, rotate, revoke. */
  operation: string;
  /** What else was asked (the accid bound, whether to kick). */
  detail?: string;
  requestId?: string;
  /** done, bound, already_bound, kick:failed, replayed, or failed:<kind>. */
  outcome: string;
  /** A repeated X-Request-Id answered from the first result: nothing was done now. */
  replayed: boolean;
  before: AccountSide | null;
  after: AccountSide | null;
}

/** A page of history, newest first; `next` is the `before` cursor for older entries, or null. */
export interface HistoryPage {
  entries: HistoryEntry[];
  next: number | null;
}

/** Per-call options for operator actions. */
export interface OperationOptions {
  /**
   * The request's X-Request-Id. A repeated id for the same operation gets the first result back
   * without acting again (for 24 hours); the same id for a different operation is a conflict.
   */
  requestId?: string;
  /** Who asked, for the audit trail: an Access email, "admin token", or "user" (the uid itself). */
  operator?: string;
  /**
   * Queue no account-change event for it: a file import's rows (the file is the app's own list, and
   * a million rows would be a million webhooks; its results say what was bound). Audited as ever.
   */
  quiet?: boolean;
}
