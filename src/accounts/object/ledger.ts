/**
 * The SQLite storage of one account object: the uid's committed record, the results of operator
 * actions by X-Request-Id, the audit trail (`history`) and the events not yet queued (`outbox`).
 * Synchronous, as the SQL API of a Durable Object is: each method is one statement (or two), and the
 * object's output gate holds its result until they are durable.
 */

import { DEFAULT_APP, LIMITS, TIMING } from "../../core/constants.ts";
import type { AccountEvent } from "../../events/event.ts";
import type { AccountRecord } from "../record.ts";
import type { PendingAccid } from "./changes.ts";
import type { HistoryEntry, HistoryPage, ObjectResult } from "./results.ts";

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

interface HistoryRow extends Record<string, SqlStorageValue> {
  id: number;
  at: number;
  operator: string;
  operation: string;
  detail: string | null;
  request_id: string | null;
  outcome: string;
  replayed: number;
  status_before: string | null;
  accid_before: string | null;
  status_after: string | null;
  accid_after: string | null;
}

function historyEntry(row: HistoryRow): HistoryEntry {
  const side = (status: string | null, accid: string | null) =>
    status === null || accid === null ? null : { status: status as AccountRecord["status"], accid };
  return {
    id: row.id,
    at: row.at,
    operator: row.operator,
    operation: row.operation,
    ...(row.detail === null ? {} : { detail: row.detail }),
    ...(row.request_id === null ? {} : { requestId: row.request_id }),
    outcome: row.outcome,
    replayed: row.replayed === 1,
    before: side(row.status_before, row.accid_before),
    after: side(row.status_after, row.accid_after),
  };
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
    // Results of operator actions by X-Request-Id, kept for a day (the column keeps its first name,
    // `answer`: it is stored in every object).
    sql.exec(`CREATE TABLE IF NOT EXISTS result (
      request_id TEXT PRIMARY KEY,
      operation TEXT NOT NULL,
      answer TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
    // The audit trail: one row per change (and per operator action, failed or replayed), newest
    // last; the oldest go once there are more than LIMITS.historyEntriesKept.
    sql.exec(`CREATE TABLE IF NOT EXISTS history (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      at INTEGER NOT NULL,
      operator TEXT NOT NULL,
      operation TEXT NOT NULL,
      detail TEXT,
      request_id TEXT,
      outcome TEXT NOT NULL,
      replayed INTEGER NOT NULL DEFAULT 0,
      status_before TEXT,
      accid_before TEXT,
      status_after TEXT,
      accid_after TEXT
    )`);
  }

  /**
   * Notes an event for the queue. The object calls it in the same synchronous step as the commit of
   * the change (one transaction under the object's output gate): a committed change is never lost to
   * the app's backend, even if the object is evicted before the event is queued.
   */
  addEvent(event: AccountEvent): void {
    if (!this.#hasOutbox()) {
      // Created on the first event, so the objects of a deployment without events carry no such table.
      this.sql.exec(`CREATE TABLE IF NOT EXISTS outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        body TEXT NOT NULL
      )`);
      this.#outboxExists = true;
    }
    this.sql.exec("INSERT INTO outbox (id, body) VALUES (?, ?)", event.id, JSON.stringify(event));
  }

  /** Rewrites an event not yet queued (what its operation learned after the commit); gone: nothing. */
  updateEvent(event: AccountEvent): void {
    if (this.#hasOutbox()) this.sql.exec("UPDATE outbox SET body = ? WHERE id = ?", JSON.stringify(event), event.id);
  }

  /** The events not yet queued, oldest first: at most 100, one queue batch. */
  outbox(): AccountEvent[] {
    if (!this.#hasOutbox()) return [];
    return this.sql
      .exec<{ body: string }>("SELECT body FROM outbox ORDER BY seq LIMIT 100")
      .toArray()
      .map((row) => JSON.parse(row.body) as AccountEvent);
  }

  /** How many events wait to be queued. */
  outboxSize(): number {
    if (!this.#hasOutbox()) return 0;
    return Number(this.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM outbox").one().n);
  }

  /** The events `ids` are queued. */
  queued(ids: readonly string[]): void {
    for (const id of ids) this.sql.exec("DELETE FROM outbox WHERE id = ?", id);
  }

  /** Forgets every event not yet queued (events were switched off). */
  clearOutbox(): void {
    if (this.#hasOutbox()) this.sql.exec("DELETE FROM outbox");
  }

  /** Whether the outbox table exists: asked of SQLite once per instance (only this instance creates it). */
  #outboxExists: boolean | undefined;

  #hasOutbox(): boolean {
    this.#outboxExists ??=
      this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'outbox'").toArray().length > 0;
    return this.#outboxExists;
  }

  /** Appends one audit entry, and forgets the oldest beyond what is kept. */
  record(entry: Omit<HistoryEntry, "id">): void {
    this.sql.exec(
      `INSERT INTO history (at, operator, operation, detail, request_id, outcome, replayed,
         status_before, accid_before, status_after, accid_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      entry.at,
      entry.operator,
      entry.operation,
      entry.detail ?? null,
      entry.requestId ?? null,
      entry.outcome,
      entry.replayed ? 1 : 0,
      entry.before?.status ?? null,
      entry.before?.accid ?? null,
      entry.after?.status ?? null,
      entry.after?.accid ?? null,
    );
    this.sql.exec("DELETE FROM history WHERE id <= (SELECT MAX(id) FROM history) - ?", LIMITS.historyEntriesKept);
  }

  /** Up to `limit` entries older than the entry `before` (newest first), and the cursor to the next page. */
  history(limit: number, before: number | undefined): HistoryPage {
    const rows = this.sql
      .exec<HistoryRow>(
        "SELECT * FROM history WHERE id < ? ORDER BY id DESC LIMIT ?",
        before ?? Number.MAX_SAFE_INTEGER,
        limit + 1,
      )
      .toArray();
    const entries = rows.slice(0, limit).map(historyEntry);
    return { entries, next: rows.length > limit ? entries[entries.length - 1]!.id : null };
  }

  /**
   * The NetEase app this object's account belongs to, as first named to it: an alarm comes with no
   * call to name it. Only another app than the default one is written, so the objects of the first
   * app need no new row.
   */
  app(named?: string): string {
    if (named !== undefined && named !== DEFAULT_APP) {
      this.sql.exec("CREATE TABLE IF NOT EXISTS app (id INTEGER PRIMARY KEY CHECK (id = 1), name TEXT NOT NULL)");
      this.sql.exec("INSERT OR IGNORE INTO app (id, name) VALUES (1, ?)", named);
      return named;
    }
    const table = this.sql.exec("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'app'").toArray();
    if (table.length === 0) return DEFAULT_APP;
    return this.sql.exec<{ name: string }>("SELECT name FROM app WHERE id = 1").toArray()[0]?.name ?? DEFAULT_APP;
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
   * The stored result for a repeated request id; a `request_id_reused` failure if the id named
   * another operation; undefined for an id not seen in the last 24 hours.
   */
  replay<T>(requestId: string, operation: string, now: number): ObjectResult<T> | undefined {
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
    return JSON.parse(row.answer) as ObjectResult<T>;
  }

  /** Keeps `result` for `requestId`, and forgets results older than the retention. */
  remember(requestId: string, operation: string, result: ObjectResult<unknown>, now: number): void {
    this.sql.exec("DELETE FROM result WHERE at <= ?", now - TIMING.operationResultRetentionMs);
    this.sql.exec(
      "INSERT OR REPLACE INTO result (request_id, operation, answer, at) VALUES (?, ?, ?, ?)",
      requestId,
      operation,
      JSON.stringify(result),
      now,
    );
  }
}
