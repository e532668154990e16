/**
 * What an account change tells the app's backend: one event per committed change, in the shape the
 * Standard Webhooks spec suggests (`type`, `timestamp`, `data`), with a stable id that is also its
 * `webhook-id` on every delivery attempt, so a receiver drops repeats. Never a token or a secret: the
 * uid, the accid, what was done, how it ended, who did it and the request id.
 */

/** Every event type, by the operation of the account object (`object.ts`) that commits it. */
export const EVENT_TYPES = {
  create: "account.created",
  block: "account.blocked",
  unblock: "account.unblocked",
  rotate: "account.rotated",
  revoke: "account.signed_out",
  bind: "account.bound",
  import: "account.imported",
} as const;

/** An operation that emits an event. */
export type EventOperation = keyof typeof EVENT_TYPES;
/** An event's `type`. */
export type AccountEventType = (typeof EVENT_TYPES)[EventOperation];

/** What happened to one account. */
export interface AccountEventData {
  /** The NetEase app's name in this deployment (`default` for the one-app settings). */
  app: string;
  uid: string;
  /** The account's accid after the change. */
  accid: string;
  status: "active" | "blocked";
  /** The record's revision after the change: a receiver orders one uid's events by it. */
  revision: number;
  /** The operation's outcome, as the uid's history records it (`done`, `bound`, `kick:failed`, …). */
  outcome: string;
  /** Who: an operator's email, `admin token`, `user` (the user's own request) or `system`. */
  operator: string;
  /** The operator request's X-Request-Id; absent for a user's own request. */
  requestId?: string;
  /** A rotation's accid before it. */
  previousAccid?: string;
  /**
   * A sign-out's kick at NetEase: `done`, `failed` (the operator should repeat it), `not_requested`,
   * or `pending` when the object stopped before NetEase answered (rare; repeat the sign-out to know).
   */
  kick?: "done" | "failed" | "not_requested" | "pending";
}

/** One event, as queued and as delivered (the JSON body of the webhook). */
export interface AccountEvent {
  /** `evt_` and 32 hex digits: the `webhook-id` of every attempt (no `.`, which the signed content uses). */
  id: string;
  type: AccountEventType;
  /** When the change was committed, ISO 8601. */
  timestamp: string;
  data: AccountEventData;
}

/** A new event for a change committed at `at` (ms). */
export function accountEvent(operation: EventOperation, at: number, data: AccountEventData): AccountEvent {
  return {
    id: `evt_${crypto.randomUUID().replaceAll("-", "")}`,
    type: EVENT_TYPES[operation],
    timestamp: new Date(at).toISOString(),
    data,
  };
}

const EVENT_ID = /^evt_[0-9a-f]{32}$/;
const TYPES: ReadonlySet<string> = new Set(Object.values(EVENT_TYPES));

const DATA_TEXT = ["app", "uid", "accid", "outcome", "operator"] as const;
const DATA_OPTIONAL_TEXT = ["requestId", "previousAccid"] as const;
const DATA_KEYS: ReadonlySet<string> = new Set([...DATA_TEXT, ...DATA_OPTIONAL_TEXT, "status", "revision", "kick"]);
const KICKS: ReadonlySet<unknown> = new Set(["done", "failed", "not_requested", "pending"]);

/**
 * Whether a value is an event in exactly the shape this Worker writes: what a queue message or a
 * parked event holds is signed and sent on, so nothing else (a bug's output, a file written to the
 * bucket by other means) is.
 */
export function isAccountEvent(value: unknown): value is AccountEvent {
  if (typeof value !== "object" || value === null) return false;
  const { id, type, timestamp, data, ...rest } = value as Partial<AccountEvent>;
  if (Object.keys(rest).length > 0) return false;
  if (typeof id !== "string" || !EVENT_ID.test(id) || typeof type !== "string" || !TYPES.has(type)) return false;
  if (typeof timestamp !== "string" || Number.isNaN(Date.parse(timestamp))) return false;
  if (typeof data !== "object" || data === null) return false;
  const fields = data as unknown as Record<string, unknown>;
  return (
    Object.keys(fields).every((key) => DATA_KEYS.has(key)) &&
    DATA_TEXT.every((key) => typeof fields[key] === "string") &&
    DATA_OPTIONAL_TEXT.every((key) => fields[key] === undefined || typeof fields[key] === "string") &&
    (fields.status === "active" || fields.status === "blocked") &&
    Number.isSafeInteger(fields.revision) &&
    (fields.kick === undefined || KICKS.has(fields.kick))
  );
}
