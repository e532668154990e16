/**
 * Operator levers on the uid ↔ accid mapping: bind (stock accounts), block, unblock, rotate, revoke,
 * import.
 *
 * Each change runs in the uid's Durable Object (src/accounts/object/), one at a time against the
 * committed copy, NetEase first and KV last; see `AccountChanges` for the order inside each. This
 * module is the Worker's side: it checks import rows in bulk before any object is asked, and writes
 * one structured audit line and one metric per change: who (the operator), what, uid, accid, outcome.
 * The lasting audit trail is the object's own history (see AccountLedger.record).
 */

import * as v from "valibot";
import { type BindOutcome, bindConflict } from "../accounts/object/changes.ts";
import type { AccountObjectClient } from "../accounts/object/client.ts";
import type { Operated, Revocation } from "../accounts/object/results.ts";
import type { AccountRecord } from "../accounts/record.ts";
import type { AccountStore } from "../accounts/store.ts";
import { describeIssues, type ImportRow, importRowSchema } from "../contract/requests.ts";
import type { ImportOutcome, ImportResponse } from "../contract/responses.ts";
import { LIMITS, NIM } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import { logLine } from "../core/log.ts";
import type { Metrics } from "../core/metrics.ts";
import type { NimServerApi } from "../nim/server-api.ts";

/** One import row as sent, with the number it is reported under (array place or NDJSON line). */
export interface NumberedRow {
  line: number;
  row: unknown;
}

/** A row's outcome in an import: as the one-request import answers, or `failed` (see `tolerateFailures`). */
export interface CheckedRow {
  line: number;
  outcome: ImportOutcome | "failed";
  uid?: string;
  accid?: string;
  message?: string;
}

/** A row a file import claims: for its uid, this accid, and the other way round. */
export interface ClaimRow {
  line: number;
  uid: string;
  accid: string;
}

/** A claim's answer: the row's own (or a re-run of it), a repeat of an earlier line, or a conflict with one. */
export type ClaimAnswer =
  | { claimed: true }
  | { claimed: false; repeats: number }
  | { claimed: false; conflicts: number };

/** How `checkAndBind` runs (the one-request import uses none of these). */
export interface ImportOptions {
  /** Send rows KV has as bound to their object again, so a step cut short reports them as it first did. */
  recheckBound?: boolean;
  /** Awaited before each NetEase call: a turn at the app's creation pace. */
  beforeNetEase?: () => Promise<void>;
  /** Report a row whose check or bind failed (NetEase or its object unreachable) as `failed`, rather than throw. */
  tolerateFailures?: boolean;
  /**
   * Bind without an account-change event per row (`OperationOptions.quiet`), nor a log line and a
   * metric per row: the caller logs the rows together. Each row is still in its uid's history.
   */
  quiet?: boolean;
  /** Rows bound at once (default `LIMITS.importConcurrency`): each is one call to its own object. */
  concurrency?: number;
  /**
   * Checks rows against the rest of a file import, beyond this call's rows (the import's claims,
   * `imports/entry.ts`); without it, rows are checked against one another in this call only.
   */
  claim?: (rows: ClaimRow[]) => Promise<ClaimAnswer[]>;
}

/** A row that could not be checked or bound: the reason in words, never the error's own text. */
function failedRow(error: unknown): { outcome: "failed"; message: string } {
  const message =
    error instanceof DomainError && error.kind === "storage_unavailable"
      ? "Account storage was unavailable; import this row again."
      : "NetEase or the account's object was unavailable; import this row again.";
  return { outcome: "failed", message };
}

/** Operator actions on accounts. Cheap to construct per request. */
export class AccountAdmin {
  constructor(
    readonly objects: AccountObjectClient,
    readonly store: AccountStore,
    readonly nim: NimServerApi,
    /** The request's id: joins audit lines to the access log, and makes a repeated request idempotent. */
    readonly requestId: string,
    /** Who asks: an Access email, "service-token:<name>", or "admin token". */
    readonly operator: string,
    readonly metrics?: Metrics,
  ) {}

  /** The options of one change: its request id and operator. */
  #options(requestId = this.requestId): { requestId: string; operator: string } {
    return { requestId, operator: this.operator };
  }

  /** The committed record for `uid` (from its object, so never stale), or 404. */
  async get(uid: string): Promise<AccountRecord> {
    return (await this.objects.get(uid)) ?? Promise.reject(new DomainError("account_not_found"));
  }

  /**
   * Binds an accid that already exists at NetEase to `uid`. Idempotent: binding the same pair again
   * is `already_bound`. 409 if the uid has another accid or the accid belongs (or belonged) to
   * another uid; 400 if NetEase does not know the accid.
   */
  bind(uid: string, accid: string): Promise<Operated<{ record: AccountRecord; outcome: BindOutcome }>> {
    return this.#audited(
      "bind",
      uid,
      accid,
      (done) => done,
      () => this.objects.bind(uid, accid, this.#options()),
    );
  }

  /** Blocks the uid's accid at NetEase (kicking live sessions when `kick`), then marks the record. */
  block(uid: string, kick: boolean): Promise<Operated<AccountRecord>> {
    return this.#audited(
      "block",
      uid,
      undefined,
      (record) => ({ record, outcome: "done" }),
      () => this.objects.block(uid, kick, this.#options()),
    );
  }

  /** Unblocks the uid's accid at NetEase, then marks the record active. */
  unblock(uid: string): Promise<Operated<AccountRecord>> {
    return this.#audited(
      "unblock",
      uid,
      undefined,
      (record) => ({ record, outcome: "done" }),
      () => this.objects.unblock(uid, this.#options()),
    );
  }

  /**
   * Moves the uid to a fresh accid (the old one is blocked with kick and never reused). Rotations
   * queued behind one another each happen, and each reports the accid it produced. 409 for a
   * blocked account: rotation would otherwise quietly lift the block.
   */
  rotate(uid: string): Promise<Operated<{ record: AccountRecord; previousAccid: string }>> {
    return this.#audited(
      "rotate",
      uid,
      undefined,
      (done) => ({ record: done.record, outcome: "done" }),
      () => this.objects.rotate(uid, this.#options()),
    );
  }

  /**
   * Revokes the uid's app sessions and dynamic tokens issued before now (the account stays as it
   * is); with `kick`, its live IM sessions are disconnected at NetEase too. See AccountObject.revoke.
   */
  revoke(uid: string, kick: boolean): Promise<Operated<Revocation>> {
    return this.#audited(
      "revoke",
      uid,
      undefined,
      (done) => ({ record: done.record, outcome: kick ? `kick:${done.kick}` : "done" }),
      () => this.objects.revoke(uid, kick, this.#options()),
    );
  }

  /**
   * Binds many existing accids at once. Rows are checked against each other, KV (bulk reads) and
   * NetEase (getUinfos, 200 per call) before any is bound; NetEase failing fails the whole request
   * with nothing written. Each remaining row is then bound by its uid's object, which checks it again
   * against the committed copy. If an object cannot be reached, the request fails (503) once the rows
   * in flight have settled; rows bound before stay bound. Idempotent: re-running an import reports
   * `already_bound`.
   */
  async importRows(rows: readonly NumberedRow[]): Promise<ImportResponse> {
    const results = (await this.checkAndBind(rows)).map((result) => {
      // Only `tolerateFailures` reports a row failed; this import fails as a whole instead.
      if (result.outcome === "failed") throw new Error("unreachable: a failed row without tolerateFailures");
      return { ...result, outcome: result.outcome };
    });
    const counts: Record<ImportOutcome, number> = { bound: 0, already_bound: 0, conflict: 0, invalid: 0 };
    for (const result of results) counts[result.outcome] += 1;
    logLine("info", {
      event: "admin_change",
      requestId: this.requestId,
      who: this.operator,
      what: "import",
      outcome: "done",
      ...counts,
    });
    return { counts, results };
  }

  /**
   * The import's work, shared by the one-request import and each step of a file import
   * (src/imports/): rows checked against each other, KV and NetEase, then bound through their
   * objects with request ids `<requestId>#<line>`, so a step run again replays its rows. Results are
   * in line order.
   */
  async checkAndBind(rows: readonly NumberedRow[], options: ImportOptions = {}): Promise<CheckedRow[]> {
    const results: CheckedRow[] = [];
    const valid: { line: number; uid: string; accid: string }[] = [];
    for (const { line, row } of rows) {
      const parsed = parseImportRow(row);
      if (typeof parsed === "string") results.push({ line, outcome: "invalid", message: parsed });
      else valid.push({ line, uid: parsed.uid, accid: parsed.accid });
    }
    const candidates = options.claim ? await this.#claimed(valid, options.claim, results) : [];
    const seenUid = new Map<string, string>();
    const seenAccid = new Map<string, string>();
    for (const { line, uid, accid } of options.claim ? [] : valid) {
      const previousAccid = seenUid.get(uid);
      const previousUid = seenAccid.get(accid);
      if (previousAccid === accid) {
        results.push({ line, uid, accid, outcome: "already_bound", message: "Repeated in this import." });
        continue;
      }
      if (previousAccid !== undefined || (previousUid !== undefined && previousUid !== uid)) {
        const message = "Conflicts with an earlier row of this import.";
        results.push({ line, uid, accid, outcome: "conflict", message });
        continue;
      }
      seenUid.set(uid, accid);
      seenAccid.set(accid, uid);
      candidates.push({ line, uid, accid });
    }

    const records = await this.store.getMany(candidates.map((c) => c.uid));
    const owners = await this.store.uidsForAccids(candidates.map((c) => c.accid));
    const toCheck: typeof candidates = [];
    const binding: typeof candidates = [];
    for (const candidate of candidates) {
      const { line, uid, accid } = candidate;
      const conflict = bindConflict(uid, accid, records.get(uid) ?? null, owners.get(accid) ?? null);
      // Bound as given: by an earlier import, or by this one before its step was cut short. Asked
      // again, the object answers the second with its first answer (the same request id).
      if (conflict === "already_bound" && options.recheckBound) binding.push(candidate);
      else if (conflict === "already_bound") results.push({ line, uid, accid, outcome: "already_bound" });
      else if (conflict) results.push({ line, uid, accid, outcome: "conflict", message: conflict });
      else toCheck.push(candidate);
    }

    for (let i = 0; i < toCheck.length; i += NIM.getUinfosBatch) {
      const batch = toCheck.slice(i, i + NIM.getUinfosBatch);
      let registered: Set<string>;
      try {
        await options.beforeNetEase?.();
        registered = await this.nim.existingAccounts(batch.map((c) => c.accid));
      } catch (error) {
        if (!options.tolerateFailures) throw error;
        for (const { line, uid, accid } of batch) results.push({ line, uid, accid, ...failedRow(error) });
        continue;
      }
      for (const candidate of batch) {
        const { line, uid, accid } = candidate;
        if (registered.has(accid)) binding.push(candidate);
        else
          results.push({ line, uid, accid, outcome: "invalid", message: "This accid is not registered with NetEase." });
      }
    }
    await inBatches(binding, options.concurrency ?? LIMITS.importConcurrency, async ({ line, uid, accid }) => {
      try {
        results.push({ line, uid, accid, ...(await this.#importRow(line, uid, accid, options.quiet === true)) });
      } catch (error) {
        if (!options.tolerateFailures) throw error;
        results.push({ line, uid, accid, ...failedRow(error) });
      }
    });
    return results.sort((a, b) => a.line - b.line);
  }

  /** The rows the import's claims let through; the others' outcomes go to `results`. */
  async #claimed(
    valid: { line: number; uid: string; accid: string }[],
    claim: NonNullable<ImportOptions["claim"]>,
    results: CheckedRow[],
  ): Promise<{ line: number; uid: string; accid: string }[]> {
    const answers = valid.length === 0 ? [] : await claim(valid);
    return valid.filter((row, i) => {
      const answer = answers[i]!;
      if (answer.claimed) return true;
      if ("repeats" in answer) {
        results.push({ ...row, outcome: "already_bound", message: `Repeats line ${answer.repeats} of this import.` });
      } else {
        results.push({
          ...row,
          outcome: "conflict",
          message: `Conflicts with line ${answer.conflicts} of this import.`,
        });
      }
      return false;
    });
  }

  /** Binds one checked row through its uid's object; a conflict found there is the row's outcome. */
  async #importRow(
    line: number,
    uid: string,
    accid: string,
    quiet: boolean,
  ): Promise<{ outcome: ImportOutcome; message?: string }> {
    try {
      // Each row has its own id at its object, so a repeated import request replays row by row.
      const requestId = `${this.requestId}#${line}`;
      const bind = () => this.objects.bind(uid, accid, { ...this.#options(requestId), registered: true, quiet });
      // A file import's row writes no line of its own (its step writes one, with the step's counts):
      // a million log events for a migration would cost more than the import.
      const done = quiet ? await bind() : await this.#audited("import", uid, accid, (bound) => bound, bind);
      return { outcome: done.value.outcome };
    } catch (error) {
      if (error instanceof DomainError && error.kind === "account_conflict") {
        return { outcome: "conflict", message: error.reason ?? "conflict" };
      }
      throw error;
    }
  }

  /**
   * Runs one change in the uid's object (whose client keeps the committed record in this isolate's
   * cache) and writes the audit line: the accid it ended on and its outcome, or the failure. A
   * replayed answer (a repeated X-Request-Id) changed nothing now: it is audited as `replayed`.
   */
  async #audited<T>(
    what: string,
    uid: string,
    accid: string | undefined,
    result: (value: T) => { record: AccountRecord; outcome: string },
    operation: () => Promise<Operated<T>>,
  ): Promise<Operated<T>> {
    const started = Date.now();
    try {
      const done = await operation();
      const { record, outcome } = result(done.value);
      this.#log(what, uid, record.accid, done.replayed ? "replayed" : outcome, started);
      return done;
    } catch (error) {
      this.#log(what, uid, accid, error instanceof DomainError ? `failed:${error.kind}` : "failed", started);
      throw error;
    }
  }

  #log(what: string, uid: string, accid: string | undefined, outcome: string, started: number): void {
    logLine("info", {
      event: "admin_change",
      requestId: this.requestId,
      who: this.operator,
      what,
      uid,
      accid,
      outcome,
    });
    this.metrics?.record("admin_change", [what, outcome], Date.now() - started);
  }
}

/** Runs `work` over `items`, at most `size` at a time; the first failure is thrown once all have settled. */
async function inBatches<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>): Promise<void> {
  let failure: { error: unknown } | undefined;
  for (let i = 0; i < items.length; i += size) {
    const settled = await Promise.allSettled(items.slice(i, i + size).map(work));
    for (const outcome of settled) if (outcome.status === "rejected") failure ??= { error: outcome.reason };
    if (failure) throw failure.error;
  }
}

function parseImportRow(row: unknown): ImportRow | string {
  const schema = importRowSchema();
  const result = v.safeParse(schema, row);
  return result.success ? result.output : describeIssues(schema, result.issues);
}
