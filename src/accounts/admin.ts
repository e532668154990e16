/**
 * Operator levers on the uid ↔ accid mapping: bind (stock accounts), block, unblock, rotate, import.
 *
 * NetEase accounts cannot be deleted, so every lever is a state change at NetEase plus a record
 * change here. NetEase is always asked first and KV is written only on success, so a failed call
 * leaves the record as it was. The order inside each operation is chosen so an interruption between
 * two steps leaves something a retry completes (each step is idempotent): rotate registers the new
 * accid before blocking the old one, and writes the reverse mapping before the forward record.
 *
 * Every change is logged as one structured line: who (admin), what, uid, accid, outcome.
 */

import * as v from "valibot";
import { NIM } from "../constants.ts";
import {
  describeIssues,
  type ImportOutcome,
  type ImportResponse,
  type ImportRow,
  type ImportRowResult,
  importRowSchema,
} from "../contract.ts";
import { DomainError } from "../errors.ts";
import { logLine } from "../log.ts";
import type { NimServerApi } from "../nim/server-api.ts";
import { deriveAccid } from "./accid.ts";
import type { AccountProvisioner } from "./provision.ts";
import { newAccountRecord } from "./record.ts";
import type { AccountRecord, AccountStore } from "./store.ts";

const noAccount = () => new DomainError("account_not_found");

/** Operator actions on accounts. Cheap to construct per request. */
export class AccountAdmin {
  constructor(
    readonly store: AccountStore,
    readonly nim: NimServerApi,
    readonly provisioner: AccountProvisioner,
    /** The request's id, so audit lines join the access log. */
    readonly requestId: string,
    readonly now: () => number = () => Date.now(),
  ) {}

  /** The record for `uid`, or 404. */
  async get(uid: string): Promise<AccountRecord> {
    return (await this.store.get(uid)) ?? Promise.reject(noAccount());
  }

  /**
   * Binds an accid that already exists at NetEase to `uid`. Idempotent: binding the same pair again
   * is `already_bound`. 409 if the uid has another accid or the accid belongs (or belonged) to
   * another uid; 400 if NetEase does not know the accid.
   */
  bind(uid: string, accid: string): Promise<{ record: AccountRecord; outcome: "bound" | "already_bound" }> {
    return this.#audited<{ record: AccountRecord; outcome: "bound" | "already_bound" }>(
      "bind",
      uid,
      accid,
      async () => {
        const existing = await this.store.get(uid);
        const owner = await this.store.uidForAccid(accid);
        const conflict = bindConflict(uid, accid, existing, owner);
        if (conflict === "already_bound") {
          return { value: { record: existing!, outcome: "already_bound" as const }, accid, outcome: "already_bound" };
        }
        if (conflict) throw new DomainError("account_conflict", conflict, conflict);
        if (!(await this.nim.existingAccounts([accid])).has(accid)) {
          throw new DomainError("accid_not_registered");
        }
        const record = newAccountRecord(accid, this.now());
        await this.#save(uid, record, true);
        return { value: { record, outcome: "bound" as const }, accid, outcome: "bound" };
      },
    );
  }

  /** Blocks the uid's accid at NetEase (kicking live sessions when `kick`), then marks the record. */
  block(uid: string, kick: boolean): Promise<AccountRecord> {
    return this.#setStatus(uid, "blocked", (accid) => this.nim.blockAccount(accid, kick));
  }

  /** Unblocks the uid's accid at NetEase, then marks the record active. */
  unblock(uid: string): Promise<AccountRecord> {
    return this.#setStatus(uid, "active", (accid) => this.nim.unblockAccount(accid));
  }

  /**
   * Moves the uid to a fresh accid: registers the next generation's accid, blocks the old one (with
   * kick), then stores the new mapping. The old accid is never reused. 409 for a blocked account:
   * rotation would otherwise quietly lift the block.
   */
  async rotate(uid: string): Promise<{ record: AccountRecord; previousAccid: string }> {
    const current = await this.get(uid);
    return this.#audited("rotate", uid, current.accid, async () => {
      if (current.status === "blocked") {
        throw new DomainError(
          "account_conflict",
          "rotate of a blocked account",
          "The account is blocked; unblock it before rotating.",
        );
      }
      const generation = current.generation + 1;
      const derived = await deriveAccid(await this.provisioner.accidKey, uid, generation);
      const { accid } = await this.nim.createAccount(derived);
      await this.nim.blockAccount(current.accid, true);
      const record: AccountRecord = { ...current, accid, generation, status: "active", updatedAt: this.now() };
      await this.#save(uid, record, true);
      return { value: { record, previousAccid: current.accid }, accid, outcome: "done" };
    });
  }

  /**
   * Binds many existing accids at once. Rows are checked against each other, KV (bulk reads) and
   * NetEase (getUinfos, 200 per call) before anything is written; NetEase failing fails the whole
   * request with nothing written. Idempotent: re-running an import reports `already_bound`.
   */
  async importRows(rows: readonly unknown[]): Promise<ImportResponse> {
    const results: ImportRowResult[] = [];
    const candidates: { line: number; uid: string; accid: string }[] = [];
    const seenUid = new Map<string, string>();
    const seenAccid = new Map<string, string>();
    for (const [index, row] of rows.entries()) {
      const line = index + 1;
      const parsed = parseImportRow(row);
      if (typeof parsed === "string") {
        results.push({ line, outcome: "invalid", message: parsed });
        continue;
      }
      const { uid, accid } = parsed;
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
    const toBind: typeof candidates = [];
    for (const candidate of candidates) {
      const { line, uid, accid } = candidate;
      const conflict = bindConflict(uid, accid, records.get(uid) ?? null, owners.get(accid) ?? null);
      if (conflict === "already_bound") results.push({ line, uid, accid, outcome: "already_bound" });
      else if (conflict) results.push({ line, uid, accid, outcome: "conflict", message: conflict });
      else toBind.push(candidate);
    }

    const registered = new Set<string>();
    for (let i = 0; i < toBind.length; i += NIM.getUinfosBatch) {
      const batch = toBind.slice(i, i + NIM.getUinfosBatch).map((c) => c.accid);
      for (const accid of await this.nim.existingAccounts(batch)) registered.add(accid);
    }
    for (const { line, uid, accid } of toBind) {
      if (!registered.has(accid)) {
        results.push({ line, uid, accid, outcome: "invalid", message: "This accid is not registered with NetEase." });
        continue;
      }
      await this.#save(uid, newAccountRecord(accid, this.now()), true);
      this.#log("import", uid, accid, "bound");
      results.push({ line, uid, accid, outcome: "bound" });
    }

    results.sort((a, b) => a.line - b.line);
    const counts: Record<ImportOutcome, number> = { bound: 0, already_bound: 0, conflict: 0, invalid: 0 };
    for (const result of results) counts[result.outcome] += 1;
    logLine("info", {
      event: "admin_change",
      requestId: this.requestId,
      who: "admin",
      what: "import",
      outcome: "done",
      ...counts,
    });
    return { counts, results };
  }

  async #setStatus(
    uid: string,
    status: AccountRecord["status"],
    atNetEase: (accid: string) => Promise<void>,
  ): Promise<AccountRecord> {
    const current = await this.get(uid);
    return this.#audited(status === "blocked" ? "block" : "unblock", uid, current.accid, async () => {
      await atNetEase(current.accid);
      const record: AccountRecord = { ...current, status, updatedAt: this.now() };
      await this.#save(uid, record, false);
      return { value: record, accid: current.accid, outcome: "done" };
    });
  }

  async #save(uid: string, record: AccountRecord, accidChanged: boolean): Promise<void> {
    if (accidChanged) await this.store.put(uid, record);
    else await this.store.putRecord(uid, record);
    // This isolate sees the change at once; others within KV's consistency window.
    this.provisioner.remember(uid, record);
  }

  /**
   * Runs one change and writes its audit line. The operation reports the accid it ended on and its
   * outcome; a failure is logged against the accid it started from.
   */
  async #audited<T>(
    what: string,
    uid: string,
    accid: string,
    operation: () => Promise<{ value: T; accid: string; outcome: string }>,
  ): Promise<T> {
    try {
      const done = await operation();
      this.#log(what, uid, done.accid, done.outcome);
      return done.value;
    } catch (error) {
      this.#log(what, uid, accid, error instanceof DomainError ? `failed:${error.kind}` : "failed");
      throw error;
    }
  }

  #log(what: string, uid: string, accid: string, outcome: string): void {
    logLine("info", { event: "admin_change", requestId: this.requestId, who: "admin", what, uid, accid, outcome });
  }
}

/**
 * Why `uid` cannot be bound to `accid` given the uid's current record and the accid's owner:
 * "already_bound" when the pair is already in place, a conflict message, or undefined when free.
 */
function bindConflict(
  uid: string,
  accid: string,
  existing: AccountRecord | null,
  owner: string | null,
): string | undefined {
  if (existing?.accid === accid) return "already_bound";
  if (existing) return "The uid is bound to a different accid.";
  // owner === uid with no record is an interrupted earlier bind (reverse key written first): finish it.
  if (owner !== null && owner !== uid) return "The accid belongs, or belonged, to another uid.";
  return undefined;
}

function parseImportRow(row: unknown): ImportRow | string {
  const result = v.safeParse(importRowSchema, row);
  return result.success ? result.output : describeIssues(importRowSchema, result.issues);
}
