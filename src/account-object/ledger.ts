/**
 * The SQLite storage of one account object: the uid's committed record, and the results of operator
 * actions by X-Request-Id. Synchronous, as the SQL API of a Durable Object is: each method is one
 * statement (or two), and the object's output gate holds its answer until they are durable.
 */

import { TIMING } from "../constants.ts";
import type { AccountRecord } from "../records/record.ts";
import type { ObjectAnswer } from "./answers.ts";
import type { PendingAccid } from "./changes.ts";

/** What the object has committed for its uid. */
export interface LedgerEntry {
  uid: string;
  record: AccountRecord;
  /** The committed record may not be in KV yet (a KV write failed; the alarm writes it again). */
  kvPending: boolean;
  /** A registration at NetEase that no record names yet, to be undone. */
  pending: PendingAccid | null;
}

interface AccountRow extends Record<string, SqlStorageValue> {
  uid: string;
  record: string;
  kv_pending: number;
  pending: string | null;
}

/** One object's tables. Creates them on first use. */
export class AccountLedger {
  constructor(readonly sql: SqlStorage) {
    // One row: the uid's record as committed, whether KV still needs it, and a registration to undo.
    sql.exec(`CREATE TABLE IF NOT EXISTS account (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      uid TEXT NOT NULL,
      record TEXT NOT NULL,
      kv_pending INTEGER NOT NULL DEFAULT 0,
      pending TEXT
    )`);
    // Accids owed an unblock at NetEase: a v1 kick (block, then unblock) whose unblock failed.
    sql.exec("CREATE TABLE IF NOT EXISTS owed_unblock (accid TEXT PRIMARY KEY)");
    // Results of operator actions by X-Request-Id, kept for a day.
    sql.exec(`CREATE TABLE IF NOT EXISTS result (
      request_id TEXT PRIMARY KEY,
      operation TEXT NOT NULL,
      answer TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
  }

  /** The committed entry, or undefined before the first commit (or adoption). */
  read(): LedgerEntry | undefined {
    const row = this.sql
      .exec<AccountRow>("SELECT uid, record, kv_pending, pending FROM account WHERE id = 1")
      .toArray()[0];
    if (!row) return undefined;
    return {
      uid: row.uid,
      record: JSON.parse(row.record) as AccountRecord,
      kvPending: row.kv_pending === 1,
      pending: row.pending === null ? null : (JSON.parse(row.pending) as PendingAccid),
    };
  }

  /** Takes a record found in KV (written before objects existed, or by the import script) as committed. */
  adopt(uid: string, record: AccountRecord): void {
    this.sql.exec("INSERT INTO account (id, uid, record) VALUES (1, ?, ?)", uid, JSON.stringify(record));
  }

  /** Commits `record` and `pending`, marking KV as not yet written. */
  commit(uid: string, record: AccountRecord, pending: PendingAccid | null): void {
    this.sql.exec(
      `INSERT INTO account (id, uid, record, kv_pending, pending) VALUES (1, ?, ?, 1, ?)
       ON CONFLICT (id) DO UPDATE SET record = excluded.record, kv_pending = 1, pending = excluded.pending`,
      uid,
      JSON.stringify(record),
      pending === null ? null : JSON.stringify(pending),
    );
  }

  /** Notes a registration to undo should the operation not commit. */
  setPending(pending: PendingAccid): void {
    this.sql.exec("UPDATE account SET pending = ? WHERE id = 1", JSON.stringify(pending));
  }

  /** Notes that `accid` may be left blocked at NetEase and must be unblocked (if still current and active). */
  oweUnblock(accid: string): void {
    this.sql.exec("INSERT OR IGNORE INTO owed_unblock (accid) VALUES (?)", accid);
  }

  /** The accids owed an unblock. */
  owedUnblocks(): string[] {
    return this.sql
      .exec<{ accid: string }>("SELECT accid FROM owed_unblock")
      .toArray()
      .map((row) => row.accid);
  }

  /** The unblock owed to `accid` is settled (done, or no longer wanted). */
  settleUnblock(accid: string): void {
    this.sql.exec("DELETE FROM owed_unblock WHERE accid = ?", accid);
  }

  /** The committed record is in KV. */
  kvWritten(): void {
    this.sql.exec("UPDATE account SET kv_pending = 0 WHERE id = 1");
  }

  /**
   * The stored answer for a repeated request id; a `request_id_reused` failure if the id named
   * another operation; undefined for an id not seen in the last 24 hours.
   */
  replay<T>(requestId: string, operation: string, now: number): ObjectAnswer<T> | undefined {
    const row = this.sql
      .exec<{ operation: string; answer: string }>(
        "SELECT operation, answer FROM result WHERE request_id = ? AND at > ?",
        requestId,
        now - TIMING.operationResultRetentionMs,
      )
      .toArray()[0];
    if (!row) return undefined;
    if (row.operation !== operation) {
      return { ok: false, kind: "request_id_reused", detail: `X-Request-Id reused: ${operation}` };
    }
    return JSON.parse(row.answer) as ObjectAnswer<T>;
  }

  /** Keeps `answer` for `requestId`, and forgets answers older than the retention. */
  remember(requestId: string, operation: string, answer: ObjectAnswer<unknown>, now: number): void {
    this.sql.exec("DELETE FROM result WHERE at <= ?", now - TIMING.operationResultRetentionMs);
    this.sql.exec(
      "INSERT OR REPLACE INTO result (request_id, operation, answer, at) VALUES (?, ?, ?, ?)",
      requestId,
      operation,
      JSON.stringify(answer),
      now,
    );
  }
}
