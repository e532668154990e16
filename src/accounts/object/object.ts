/**
 * The account object: one SQLite-backed Durable Object per uid, the single writer of that uid's account.
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
 * The object takes its settings from the same Env as the Worker (one script, one set of secrets), and
 * builds only what a change needs: the KV records, the NetEase client and the derivation key (not the
 * Worker's HTTP runtime, with its session verifier and caches).
 *
 * This folder is the one home of account writes: the class (`entry.ts`), what it does (here), its SQLite tables (`ledger.ts`),
 * its change logic (`changes.ts`), its derivations (`derive.ts`), what crosses RPC (`results.ts`),
 * and the Worker's typed client (`client.ts`).
 */

import { ConfigError, loadSettingParsers, parseAccountsConfig } from "../../config.ts";
import { TIMING } from "../../core/constants.ts";
import { DomainError, type DomainErrorKind } from "../../core/errors.ts";
import { logLine } from "../../core/log.ts";
import { Metrics } from "../../core/metrics.ts";
import type { Env } from "../../env.ts";
import {
  type AccountEvent,
  type AccountEventData,
  accountEvent,
  EVENT_TYPES,
  type EventOperation,
} from "../../events/event.ts";
import type { EventSettings } from "../../events/settings.ts";
import { nimServerApi } from "../../nim/connect.ts";
import { type AccountId, type AccountRecord, revisionOf } from "../record.ts";
import { AccountStore } from "../store.ts";
import { AccountChanges, type BindOutcome, type PendingAccid } from "./changes.ts";
import { importDerivationKey } from "./derive.ts";
import { AccountLedger } from "./ledger.ts";
import type { HistoryPage, ObjectResult, OperationOptions, Revocation } from "./results.ts";

/** What a change needs, built once per isolate from the Env. */
interface Dependencies {
  store: AccountStore;
  changes: AccountChanges;
  /** Where committed changes are queued as events; undefined: events are off. */
  events: EventSettings | undefined;
}

const built = new WeakMap<object, Map<string, Dependencies> | ConfigError>();

/**
 * The dependencies for `app`'s accounts under `env`, built once per isolate from what the object
 * parses (config.ts `parseAccountsConfig`), or the ConfigError saying why they cannot be built.
 */
async function dependenciesFor(env: Env, app: string): Promise<Dependencies | ConfigError> {
  let apps = built.get(env);
  if (!apps) {
    const parsers = await loadSettingParsers(env, true);
    try {
      const config = parseAccountsConfig(env, parsers);
      apps = new Map(
        [...config.apps].map(([name, settings]) => {
          const store = new AccountStore(config.accounts, name);
          const nim = nimServerApi(settings, new Metrics(config.metrics, name));
          const changes = new AccountChanges(store, nim, importDerivationKey(settings.accidSecret));
          return [name, { store, changes, events: config.events }];
        }),
      );
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      apps = error;
    }
    // Another call may have built them meanwhile: either is the same, keep the first.
    apps = built.get(env) ?? apps;
    built.set(env, apps);
  }
  if (apps instanceof ConfigError) return apps;
  return apps.get(app) ?? new ConfigError([{ name: "app", problem: "invalid", rule: `no NetEase app named ${app}` }]);
}

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
  store: AccountStore;
  changes: AccountChanges;
  events: EventSettings | undefined;
  /** A change was committed during this operation. */
  committed?: boolean;
  /** What the event of this operation's change says, set once `work` starts (not for leftovers). */
  event?: PendingEvent;
}

/** The event of the change an operation is about to commit (`#commit` writes it with the change). */
interface PendingEvent {
  operation: EventOperation;
  app: string;
  operator: string;
  requestId: string | undefined;
  /** Known before the change (a sign-out's kick: `pending` until NetEase answers). */
  initial: Partial<AccountEventData>;
  /** The event written by `#commit`, once it is. */
  written?: AccountEvent;
}

/** How an operation goes into the uid's history. */
interface Audit<T> {
  operation: string;
  detail?: string;
  operator: string;
  /** The outcome of a success; "done" when absent. */
  outcome?: (value: T) => string;
  /**
   * What the event of the change says beyond the record: before the change is committed (`initial`),
   * and once the operation has finished (`final`), which replaces it in an event not yet queued.
   */
  event?: { initial?: Partial<AccountEventData>; final?: (value: T) => Partial<AccountEventData> };
  /** No event for this change (`OperationOptions.quiet`). */
  quiet?: boolean;
}

/** Whether an operation's committed change is an event (`events/event.ts`): not an RTC uid assigned. */
function isEventOperation(operation: string): operation is EventOperation {
  return Object.hasOwn(EVENT_TYPES, operation);
}

/** The operator of a change a user's own request made (first use, RTC uid, signing out everywhere). */
const USER = "user";

function operatorOf(options: OperationOptions): string {
  return options.operator ?? "system";
}

/**
 * What the Durable Object class bound as ACCOUNT_OBJECTS (`entry.ts`; one instance per uid,
 * `idFromName(uid)`) does: the class itself only loads this module on its first call, so that a
 * Worker isolate that issues tokens never compiles it.
 */
export class AccountOperations {
  /** The tail of the queue: each operation starts when the one before it has settled. */
  #tail: Promise<unknown> = Promise.resolve();
  readonly #ledger: AccountLedger;
  /** When this instance last wrote its record to KV again for a caller that missed it (ms). */
  #lastRewrite = Number.NEGATIVE_INFINITY;
  /** The outbox being sent to the queue, if it is (one send at a time; `#sendEvents`). */
  #sending: Promise<void> | undefined;
  /** More events were written while a send was under way: send again when it ends. */
  #sendAgain = false;

  constructor(
    readonly ctx: DurableObjectState,
    readonly env: Env,
  ) {
    this.#ledger = new AccountLedger(ctx.storage.sql);
  }

  get({ app, uid }: AccountId): Promise<ObjectResult<AccountRecord | null>> {
    return this.#operate({ app, uid }, undefined, "", async (current) => current.record);
  }

  /**
   * The uid's audit trail, newest first: at most `limit` entries older than the entry `before`.
   * Read outside the queue: each entry is written with the change it records, so a page never shows
   * half a change, and an operator looking at history is not held behind a slow NetEase call.
   */
  history({ uid }: AccountId, limit: number, before?: number): ObjectResult<HistoryPage> {
    const entry = this.#ledger.read();
    if (entry && entry.uid !== uid)
      return { ok: false, kind: "internal", detail: "account object called for another uid" };
    return { ok: true, value: this.#ledger.history(limit, before) };
  }

  provision({ app, uid }: AccountId): Promise<ObjectResult<{ record: AccountRecord; created: boolean }>> {
    return this.#operate(
      { app, uid },
      undefined,
      "",
      async (current) => {
        if (current.record) {
          // The caller's KV read missed a record this object holds: a stale replica, or a key lost.
          // Writing it again is idempotent, and heals the second case. Once a minute at most: a burst
          // of first requests from locations KV has not reached yet would otherwise write the same
          // key many times a second, which KV refuses.
          const now = Date.now();
          if (now - this.#lastRewrite >= TIMING.accountCacheTtlMs) {
            this.#lastRewrite = now;
            await this.#writeKv(current, true);
          }
          return { record: current.record, created: false };
        }
        const record = await this.#commit(current, await current.changes.provision(uid), { accidChanged: true });
        return { record, created: true };
      },
      { operation: "create", operator: USER },
    );
  }

  withRtcUid({ app, uid }: AccountId): Promise<ObjectResult<AccountRecord>> {
    return this.#operate(
      { app, uid },
      undefined,
      "",
      async (current) => {
        const record = existing(current);
        if (record.rtcUid !== undefined) return record;
        return this.#commit(current, await current.changes.withRtcUid(uid, record), { accidChanged: false });
      },
      { operation: "assign_rtc_uid", operator: USER },
    );
  }

  bind(
    { app, uid }: AccountId,
    accid: string,
    options: OperationOptions & { registered?: boolean },
  ): Promise<ObjectResult<{ record: AccountRecord; outcome: BindOutcome }>> {
    return this.#operate(
      { app, uid },
      options.requestId,
      `bind ${accid}`,
      async (current) => {
        const bound = await current.changes.bind(uid, accid, current.record, options.registered === true);
        if (bound.outcome === "already_bound") return bound;
        return { ...bound, record: await this.#commit(current, bound.record, { accidChanged: true }) };
      },
      {
        // The import binds with `registered` (it asked NetEase in bulk first).
        operation: options.registered ? "import" : "bind",
        detail: accid,
        operator: operatorOf(options),
        outcome: (bound) => bound.outcome,
        quiet: options.quiet === true,
      },
    );
  }

  block({ app, uid }: AccountId, kick: boolean, options: OperationOptions): Promise<ObjectResult<AccountRecord>> {
    return this.#operate(
      { app, uid },
      options.requestId,
      `block ${kick}`,
      async (current) => {
        const record = await current.changes.setStatus(existing(current), "blocked", kick);
        return this.#commit(current, record, { accidChanged: false });
      },
      { operation: "block", detail: kick ? "kick" : "no kick", operator: operatorOf(options) },
    );
  }

  unblock({ app, uid }: AccountId, options: OperationOptions): Promise<ObjectResult<AccountRecord>> {
    return this.#operate(
      { app, uid },
      options.requestId,
      "unblock",
      async (current) => {
        const record = await current.changes.setStatus(existing(current), "active", false);
        return this.#commit(current, record, { accidChanged: false });
      },
      { operation: "unblock", operator: operatorOf(options) },
    );
  }

  rotate(
    { app, uid }: AccountId,
    options: OperationOptions,
  ): Promise<ObjectResult<{ record: AccountRecord; previousAccid: string }>> {
    return this.#operate(
      { app, uid },
      options.requestId,
      "rotate",
      async (current) => {
        const before = existing(current);
        try {
          const rotated = await current.changes.rotate(uid, before, (registration) =>
            this.#setPending(current, registration),
          );
          const record = await this.#commit(current, rotated, { accidChanged: true, clearsPending: true });
          return { record, previousAccid: before.accid };
        } catch (error) {
          if (current.pending) await this.#tryRollBack(current);
          throw error;
        }
      },
      { operation: "rotate", operator: operatorOf(options) },
    );
  }

  /**
   * Revokes the uid's sessions and dynamic tokens issued before now (see `AccountChanges.revoked`),
   * then, with `kick`, disconnects its live IM sessions at NetEase. The revocation is committed
   * first and stands whatever the kick does: NetEase being down must not keep a revoked session
   * alive on this service. A failed kick is reported (`kick: "failed"`) for the operator to repeat.
   */
  revoke({ app, uid }: AccountId, kick: boolean, options: OperationOptions): Promise<ObjectResult<Revocation>> {
    return this.#operate(
      { app, uid },
      options.requestId,
      `revoke ${kick}`,
      async (current) => {
        const record = await this.#commit(current, current.changes.revoked(existing(current)), {
          accidChanged: false,
        });
        if (!kick) return { record, kick: "not_requested" };
        try {
          await current.changes.kick(record);
          return { record, kick: "done" };
        } catch (error) {
          if (current.changes.kickMayLeaveBlocked(record)) {
            this.#ledger.oweUnblock(record.accid);
            await this.#payOwedUnblocks(current);
          }
          const detail = error instanceof DomainError ? error.kind : "error";
          logLine("warn", { event: "kick_failed", uid, accid: record.accid, detail });
          return { record, kick: "failed" };
        }
      },
      {
        operation: "revoke",
        detail: kick ? "kick" : "no kick",
        operator: operatorOf(options),
        outcome: (revocation) => (revocation.kick === "failed" ? "kick:failed" : "done"),
        event: {
          initial: { kick: kick ? "pending" : "not_requested" },
          final: (revocation) => ({ kick: revocation.kick }),
        },
      },
    );
  }

  /** Finishes what an earlier operation left: KV writes that failed, a registration to undo. */
  async alarm(): Promise<void> {
    const entry = this.#ledger.read();
    if (!entry) return;
    await this.#operate({ app: this.#ledger.app(), uid: entry.uid }, undefined, "", async () => null);
    await this.#sending;
    const after = this.#ledger.read();
    const waiting = after && (after.kvPending || after.pending || this.#ledger.owedUnblocks().length > 0);
    // From what is stored, not from this instance's memory: an object evicted with events unsent
    // wakes to this alarm as a new instance.
    if (waiting || this.#ledger.outboxSize() > 0) {
      await this.ctx.storage.setAlarm(Date.now() + TIMING.kvResyncRetryMs);
    }
  }

  /**
   * Runs one operation for `uid` after every earlier one has settled: replays a repeated request id,
   * finishes leftovers, then `work` against the committed copy. With `audit`, the operation goes into
   * the uid's history: always when asked for by an operator (with a request id: done, failed or
   * replayed), and otherwise only when it changed the record (a user's first request).
   */
  #operate<T>(
    id: AccountId,
    requestId: string | undefined,
    operation: string,
    work: (current: Current) => Promise<T>,
    audit?: Audit<T>,
  ): Promise<ObjectResult<T>> {
    const run = async (): Promise<ObjectResult<T>> => {
      const replay = requestId === undefined ? undefined : this.#ledger.replay<T>(requestId, operation, Date.now());
      // Marked, so the Worker neither caches the first result's record (it may be older than the
      // committed one: unblock, block, then a replayed unblock) nor audits it as a change.
      if (replay) {
        if (audit) {
          const now = this.#ledger.read()?.record ?? null;
          this.#audit(audit, requestId, { outcome: "replayed", replayed: true, before: now, after: now });
        }
        return { ...replay, replayed: true };
      }
      let result: ObjectResult<T>;
      let current: Current | undefined;
      let before: AccountRecord | null = null;
      const app = this.#ledger.app(id.app);
      try {
        const dependencies = await dependenciesFor(this.env, app);
        if (dependencies instanceof ConfigError) {
          throw new DomainError("misconfigured", { detail: "account object: settings unusable" });
        }
        current = await this.#load(id.uid, dependencies);
        before = current.record;
        await this.#finishLeftovers(current);
        if (audit && current.events && !audit.quiet && isEventOperation(audit.operation)) {
          current.event = {
            operation: audit.operation,
            app,
            operator: audit.operator,
            requestId,
            initial: audit.event?.initial ?? {},
          };
        }
        result = { ok: true, value: await work(current) };
      } catch (error) {
        result = toResult(error);
      }
      if (audit && (requestId !== undefined || current?.committed)) {
        const outcome = result.ok ? (audit.outcome?.(result.value) ?? "done") : `failed:${result.kind}`;
        this.#audit(audit, requestId, { outcome, replayed: false, before, after: current?.record ?? before });
        // The event was written with the change; what the operation learned since (a kick's result)
        // replaces what it said then, while it waits to be queued.
        const written = current?.event?.written;
        if (written && result.ok && (outcome !== written.data.outcome || audit.event?.final)) {
          const data = { ...written.data, outcome, ...audit.event?.final?.(result.value) };
          this.#ledger.updateEvent({ ...written, data });
        }
      }
      if (requestId !== undefined && (result.ok || SETTLED_FAILURES.has(result.kind))) {
        this.#ledger.remember(requestId, operation, result, Date.now());
      }
      if (current?.events) this.#sendEvents(current.events);
      else if (current && this.#ledger.outboxSize() > 0) {
        // Events were switched off while some waited: they are not wanted any more (as the queue's
        // consumer drops those it holds).
        logLine("warn", { event: "events_off", uid: current.uid, count: this.#ledger.outboxSize() });
        this.#ledger.clearOutbox();
      }
      return result;
    };
    const result = this.#tail.then(run, run);
    this.#tail = result.catch(() => {});
    return result;
  }

  #audit<T>(
    audit: Audit<T>,
    requestId: string | undefined,
    what: { outcome: string; replayed: boolean; before: AccountRecord | null; after: AccountRecord | null },
  ): void {
    const side = (record: AccountRecord | null) => record && { status: record.status, accid: record.accid };
    this.#ledger.record({
      at: Date.now(),
      operator: audit.operator,
      operation: audit.operation,
      ...(audit.detail === undefined ? {} : { detail: audit.detail }),
      ...(requestId === undefined ? {} : { requestId }),
      outcome: what.outcome,
      replayed: what.replayed,
      before: side(what.before),
      after: side(what.after),
    });
  }

  /**
   * Sends the outbox to the queue, after the operation has answered: a slow queue must not hold up
   * a user's first token or the operations queued behind it. One send at a time; events written
   * meanwhile go in the next.
   */
  #sendEvents(events: EventSettings): void {
    if (this.#sending) {
      this.#sendAgain = true;
      return;
    }
    this.#sending = (async () => {
      do {
        this.#sendAgain = false;
        await this.#queueEvents(events);
      } while (this.#sendAgain);
    })().finally(() => {
      this.#sending = undefined;
    });
    this.ctx.waitUntil(this.#sending);
  }

  /**
   * Queues the outbox's events, a batch at a time, forgetting each batch once queued. Queues is
   * down: they stay, and the alarm tries again (events keep their ids, so a retry after a send whose
   * answer was lost is a repeat the receiver drops).
   */
  async #queueEvents(events: EventSettings): Promise<void> {
    for (let waiting = this.#ledger.outbox(); waiting.length > 0; waiting = this.#ledger.outbox()) {
      try {
        await events.queue.sendBatch(waiting.map((event) => ({ body: event, contentType: "json" as const })));
      } catch (error) {
        const detail = error instanceof Error ? error.name : "error";
        logLine("warn", { event: "event_queue_deferred", count: this.#ledger.outboxSize(), detail });
        await this.ctx.storage.setAlarm(Date.now() + TIMING.kvResyncDelayMs);
        return;
      }
      this.#ledger.queued(waiting.map((event) => event.id));
    }
  }

  /**
   * The committed copy. On the object's first operation there is none yet: the record then comes
   * from KV once (written before objects existed, or by the KV import script) and is adopted.
   */
  async #load(uid: string, { store, changes, events }: Dependencies): Promise<Current> {
    const entry = this.#ledger.read();
    if (entry) {
      if (entry.uid !== uid) throw new Error("account object called for another uid");
      return { uid, record: entry.record, pending: entry.pending, store, changes, events };
    }
    const record = await store.get(uid);
    if (record) this.#ledger.adopt(uid, record);
    return { uid, record, pending: null, store, changes, events };
  }

  async #finishLeftovers(current: Current): Promise<void> {
    if (current.pending) await this.#tryRollBack(current);
    await this.#payOwedUnblocks(current);
    if (this.#ledger.read()?.kvPending && current.record) await this.#writeKv(current, true);
  }

  /**
   * Undoes the pending registration (see `AccountChanges.rollBack`) and commits the moved generation.
   * If NetEase cannot be asked now, the registration stays noted and an alarm tries again.
   */
  async #tryRollBack(current: Current): Promise<void> {
    const pending = current.pending!;
    try {
      const record = await current.changes.rollBack(existing(current), pending);
      await this.#commit(current, record, { accidChanged: false, clearsPending: true });
      logLine("warn", { event: "rotation_rolled_back", uid: current.uid, accid: pending.accid });
    } catch {
      await this.ctx.storage.setAlarm(Date.now() + TIMING.kvResyncDelayMs);
    }
  }

  /**
   * Unblocks at NetEase what a failed v1 kick may have left blocked, if the record still names that
   * accid as active (a block or rotation since then wants it blocked). If NetEase cannot be asked
   * now, the debt stays and an alarm tries again.
   */
  async #payOwedUnblocks(current: Current): Promise<void> {
    for (const accid of this.#ledger.owedUnblocks()) {
      const wanted = current.record?.accid === accid && current.record.status === "active";
      try {
        if (wanted) await current.changes.unblock(accid);
        this.#ledger.settleUnblock(accid);
      } catch {
        await this.ctx.storage.setAlarm(Date.now() + TIMING.kvResyncDelayMs);
      }
    }
  }

  #setPending(current: Current, registration: PendingAccid): void {
    this.#ledger.setPending(registration);
    current.pending = registration;
  }

  /** Commits `record` with the next revision: to storage first, then KV. */
  async #commit(
    current: Current,
    record: AccountRecord,
    how: { accidChanged: boolean; clearsPending?: boolean },
  ): Promise<AccountRecord> {
    const committed: AccountRecord = { ...record, revision: (current.record ? revisionOf(current.record) : 0) + 1 };
    if (how.clearsPending) current.pending = null;
    this.#ledger.commit(current.uid, committed, current.pending);
    // In the same synchronous step as the change (one transaction): committed together or not at all.
    const pending = current.event;
    if (pending && !pending.written) {
      pending.written = accountEvent(pending.operation, Date.now(), {
        app: pending.app,
        uid: current.uid,
        accid: committed.accid,
        status: committed.status,
        revision: revisionOf(committed),
        outcome: pending.operation === "bind" || pending.operation === "import" ? "bound" : "done",
        operator: pending.operator,
        ...(pending.requestId === undefined ? {} : { requestId: pending.requestId }),
        ...(pending.operation === "rotate" && current.record ? { previousAccid: current.record.accid } : {}),
        ...pending.initial,
      });
      this.#ledger.addEvent(pending.written);
    }
    current.record = committed;
    current.committed = true;
    await this.#writeKv(current, how.accidChanged);
    return committed;
  }

  /** Writes the committed record to KV; on failure leaves it marked and sets an alarm to try again. */
  async #writeKv(current: Current, accidChanged: boolean): Promise<void> {
    const { uid, record, store } = current;
    try {
      if (accidChanged) await store.put(uid, record!);
      else await store.putRecord(uid, record!);
      this.#ledger.kvWritten();
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

function toResult(error: unknown): ObjectResult<never> {
  if (error instanceof DomainError) {
    const { kind, detail, reason, retryAfter } = error;
    return { ok: false, kind, detail, reason, ...(retryAfter === undefined ? {} : { retryAfter }) };
  }
  logLine("error", { event: "account_object_error", detail: error instanceof Error ? error.name : typeof error });
  return { ok: false, kind: "internal" };
}
