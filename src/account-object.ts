/**
 * AccountObject: one SQLite-backed Durable Object per uid, the single writer of that uid's account.
 *
 * Why: KV has no compare-and-set and its reads can be ~60 s stale elsewhere, so two isolates acting
 * on one uid (a block here, a rotate there) could each act on an old copy and undo the other. The
 * object runs its uid's changes one at a time, against the copy in its own strongly consistent
 * storage, so every change sees the one before it. Order inside a change:
 *
 *   1. NetEase first (register, block, unblock); a failure there changes nothing;
 *   2. the new record, with its revision incremented, into the object's storage (the truth);
 *   3. KV (reverse mapping, then record), which the token path and the login callback read. If that
 *      write fails, the change still stands and an alarm writes KV again until it succeeds.
 *
 * A rotation that fails after registering its new accid leaves a registration no record names; the
 * object notes it before calling NetEase, and undoes it (blocks that accid) at once or, if NetEase
 * is down, before its next change or on an alarm. Operator actions carry their X-Request-Id: a
 * repeated one gets the first result back instead of acting twice.
 *
 * The object takes its settings from the same Env as the Worker (one script, one set of secrets).
 */

import { DurableObject } from "cloudflare:workers";
import type { AccountObjectRpc, ObjectAnswer, OperationOptions } from "./accounts/objects.ts";
import { type AccountRecord, revisionOf } from "./accounts/record.ts";
import type { PendingAccid } from "./accounts/writer.ts";
import { ConfigError, type Env } from "./config.ts";
import { TIMING } from "./constants.ts";
import { DomainError, type DomainErrorKind } from "./errors.ts";
import { logLine } from "./log.ts";
import { type Runtime, runtimeFor } from "./runtime.ts";

/** Failures that say something lasting about the request, so a repeated X-Request-Id gets them again. */
const SETTLED_FAILURES: ReadonlySet<string> = new Set<DomainErrorKind>([
  "account_conflict",
  "account_not_found",
  "accid_not_registered",
]);

/** The object's view of its uid while it runs one operation. */
interface Current {
  uid: string;
  record: AccountRecord | null;
  pending: PendingAccid | null;
  runtime: Runtime;
}

interface AccountRow extends Record<string, SqlStorageValue> {
  uid: string;
  record: string;
  kv_pending: number;
  pending: string | null;
}

/** The Durable Object class bound as ACCOUNT_OBJECTS; one instance per uid (`idFromName(uid)`). */
export class AccountObject extends DurableObject<Env> implements AccountObjectRpc {
  /** The tail of the queue: each operation starts when the one before it has settled. */
  #tail: Promise<unknown> = Promise.resolve();
  readonly #sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.#sql = ctx.storage.sql;
    // One row: the uid's record as committed, whether KV still needs it, and an undone registration.
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS account (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      uid TEXT NOT NULL,
      record TEXT NOT NULL,
      kv_pending INTEGER NOT NULL DEFAULT 0,
      pending TEXT
    )`);
    // Results of operator actions by X-Request-Id, kept for a day.
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS result (
      request_id TEXT PRIMARY KEY,
      operation TEXT NOT NULL,
      answer TEXT NOT NULL,
      at INTEGER NOT NULL
    )`);
  }

  get(uid: string): Promise<ObjectAnswer<AccountRecord | null>> {
    return this.#operate(uid, undefined, "", async (current) => current.record);
  }

  provision(uid: string): Promise<ObjectAnswer<AccountRecord>> {
    return this.#operate(uid, undefined, "", async (current) => {
      if (current.record) {
        // The caller's KV read missed a record this object holds: a stale replica, or a key lost.
        // Writing it again is idempotent, and heals the second case.
        await this.#writeKv(current, true);
        return current.record;
      }
      return this.#commit(current, await current.runtime.writer.provision(uid), { accidChanged: true });
    });
  }

  withRtcUid(uid: string): Promise<ObjectAnswer<AccountRecord>> {
    return this.#operate(uid, undefined, "", async (current) => {
      const record = existing(current);
      if (record.rtcUid !== undefined) return record;
      return this.#commit(current, await current.runtime.writer.withRtcUid(uid, record), { accidChanged: false });
    });
  }

  bind(
    uid: string,
    accid: string,
    options: OperationOptions & { registered?: boolean },
  ): Promise<ObjectAnswer<{ record: AccountRecord; outcome: "bound" | "already_bound" }>> {
    return this.#operate(uid, options.requestId, `bind ${accid}`, async (current) => {
      const bound = await current.runtime.writer.bind(uid, accid, current.record, options.registered === true);
      if (bound.outcome === "already_bound") return bound;
      return { ...bound, record: await this.#commit(current, bound.record, { accidChanged: true }) };
    });
  }

  block(uid: string, kick: boolean, options: OperationOptions): Promise<ObjectAnswer<AccountRecord>> {
    return this.#operate(uid, options.requestId, `block ${kick}`, async (current) => {
      const record = await current.runtime.writer.setStatus(existing(current), "blocked", kick);
      return this.#commit(current, record, { accidChanged: false });
    });
  }

  unblock(uid: string, options: OperationOptions): Promise<ObjectAnswer<AccountRecord>> {
    return this.#operate(uid, options.requestId, "unblock", async (current) => {
      const record = await current.runtime.writer.setStatus(existing(current), "active", false);
      return this.#commit(current, record, { accidChanged: false });
    });
  }

  rotate(
    uid: string,
    options: OperationOptions,
  ): Promise<ObjectAnswer<{ record: AccountRecord; previousAccid: string }>> {
    return this.#operate(uid, options.requestId, "rotate", async (current) => {
      const before = existing(current);
      try {
        const rotated = await current.runtime.writer.rotate(uid, before, (registration) =>
          this.#setPending(current, registration),
        );
        const record = await this.#commit(current, rotated, { accidChanged: true, clearsPending: true });
        return { record, previousAccid: before.accid };
      } catch (error) {
        if (current.pending) await this.#tryRollBack(current);
        throw error;
      }
    });
  }

  /** Finishes what an earlier operation left: KV writes that failed, a registration to undo. */
  override async alarm(): Promise<void> {
    const row = this.#row();
    if (!row) return;
    await this.#operate(row.uid, undefined, "", async () => null);
    const after = this.#row();
    if (after && (after.kv_pending || after.pending)) {
      await this.ctx.storage.setAlarm(Date.now() + TIMING.kvResyncDelayMs * 6);
    }
  }

  /**
   * Runs one operation for `uid` after every earlier one has settled: replays a repeated request id,
   * finishes leftovers, then `work` against the committed copy.
   */
  #operate<T>(
    uid: string,
    requestId: string | undefined,
    operation: string,
    work: (current: Current) => Promise<T>,
  ): Promise<ObjectAnswer<T>> {
    const run = async (): Promise<ObjectAnswer<T>> => {
      const replay = requestId === undefined ? undefined : this.#replay<T>(requestId, operation);
      if (replay) return replay;
      let answer: ObjectAnswer<T>;
      try {
        const runtime = runtimeFor(this.env);
        if (runtime instanceof ConfigError) throw new DomainError("misconfigured", "account object: settings unusable");
        const current = await this.#load(uid, runtime);
        await this.#finishLeftovers(current);
        answer = { ok: true, value: await work(current) };
      } catch (error) {
        answer = toAnswer(error);
      }
      if (requestId !== undefined && (answer.ok || SETTLED_FAILURES.has(answer.kind))) {
        this.#remember(requestId, operation, answer);
      }
      return answer;
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  /** The stored answer for a repeated request id, a conflict if it named another operation, or undefined. */
  #replay<T>(requestId: string, operation: string): ObjectAnswer<T> | undefined {
    const row = this.#sql
      .exec<{ operation: string; answer: string }>(
        "SELECT operation, answer FROM result WHERE request_id = ? AND at > ?",
        requestId,
        Date.now() - TIMING.operationResultRetentionMs,
      )
      .toArray()[0];
    if (!row) return undefined;
    if (row.operation !== operation) {
      return { ok: false, kind: "request_id_reused", detail: `X-Request-Id reused: ${operation}` };
    }
    return JSON.parse(row.answer) as ObjectAnswer<T>;
  }

  #remember(requestId: string, operation: string, answer: ObjectAnswer<unknown>): void {
    const now = Date.now();
    this.#sql.exec("DELETE FROM result WHERE at <= ?", now - TIMING.operationResultRetentionMs);
    this.#sql.exec(
      "INSERT OR REPLACE INTO result (request_id, operation, answer, at) VALUES (?, ?, ?, ?)",
      requestId,
      operation,
      JSON.stringify(answer),
      now,
    );
  }

  #row(): AccountRow | undefined {
    return this.#sql.exec<AccountRow>("SELECT uid, record, kv_pending, pending FROM account WHERE id = 1").toArray()[0];
  }

  /**
   * The committed copy. On the object's first operation there is none yet: the record then comes
   * from KV once (written before objects existed, or by the KV import script) and is adopted.
   */
  async #load(uid: string, runtime: Runtime): Promise<Current> {
    const row = this.#row();
    if (row) {
      if (row.uid !== uid) throw new Error("account object called for another uid");
      const pending = row.pending === null ? null : (JSON.parse(row.pending) as PendingAccid);
      return { uid, record: JSON.parse(row.record) as AccountRecord, pending, runtime };
    }
    const record = await runtime.store.get(uid);
    if (record) {
      this.#sql.exec("INSERT INTO account (id, uid, record) VALUES (1, ?, ?)", uid, JSON.stringify(record));
    }
    return { uid, record, pending: null, runtime };
  }

  async #finishLeftovers(current: Current): Promise<void> {
    if (current.pending) await this.#tryRollBack(current);
    if (this.#row()?.kv_pending && current.record) await this.#writeKv(current, true);
  }

  /**
   * Undoes the pending registration (see `AccountWriter.rollBack`) and commits the moved generation.
   * If NetEase cannot be asked now, the registration stays noted and an alarm tries again.
   */
  async #tryRollBack(current: Current): Promise<void> {
    const pending = current.pending!;
    try {
      const record = await current.runtime.writer.rollBack(existing(current), pending);
      await this.#commit(current, record, { accidChanged: false, clearsPending: true });
      logLine("warn", { event: "rotation_rolled_back", uid: current.uid, accid: pending.accid });
    } catch {
      await this.ctx.storage.setAlarm(Date.now() + TIMING.kvResyncDelayMs);
    }
  }

  #setPending(current: Current, registration: PendingAccid): void {
    this.#sql.exec("UPDATE account SET pending = ? WHERE id = 1", JSON.stringify(registration));
    current.pending = registration;
  }

  /** Commits `record` with the next revision: to storage first, then KV. */
  async #commit(
    current: Current,
    record: AccountRecord,
    how: { accidChanged: boolean; clearsPending?: boolean },
  ): Promise<AccountRecord> {
    const committed: AccountRecord = { ...record, revision: (current.record ? revisionOf(current.record) : 0) + 1 };
    const json = JSON.stringify(committed);
    if (how.clearsPending) current.pending = null;
    this.#sql.exec(
      `INSERT INTO account (id, uid, record, kv_pending, pending) VALUES (1, ?, ?, 1, ?)
       ON CONFLICT (id) DO UPDATE SET record = excluded.record, kv_pending = 1, pending = excluded.pending`,
      current.uid,
      json,
      current.pending === null ? null : JSON.stringify(current.pending),
    );
    current.record = committed;
    await this.#writeKv(current, how.accidChanged);
    return committed;
  }

  /** Writes the committed record to KV; on failure leaves it marked and sets an alarm to try again. */
  async #writeKv(current: Current, accidChanged: boolean): Promise<void> {
    const { uid, record, runtime } = current;
    try {
      if (accidChanged) await runtime.store.put(uid, record!);
      else await runtime.store.putRecord(uid, record!);
      this.#sql.exec("UPDATE account SET kv_pending = 0 WHERE id = 1");
    } catch (error) {
      // The change stands (NetEase and this object agree); KV, and so the token path, catches up.
      logLine("warn", { event: "kv_write_deferred", uid, detail: error instanceof DomainError ? error.kind : "error" });
      await this.ctx.storage.setAlarm(Date.now() + TIMING.kvResyncDelayMs);
    }
  }
}

function existing(current: Current): AccountRecord {
  if (!current.record) throw new DomainError("account_not_found");
  return current.record;
}

function toAnswer(error: unknown): ObjectAnswer<never> {
  if (error instanceof DomainError) return { ok: false, kind: error.kind, detail: error.detail, reason: error.reason };
  logLine("error", { event: "account_object_error", detail: error instanceof Error ? error.name : typeof error });
  return { ok: false, kind: "internal" };
}
