/**
 * The Worker's side of the account objects: calls the object named by a uid and unwraps its result.
 *
 * Every change to a uid's record (first-time provisioning, RTC uid assignment, bind, block, unblock,
 * rotate, revoke, import rows) is one call to that uid's object, which runs its calls one at a time against
 * the copy in its own storage. Reads on the token path stay on KV and the isolate cache.
 *
 * A thrown error does not survive an RPC boundary as its own class, so the object results with a
 * plain `ObjectResult` and this module turns a failure back into the `DomainError` it was. The stub's
 * type comes from the class itself (`DurableObjectStub<AccountObject>`), so a method and its caller
 * cannot drift apart.
 *
 * Every result passes through `#settle`, the one place that decides what this isolate's account
 * cache learns from an object: the record an operation committed, so the change is seen here at
 * once, and never a replayed result (see `AccountCache`).
 */

import { DEFAULT_APP, LIMITS } from "../../core/constants.ts";
import { DomainError } from "../../core/errors.ts";
import type { ObjectNamespace } from "../../env.ts";
import type { AccountCache } from "../cache.ts";
import type { AccountId, AccountRecord } from "../record.ts";
import type { BindOutcome } from "./changes.ts";
import type { AccountObject } from "./entry.ts";
import type { HistoryPage, ObjectResult, Operated, OperationOptions, Revocation } from "./results.ts";

/** Calls the object of one app's uid and unwraps its result. Cheap to construct. */
export class AccountObjectClient {
  constructor(
    readonly namespace: ObjectNamespace,
    /** Where committed records are kept for the token path; none for a client that reads nothing back. */
    readonly cache?: AccountCache,
    /** The NetEase app whose accounts this client reaches. */
    readonly app: string = DEFAULT_APP,
  ) {}

  /** The authoritative record of `uid`, or null. */
  async get(uid: string): Promise<AccountRecord | null> {
    return (
      await this.#settle(
        uid,
        (o, id) => o.get(id),
        (record) => record,
      )
    ).value;
  }

  /** The record of `uid`, registering the uid's IM account first if it has none (then `created`). */
  async provision(uid: string): Promise<{ record: AccountRecord; created: boolean }> {
    return (await this.#settle(uid, (o, id) => o.provision(id), withRecord)).value;
  }

  /** The record of `uid` with an RTC uid assigned (404 `account_not_found` without a record). */
  async withRtcUid(uid: string): Promise<AccountRecord> {
    return (
      await this.#settle(
        uid,
        (o, id) => o.withRtcUid(id),
        (record) => record,
      )
    ).value;
  }

  bind(
    uid: string,
    accid: string,
    options: OperationOptions & { registered?: boolean } = {},
  ): Promise<Operated<{ record: AccountRecord; outcome: BindOutcome }>> {
    return this.#settle(uid, (o, id) => o.bind(id, accid, options), withRecord);
  }

  block(uid: string, kick: boolean, options: OperationOptions = {}): Promise<Operated<AccountRecord>> {
    return this.#settle(
      uid,
      (o, id) => o.block(id, kick, options),
      (record) => record,
    );
  }

  unblock(uid: string, options: OperationOptions = {}): Promise<Operated<AccountRecord>> {
    return this.#settle(
      uid,
      (o, id) => o.unblock(id, options),
      (record) => record,
    );
  }

  rotate(
    uid: string,
    options: OperationOptions = {},
  ): Promise<Operated<{ record: AccountRecord; previousAccid: string }>> {
    return this.#settle(uid, (o, id) => o.rotate(id, options), withRecord);
  }

  /** Revokes the uid's sessions and tokens issued before now; with `kick`, kicks its live IM sessions. */
  revoke(uid: string, kick: boolean, options: OperationOptions = {}): Promise<Operated<Revocation>> {
    return this.#settle(uid, (o, id) => o.revoke(id, kick, options), withRecord);
  }

  /** The uid's audit trail, newest first: `limit` entries older than the entry `before`. */
  async history(uid: string, limit: number, before?: number): Promise<HistoryPage> {
    return (
      await this.#settle(
        uid,
        async (o, id) => o.history(id, limit, before),
        () => null,
      )
    ).value;
  }

  /**
   * Calls `uid`'s object and unwraps its result; the record `recordOf` finds in a fresh (not
   * replayed) success goes into the cache.
   */
  async #settle<T>(
    uid: string,
    call: (object: DurableObjectStub<AccountObject>, id: AccountId) => Promise<ObjectResult<T>>,
    recordOf: (value: T) => AccountRecord | null,
  ): Promise<Operated<T>> {
    let result: ObjectResult<T>;
    try {
      // The binding's declared class is AccountObject (wrangler.jsonc; the deploy preflight checks
      // it); config.ts keeps the namespace untyped so that it need not import this folder.
      const id: AccountId = { app: this.app, uid };
      const object = this.namespace.get(this.namespace.idFromName(objectNameOf(id)));
      result = await call(object as DurableObjectStub<AccountObject>, id);
    } catch (error) {
      // The object could not be reached or was reset mid-call (deploys, overload): Cloudflare's own
      // fault, retryable. Whether the change happened is unknown; a retry with the same X-Request-Id
      // is answered from the object's record of it.
      const cause = error instanceof Error ? error.message.slice(0, LIMITS.logDetailChars) : "error";
      throw new DomainError("storage_unavailable", { detail: `account object: ${cause}` });
    }
    if (!result.ok) {
      if (result.kind === "internal") throw new Error(result.detail ?? "account object failed");
      throw new DomainError(result.kind, {
        detail: result.detail,
        reason: result.reason,
        retryAfter: result.retryAfter,
      });
    }
    const replayed = result.replayed === true;
    const record = replayed ? null : recordOf(result.value);
    if (record && this.cache) this.cache.keep(uid, record);
    return { value: result.value, replayed };
  }
}

/**
 * The name of an account's object: the uid itself for the default app (the name every object had
 * before there were apps), else the app's name and the uid apart by a NUL, which no uid holds
 * (core/uid.ts refuses control characters), so no two accounts share an object.
 */
export function objectNameOf(id: AccountId): string {
  return id.app === DEFAULT_APP ? id.uid : `${id.app}\u0000${id.uid}`;
}

function withRecord<T extends { record: AccountRecord }>(value: T): AccountRecord {
  return value.record;
}
