/**
 * The changes to one uid's account, computed from the authoritative copy its Durable Object holds.
 *
 * Each method takes the current record as the object knows it (never a KV read, which may be up to
 * ~60 s stale), asks NetEase first, and returns the record to commit; the object writes it to its own
 * storage and then to KV. Nothing here writes the uid's record, so a failure leaves it as it was.
 * The order of NetEase calls inside each change is chosen so that an interruption leaves something
 * the object can finish or undo (see `rotate` and `rollBack`).
 *
 * What crosses uids (who owns an accid or an RTC uid) is still read from KV's reverse mappings: those
 * keys are claimed before any record names them, and only a deliberate bind of a stock accid can
 * contend for one, so they stay eventually consistent (docs/architecture.md#the-consistency-model).
 */

import { LIMITS } from "../../core/constants.ts";
import { DomainError } from "../../core/errors.ts";
import type { NimServerApi } from "../../nim/server-api.ts";
import { type AccountRecord, newAccountRecord } from "../record.ts";
import type { AccountStore } from "../store.ts";
import { deriveAccid, deriveRtcUid } from "./derive.ts";

/** What `bind` did: bound now, or found the same pair already in place. */
export type BindOutcome = "bound" | "already_bound";

/** A registration at NetEase that no record names yet; kept by the object until it is committed or undone. */
export interface PendingAccid {
  accid: string;
  generation: number;
}

/** Computes account changes for one uid. Cheap to construct. */
export class AccountChanges {
  constructor(
    readonly store: AccountStore,
    readonly nim: NimServerApi,
    /** ACCID_SECRET as an HMAC key (see `derive.ts`). */
    readonly derivationKey: Promise<CryptoKey>,
    readonly now: () => number = () => Date.now(),
  ) {}

  /**
   * First use of `uid`: a free derived accid, registered at NetEase, and an RTC uid claimed for
   * life. When creations are paced, the Worker has already waited for this uid's turn.
   */
  async provision(uid: string): Promise<AccountRecord> {
    const { accid: derived, generation } = await this.#freeDerivedAccid(uid, 0);
    const { accid } = await this.nim.createAccount(derived);
    return { ...newAccountRecord(accid, this.now()), generation, rtcUid: await this.#claimRtcUid(uid) };
  }

  /** `current` with an RTC uid: for records written before RTC tokens existed, and bound ones. */
  async withRtcUid(uid: string, current: AccountRecord): Promise<AccountRecord> {
    if (current.rtcUid !== undefined) return current;
    return { ...current, rtcUid: await this.#claimRtcUid(uid), updatedAt: this.now() };
  }

  /**
   * Binds an accid that already exists at NetEase. `registered` says the caller has already seen
   * the accid at NetEase (an import checks rows in batches), so it is not asked again.
   */
  async bind(
    uid: string,
    accid: string,
    current: AccountRecord | null,
    registered: boolean,
  ): Promise<{ record: AccountRecord; outcome: BindOutcome }> {
    const conflict = bindConflict(uid, accid, current, await this.store.uidForAccid(accid));
    if (conflict === "already_bound") return { record: current!, outcome: "already_bound" };
    if (conflict) throw new DomainError("account_conflict", { detail: conflict, reason: conflict });
    if (!registered && !(await this.nim.existingAccounts([accid])).has(accid)) {
      throw new DomainError("accid_not_registered");
    }
    return { record: newAccountRecord(accid, this.now()), outcome: "bound" };
  }

  /** Blocks (with `kick`, disconnecting live sessions) or unblocks the current accid at NetEase. */
  async setStatus(current: AccountRecord, status: AccountRecord["status"], kick: boolean): Promise<AccountRecord> {
    if (status === "blocked") await this.nim.blockAccount(current.accid, kick);
    else await this.nim.unblockAccount(current.accid);
    return { ...current, status, updatedAt: this.now() };
  }

  /**
   * `current` revoked now: app sessions and dynamic tokens issued before this moment stop working. A
   * revocation never moves the time back (another location's clock may be a little behind).
   */
  revoked(current: AccountRecord): AccountRecord {
    const now = this.now();
    return { ...current, revokedBefore: Math.max(now, current.revokedBefore ?? 0), updatedAt: now };
  }

  /** Disconnects the current accid's live sessions at NetEase, leaving its state as recorded. */
  kick(current: AccountRecord): Promise<void> {
    return this.nim.kickAccount(current.accid, current.status === "blocked");
  }

  /** Whether a failed kick of `current` may have left it blocked at NetEase (then it is owed an unblock). */
  kickMayLeaveBlocked(current: AccountRecord): boolean {
    return this.nim.kickMayLeaveBlocked && current.status === "active";
  }

  /** Unblocks `accid` at NetEase: an unblock owed after a failed kick. */
  unblock(accid: string): Promise<void> {
    return this.nim.unblockAccount(accid);
  }

  /**
   * Moves the uid to the next free derived accid: registers it, then blocks the old one (with kick).
   * `pending` is told the new accid before NetEase is asked, so an interruption between the two
   * calls leaves a registration the object can undo (`rollBack`). 409 for a blocked account: rotation
   * would otherwise quietly lift the block.
   */
  async rotate(
    uid: string,
    current: AccountRecord,
    pending: (registration: PendingAccid) => void,
  ): Promise<AccountRecord> {
    if (current.status === "blocked") {
      throw new DomainError("account_conflict", {
        detail: "rotate of a blocked account",
        reason: "The account is blocked; unblock it before rotating.",
      });
    }
    const next = await this.#freeDerivedAccid(uid, current.generation + 1);
    pending(next);
    const { accid, created } = await this.nim.createAccount(next.accid);
    // Already registered: an earlier attempt got that far. If it was then undone (blocked) but the
    // object stopped before recording that, the accid is still blocked at NetEase; make sure it is not.
    if (!created) await this.nim.unblockAccount(accid);
    await this.nim.blockAccount(current.accid, true);
    return { ...current, accid, generation: next.generation, status: "active", updatedAt: this.now() };
  }

  /**
   * Undoes a registration no record names (a rotation that failed after registering): blocks the
   * accid at NetEase if it exists there, so no account outside the records can log in, and moves
   * `current`'s generation past it so it is never handed out. Returns the record to commit.
   *
   * The record keeps naming `current.accid` as active, so that accid must be usable at NetEase: the
   * rotation's block of it may have been applied even though the call failed (a timeout or a 5xx
   * after NetEase acted), which would lock the user out while every view says active. It is
   * unblocked again, which is a no-op when the block never happened.
   */
  async rollBack(current: AccountRecord, registration: PendingAccid): Promise<AccountRecord> {
    if ((await this.nim.existingAccounts([registration.accid])).has(registration.accid)) {
      await this.nim.blockAccount(registration.accid, true);
    }
    if (current.status === "active") await this.nim.unblockAccount(current.accid);
    const generation = Math.max(current.generation, registration.generation);
    return { ...current, generation, updatedAt: this.now() };
  }

  /**
   * The first derived accid from `generation` on that no other uid owns. An operator may have bound
   * another uid to a stock accid equal to a derived one; two users must never share an IM account.
   */
  async #freeDerivedAccid(uid: string, generation: number): Promise<PendingAccid> {
    const key = await this.derivationKey;
    for (let attempt = 0; attempt < LIMITS.accidGenerationAttempts; attempt++, generation++) {
      const accid = await deriveAccid(key, uid, generation);
      const owner = await this.store.uidForAccid(accid);
      if (owner === null || owner === uid) return { accid, generation };
    }
    throw new Error("no free derived accid");
  }

  /** Finds the first RTC uid candidate no other uid owns, and claims it (reverse mapping first). */
  async #claimRtcUid(uid: string): Promise<number> {
    const key = await this.derivationKey;
    for (let attempt = 0; attempt < LIMITS.rtcUidAttempts; attempt++) {
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

/**
 * Why `uid` cannot be bound to `accid` given the uid's current record and the accid's owner:
 * "already_bound" when the pair is already in place, a conflict message, or undefined when free.
 */
export function bindConflict(
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
