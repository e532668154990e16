/**
 * The Worker's side of the per-uid Durable Objects that are the single writers of account records.
 *
 * Every change to a uid's record (first-time provisioning, RTC uid assignment, bind, block, unblock,
 * rotate, import rows) is one call to the object named by that uid, which runs its calls one at a
 * time against the copy in its own storage. Reads on the token path stay on KV and the isolate cache.
 *
 * A thrown error does not survive an RPC boundary as its own class, so the object answers with a
 * plain result (`ObjectAnswer`) and this module turns a failure back into the `DomainError` it was.
 */

import type { ObjectNamespace } from "../config.ts";
import { DomainError, type DomainErrorKind } from "../errors.ts";
import type { AccountRecord } from "./record.ts";
import type { BindOutcome } from "./writer.ts";

/** An operation's result as it crosses the RPC boundary. `internal` is a fault in the object itself. */
export type ObjectAnswer<T> =
  | { ok: true; value: T; replayed?: boolean }
  | { ok: false; kind: DomainErrorKind | "internal"; detail?: string; reason?: string; replayed?: boolean };

/**
 * An operator action's outcome. `replayed` means a repeated X-Request-Id: `value` is what the first
 * request was answered, which may be older than the record now (never a copy to cache or act on).
 */
export interface Operated<T> {
  value: T;
  replayed: boolean;
}

/** Per-call options for operator actions. */
export interface OperationOptions {
  /**
   * The request's X-Request-Id. A repeated id for the same operation gets the first result back
   * without acting again (for 24 hours); the same id for a different operation is a conflict.
   */
  requestId?: string;
}

/** The RPC methods of an account's Durable Object (`AccountObject` in src/account-object.ts). */
export interface AccountObjectRpc {
  get(uid: string): Promise<ObjectAnswer<AccountRecord | null>>;
  provision(uid: string): Promise<ObjectAnswer<AccountRecord>>;
  withRtcUid(uid: string): Promise<ObjectAnswer<AccountRecord>>;
  bind(
    uid: string,
    accid: string,
    options: OperationOptions & { registered?: boolean },
  ): Promise<ObjectAnswer<{ record: AccountRecord; outcome: BindOutcome }>>;
  block(uid: string, kick: boolean, options: OperationOptions): Promise<ObjectAnswer<AccountRecord>>;
  unblock(uid: string, options: OperationOptions): Promise<ObjectAnswer<AccountRecord>>;
  rotate(
    uid: string,
    options: OperationOptions,
  ): Promise<ObjectAnswer<{ record: AccountRecord; previousAccid: string }>>;
}

/** Calls the object of a uid and unwraps its answer. Cheap to construct. */
export class AccountObjects {
  constructor(readonly namespace: ObjectNamespace) {}

  /** The authoritative record of `uid`, or null. */
  get(uid: string): Promise<AccountRecord | null> {
    return settle(() => this.#object(uid).get(uid));
  }

  /** The record of `uid`, registering the uid's IM account first if it has none. */
  provision(uid: string): Promise<AccountRecord> {
    return settle(() => this.#object(uid).provision(uid));
  }

  /** The record of `uid` with an RTC uid assigned (404 `account_not_found` without a record). */
  withRtcUid(uid: string): Promise<AccountRecord> {
    return settle(() => this.#object(uid).withRtcUid(uid));
  }

  bind(
    uid: string,
    accid: string,
    options: OperationOptions & { registered?: boolean } = {},
  ): Promise<Operated<{ record: AccountRecord; outcome: BindOutcome }>> {
    return settleOperation(() => this.#object(uid).bind(uid, accid, options));
  }

  block(uid: string, kick: boolean, options: OperationOptions = {}): Promise<Operated<AccountRecord>> {
    return settleOperation(() => this.#object(uid).block(uid, kick, options));
  }

  unblock(uid: string, options: OperationOptions = {}): Promise<Operated<AccountRecord>> {
    return settleOperation(() => this.#object(uid).unblock(uid, options));
  }

  rotate(
    uid: string,
    options: OperationOptions = {},
  ): Promise<Operated<{ record: AccountRecord; previousAccid: string }>> {
    return settleOperation(() => this.#object(uid).rotate(uid, options));
  }

  #object(uid: string): AccountObjectRpc {
    // The namespace is untyped here so that this layer does not import the object's class (which
    // sits above it); AccountObject implements AccountObjectRpc, checked where it is declared.
    return this.namespace.get(this.namespace.idFromName(uid)) as unknown as AccountObjectRpc;
  }
}

async function settle<T>(call: () => Promise<ObjectAnswer<T>>): Promise<T> {
  return (await settleOperation(call)).value;
}

async function settleOperation<T>(call: () => Promise<ObjectAnswer<T>>): Promise<Operated<T>> {
  let answer: ObjectAnswer<T>;
  try {
    answer = await call();
  } catch (error) {
    // The object could not be reached or was reset mid-call (deploys, overload): Cloudflare's own
    // fault, retryable. Whether the change happened is unknown; a retry with the same X-Request-Id
    // is answered from the object's record of it.
    const detail = `account object: ${error instanceof Error ? error.message.slice(0, 120) : "error"}`;
    throw new DomainError("storage_unavailable", detail);
  }
  if (answer.ok) return { value: answer.value, replayed: answer.replayed === true };
  if (answer.kind === "internal") throw new Error(answer.detail ?? "account object failed");
  throw new DomainError(answer.kind, answer.detail, answer.reason);
}
