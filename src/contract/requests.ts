/**
 * The HTTP contract's requests, written once as Valibot schemas. From them come the TypeScript types
 * (inferred), the request validation (`http/body-check.ts`) and the OpenAPI document (`openapi.ts`,
 * through `@valibot/to-json-schema`), so the three cannot drift apart. The answers' schemas are in
 * `responses.ts`: the Worker only needs their types, so they are not built at every isolate start.
 *
 * The schemas are built on first use (`lazy.ts`), not at isolate start.
 *
 * Each constrained field's message is phrased as a rule ("ttl must be a whole number of seconds from
 * 60 to 3600."): it is what a caller reads in a 400, and its `description` is what the document shows.
 */

import * as v from "valibot";
import { LIMITS, NIM, RTC_CHANNEL_NAME } from "../core/constants.ts";
import { lazy } from "../core/lazy.ts";
import { UID_CHARACTERS, UID_RULE } from "../core/uid.ts";
import { BODY_NOT_OBJECT } from "./errors.ts";

export { ERROR_CODES, type ErrorCode } from "../../packages/client/src/contract.ts";

const must = (name: string, rule: string) => `${name} must be ${rule}.`;

/** A string field with one rule, stated once for the message (of every check) and the description. */
function ruled(
  name: string,
  rule: string,
  checks: (message: string) => v.PipeItem<string, string, v.BaseIssue<unknown>>[],
) {
  const message = must(name, rule);
  return v.pipe(v.pipe(v.string(message), ...checks(message)), v.description<string, string>(rule));
}

/** A Unix-millisecond time field. */
export const unixMs = (description: string) =>
  v.pipe(v.number(), v.integer(), v.minValue(0), v.description(description));

// ---- requests ----

/** uid: the schema of the uid rule (core/uid.ts), for the admin API's bodies, paths and the OpenAPI document. */
export const uidSchema = lazy(() =>
  ruled("uid", UID_RULE, (message) => [
    v.minLength(1, message),
    v.regex(UID_CHARACTERS, message),
    v.maxBytes(LIMITS.maxUidBytes, message),
    // A URL path normalises `.` and `..` (also as %2E) away, so such a uid could get tokens but
    // never be reached by the admin API: no block, no rotation. Refused everywhere instead.
    v.check((uid) => uid !== "." && uid !== "..", message),
  ]),
);

/**
 * accid as operators may give it: NetEase's rule, any case. NetEase treats accids case-insensitively
 * and stores them lowercased, so the value is lowercased here, before any check or write:
 * `Legacy_Bob` and `legacy_bob` are one account, conflicts included.
 */
export const accidSchema = lazy(() =>
  v.pipe(
    ruled("accid", "1 to 32 letters, digits or _ @ . - (NetEase ignores case)", (message) => [
      v.regex(NIM.accidPattern, message),
    ]),
    v.toLowerCase(),
  ),
);

/** The ttl rule in words, for a range: in the 400 message, the schema and the OpenAPI document alike. */
export function ttlRule(ttl: { min: number; max: number }): string {
  return `a whole number of seconds from ${ttl.min} to ${ttl.max}`;
}

/** The note on a token request's default ttl, in the OpenAPI document. */
export function ttlDefaultNote(seconds: number): string {
  return `ttl defaults to ${seconds} seconds.`;
}

/** An optional `ttl` field: whole seconds within the configured range, the rule stated once. */
function ttlField(ttl: { min: number; max: number }) {
  const rule = ttlRule(ttl);
  const message = must("ttl", rule);
  return v.optional(
    v.pipe(
      v.number(message),
      v.integer(message),
      v.minValue(ttl.min, message),
      v.maxValue(ttl.max, message),
      v.description(rule),
    ),
  );
}

/** `POST /v1/token` body, for the configured ttl range. */
export function tokenRequestSchema(ttl: { min: number; max: number }) {
  return v.strictObject({ ttl: ttlField(ttl) }, BODY_NOT_OBJECT);
}

const CHANNEL_RULE = "1 to 64 characters of a-z A-Z 0-9, space and !#$%&()+-:;<=.>?@[]^_{|}~,";

/** A NERTC channel name. */
export const channelNameSchema = lazy(() =>
  ruled("channelName", CHANNEL_RULE, (message) => [v.regex(RTC_CHANNEL_NAME, message)]),
);

/** `POST /v1/rtc/token` body, for the configured RTC ttl range. */
export function rtcTokenRequestSchema(ttl: { min: number; max: number }) {
  return v.strictObject({ channelName: channelNameSchema(), ttl: ttlField(ttl) }, BODY_NOT_OBJECT);
}

/** A chatroom's id as NetEase gives them (a positive int64), as text: one NetEase does not know is its 404. */
export const ROOM_ID = /^[1-9][0-9]{0,18}$/;

/** `POST /v1/chatroom/address` body. */
export const chatroomAddressRequestSchema = lazy(() =>
  v.strictObject(
    {
      roomId: ruled("roomId", "NetEase's room id: 1 to 19 decimal digits, no leading zero, as a string", (message) => [
        v.regex(ROOM_ID, message),
        // An int64: 19 digits at most 2^63 - 1 (digit strings of one length compare as numbers).
        v.check((id) => id.length < 19 || id <= "9223372036854775807", message),
      ]),
      clientType: v.optional(
        v.pipe(
          v.picklist([1, 2, 3] as const, "clientType must be 1 (weblink), 2 (commonlink) or 3 (wechatlink)."),
          v.description("1 weblink (WebSocket: the Web SDKs; default), 2 commonlink (the native SDKs), 3 wechatlink"),
        ),
      ),
    },
    BODY_NOT_OBJECT,
  ),
);

/** `PUT /admin/v1/accounts/{uid}` body. */
export const bindRequestSchema = lazy(() => v.strictObject({ accid: accidSchema() }, BODY_NOT_OBJECT));

/** A body with one optional `kick` flag (default true: disconnect live IM sessions at NetEase). */
function kickRequestSchema() {
  const rule = "true or false (default true: disconnect live IM sessions)";
  return v.strictObject(
    { kick: v.optional(v.pipe(v.boolean(must("kick", rule)), v.description(rule))) },
    BODY_NOT_OBJECT,
  );
}

/** `POST /admin/v1/accounts/{uid}/block` body. */
export const blockRequestSchema = lazy(kickRequestSchema);

/** `POST /admin/v1/accounts/{uid}/revoke` body. */
export const revokeRequestSchema = lazy(kickRequestSchema);

/** A body that must be empty or `{}`. */
export const emptyRequestSchema = lazy(() => v.strictObject({}, BODY_NOT_OBJECT));

/** One import row. */
export const importRowSchema = lazy(() =>
  v.strictObject({ uid: uidSchema(), accid: accidSchema() }, must("row", "an object {uid, accid}")),
);

/** The import body (JSON array form; NDJSON carries the same rows one per line). */
export const importRequestSchema = lazy(() =>
  v.pipe(
    v.array(v.unknown()),
    v.minLength(1, "The import is empty."),
    v.maxLength(LIMITS.maxImportRows, `At most ${LIMITS.maxImportRows} rows per request; split the import.`),
    v.description(`an array of 1 to ${LIMITS.maxImportRows} rows {uid, accid}`),
  ),
);

/** A whole number in a query string, from `min` to `max`. */
function queryInteger(name: string, min: number, max: number) {
  const message = must(name, `a whole number from ${min} to ${max}`);
  return v.pipe(
    v.string(message),
    v.regex(/^\d{1,16}$/, message),
    v.transform(Number),
    v.number(message),
    v.minValue(min, message),
    v.maxValue(max, message),
  );
}

/** `GET /admin/v1/accounts?accid=…` or `?rtcUid=…`: exactly one of the two. */
export const lookupQuerySchema = lazy(() =>
  v.pipe(
    v.strictObject(
      {
        accid: v.optional(accidSchema()),
        rtcUid: v.optional(queryInteger("rtcUid", 1, Number.MAX_SAFE_INTEGER)),
      },
      "Look up by ?accid= or ?rtcUid= (and nothing else).",
    ),
    v.check(
      (query) => (query.accid === undefined) !== (query.rtcUid === undefined),
      "Look up by exactly one of ?accid= and ?rtcUid=.",
    ),
  ),
);

/** `GET /admin/v1/accounts/{uid}/history?limit=&before=`. */
export const historyQuerySchema = lazy(() =>
  v.strictObject(
    {
      limit: v.optional(queryInteger("limit", 1, LIMITS.historyPageMax), "20"),
      before: v.optional(queryInteger("before", 1, Number.MAX_SAFE_INTEGER)),
    },
    "History takes ?limit= and ?before= only.",
  ),
);

/** `GET /admin/v1/events/dead-letters?limit=&cursor=`. */
export const deadLetterQuerySchema = lazy(() =>
  v.strictObject(
    {
      limit: v.optional(queryInteger("limit", 1, LIMITS.historyPageMax), "50"),
      cursor: v.optional(v.pipe(v.string(), v.maxLength(1024, must("cursor", "the cursor of the previous page")))),
    },
    "Undelivered events take ?limit= and ?cursor= only.",
  ),
);

/** An event's id, as a path parameter: `evt_` and 32 hex digits. */
export const eventIdSchema = lazy(() =>
  v.pipe(v.string(), v.regex(/^evt_[0-9a-f]{32}$/, "An event id is evt_ and 32 hex digits.")),
);

/** `GET /admin/v1/imports?limit=`. */
export const importListQuerySchema = lazy(() =>
  v.strictObject({ limit: v.optional(queryInteger("limit", 1, 100), "20") }, "Imports take ?limit= only."),
);

/** An import's id, as a path parameter: `imp_`, 9 base-36 digits of its time, 16 hex digits. */
export const IMPORT_ID_PATTERN = /^imp_[0-9a-z]{9}[0-9a-f]{16}$/;

/** A file import's body as JSON: an array of rows of any length (NDJSON: one row per line). */
export const importFileSchema = lazy(() => v.array(importRowSchema()));

// ---- types, inferred ----

export type TokenRequest = v.InferOutput<ReturnType<typeof tokenRequestSchema>>;
export type RtcTokenRequest = v.InferOutput<ReturnType<typeof rtcTokenRequestSchema>>;
export type ChatroomAddressRequest = v.InferOutput<ReturnType<typeof chatroomAddressRequestSchema>>;
export type ImportRow = v.InferOutput<ReturnType<typeof importRowSchema>>;

/**
 * The first problem with `issues` as one sentence for a 400: the field's own rule, or the unknown
 * fields. Valibot reports a missing required field with its object's message, so the field's rule is
 * recovered by checking `undefined` against the field's own schema.
 */
export function describeIssues(
  schema: v.GenericSchema,
  issues: readonly [v.BaseIssue<unknown>, ...v.BaseIssue<unknown>[]],
): string {
  const unknown = issues
    .filter((issue) => issue.kind === "schema" && issue.expected === "never")
    .map((issue) => String(issue.path?.at(-1)?.key));
  if (unknown.length > 0) return `Unknown field(s): ${unknown.slice(0, 5).join(", ")}.`;
  const [first] = issues;
  const key = first.path?.at(-1)?.key;
  const entries = (schema as { entries?: Record<string, v.GenericSchema> }).entries;
  if (first.expected === `"${String(key)}"` && entries && typeof key === "string" && entries[key]) {
    const fieldIssue = v.safeParse(entries[key], undefined).issues?.[0];
    if (fieldIssue) return fieldIssue.message;
  }
  return first.message;
}
