/**
 * The HTTP contract's answers, as Valibot schemas: the OpenAPI document publishes them (`openapi.ts`)
 * and the tests check every answer against them. The Worker itself only uses their inferred types,
 * so nothing here runs in it: building these schemas was a measurable share of every isolate's
 * start-up.
 *
 * The token API's types are also published, dependency-free, by the client package
 * (`packages/client/src/contract.ts`), because apps install that package and must not pull in
 * Valibot. The compile-time checks at the bottom of this file fail the type check if the two ever
 * disagree.
 */

import * as v from "valibot";
import type {
  ChatroomAddressRequest as ClientChatroomAddressRequest,
  ChatroomAddressResponse as ClientChatroomAddressResponse,
  ErrorBody as ClientErrorBody,
  RtcTokenRequest as ClientRtcTokenRequest,
  RtcTokenResponse as ClientRtcTokenResponse,
  SessionRevokeResponse as ClientSessionRevokeResponse,
  TokenRequest as ClientTokenRequest,
  TokenResponse as ClientTokenResponse,
} from "../../packages/client/src/contract.ts";
import { ERROR_CODES } from "../../packages/client/src/contract.ts";
import { LIMITS, NIM, RTC_CHANNEL_NAME } from "../core/constants.ts";
import { type ChatroomAddressRequest, ROOM_ID, type RtcTokenRequest, type TokenRequest, unixMs } from "./requests.ts";

/** The fields every token answer shares (IM and NERTC): the token in its envelope, and its times. */
function issuedTokenEntries(kind: string) {
  return {
    token: v.pipe(
      v.string(),
      v.regex(/^[A-Za-z0-9+/]+={0,2}$/),
      v.description(`the ${kind} (base64 of {signature, curTime, ttl})`),
    ),
    appKey: v.pipe(v.string(), v.minLength(1), v.description("the app key the token was signed for")),
    curTime: unixMs("when the token was signed (Unix ms)"),
    ttl: v.pipe(v.number(), v.integer(), v.minValue(1), v.description("lifetime in seconds")),
    expiresAt: unixMs("curTime + ttl * 1000"),
    serverTime: unixMs("the Worker's clock (Unix ms)"),
    refreshAfter: unixMs("fetch a new token after this time (Unix ms)"),
  };
}

/** `POST /v1/token` 200. */
export const tokenResponseSchema = v.strictObject({
  accid: v.pipe(v.string(), v.regex(NIM.accidPattern), v.description("the NetEase IM account id")),
  ...issuedTokenEntries("dynamic token"),
});

/** `POST /v1/chatroom/address` 200. */
export const chatroomAddressResponseSchema = v.strictObject({
  roomId: v.pipe(v.string(), v.regex(ROOM_ID), v.description("the room the addresses are for")),
  accid: v.pipe(
    v.string(),
    v.regex(NIM.accidPattern),
    v.description("the IM account they were asked for: the user's, or an anonymous visitor's nimanon_ id"),
  ),
  addresses: v.pipe(
    v.array(v.string()),
    v.minLength(1),
    v.maxLength(NIM.maxLinkAddresses),
    v.description("the room's link addresses nearest the client, host:port, in NetEase's order"),
  ),
  anonymous: v.pipe(v.boolean(), v.description("whether the visitor entered without a session")),
});

/** `POST /v1/rtc/token` 200. */
export const rtcTokenResponseSchema = v.strictObject({
  uid: v.pipe(
    v.number(),
    v.integer(),
    v.minValue(1),
    v.maxValue(Number.MAX_SAFE_INTEGER),
    v.description("the user's numeric RTC uid, the same on every call"),
  ),
  channelName: v.pipe(v.string(), v.regex(RTC_CHANNEL_NAME), v.description("the channel the token is for")),
  ...issuedTokenEntries("NERTC token"),
  permKey: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^[A-Za-z0-9*_-]+$/),
      v.description("NERTC's advanced permission key (join({permkey}), permissionKey); only with NERTC_PERM_SECRET"),
    ),
  ),
  privilege: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.maxValue(63),
      v.description(
        "the key's privilege bits: 1 send audio, 2 send video, 4 receive audio, 8 receive video, 16 create, 32 join",
      ),
    ),
  ),
  permKeyTtl: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(1),
      v.maxValue(LIMITS.maxPermKeyTtlSeconds),
      v.description("the key's lifetime in seconds, set by the channel policy"),
    ),
  ),
  permKeyExpiresAt: v.optional(unixMs("when the key expires (Unix ms)")),
});

/** Every error body. */
export const errorSchema = v.strictObject({
  error: v.pipe(v.picklist(ERROR_CODES), v.description("a stable error code")),
  message: v.pipe(v.string(), v.description("a human-readable explanation")),
});

/** `GET /`: what this service is, and where its description is. */
export const serviceIndexSchema = v.strictObject({
  name: v.string(),
  version: v.string(),
  description: v.string(),
  links: v.strictObject({ openapi: v.string(), health: v.string(), ready: v.string() }),
});

/** `GET /healthz`. */
export const healthSchema = v.strictObject({
  status: v.picklist(["ok", "misconfigured"]),
  missing: v.optional(v.pipe(v.array(v.string()), v.description("names of missing settings"))),
  invalid: v.optional(v.pipe(v.array(v.string()), v.description("names of invalid settings"))),
});

/** `GET /readyz`: for anyone. */
export const readySchema = v.strictObject({
  status: v.picklist(["ready", "not_ready"]),
  failed: v.pipe(
    v.array(v.picklist(["config", "kv", "netease", "keys"])),
    v.description("the kinds of check that failed (/healthz names a config problem's settings)"),
  ),
});

/** `GET /admin/v1/ready`: for operators. */
export const readinessSchema = v.strictObject({
  status: v.picklist(["ready", "not_ready"]),
  failed: v.pipe(
    v.array(v.string()),
    v.description("the checks that failed: config, kv, netease (netease:<app> for another app), keys:<issuer name>"),
  ),
  checks: v.record(
    v.string(),
    v.strictObject({
      ok: v.boolean(),
      outcome: v.pipe(v.string(), v.description("ok, or what went wrong (e.g. credentials_rejected, unreachable)")),
      latencyMs: v.pipe(v.number(), v.minValue(0)),
    }),
  ),
});

/** `GET /admin/v1/apps`: the NetEase apps the deployment serves. */
export const appListSchema = v.strictObject({
  apps: v.array(
    v.strictObject({
      name: v.pipe(v.string(), v.description("the app's name in paths (/v1/apps/{app}/token)")),
      appKey: v.string(),
      apiVersion: v.picklist(["v1", "v2"]),
      home: v.pipe(v.boolean(), v.description("whether the paths without an app name serve it")),
    }),
  ),
});

/** An account in the admin API. */
export const adminAccountSchema = v.strictObject({
  uid: v.string(),
  accid: v.pipe(v.string(), v.regex(NIM.accidPattern), v.description("the NetEase accid")),
  status: v.picklist(["active", "blocked"]),
  createdAt: unixMs("first bound (Unix ms)"),
  updatedAt: unixMs("last changed (Unix ms)"),
  generation: v.pipe(
    v.number(),
    v.integer(),
    v.minValue(0),
    v.description("the accid's generation: rotations so far, plus any failed rotation's, which is skipped"),
  ),
  outcome: v.optional(v.pipe(v.picklist(["bound", "already_bound"]), v.description("what a bind did (PUT only)"))),
  previousAccid: v.optional(v.pipe(v.string(), v.description("the accid before a rotation (rotate only)"))),
  rtcUid: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(1), v.description("the NERTC uid, once the user has one")),
  ),
  revision: v.optional(
    v.pipe(
      v.number(),
      v.integer(),
      v.minValue(0),
      v.description("changes the uid's account object has committed (absent before its first)"),
    ),
  ),
  revokedBefore: v.optional(
    unixMs("the last revocation (Unix ms): sessions and IM tokens issued before it are refused"),
  ),
  kick: v.optional(
    v.pipe(
      v.picklist(["done", "failed", "not_requested"]),
      v.description(
        "what a revocation's kick of live IM sessions did (revoke only; a failed kick leaves the revocation in force)",
      ),
    ),
  ),
});

const accountSide = v.nullable(v.strictObject({ status: v.picklist(["active", "blocked"]), accid: v.string() }));

/** `GET /admin/v1/accounts/{uid}/history` 200: the uid's audit trail, newest first. */
export const historyResponseSchema = v.strictObject({
  uid: v.string(),
  entries: v.array(
    v.strictObject({
      id: v.pipe(
        v.number(),
        v.integer(),
        v.minValue(1),
        v.description("increasing per uid; pass as ?before= for older"),
      ),
      at: unixMs("when (Unix ms)"),
      operator: v.pipe(
        v.string(),
        v.description(
          'who: an Access email, "service-token:<name>", "admin token", "user" (the uid itself) or "system"',
        ),
      ),
      operation: v.pipe(
        v.picklist(["create", "assign_rtc_uid", "bind", "import", "block", "unblock", "rotate", "revoke"]),
        v.description("what was asked"),
      ),
      detail: v.optional(v.pipe(v.string(), v.description("what else was asked: the accid bound, kick or no kick"))),
      requestId: v.optional(v.string()),
      outcome: v.pipe(
        v.string(),
        v.description("done, bound, already_bound, kick:failed, replayed (a repeated X-Request-Id), or failed:<kind>"),
      ),
      replayed: v.boolean(),
      before: accountSide,
      after: accountSide,
    }),
  ),
  next: v.pipe(v.nullable(v.number()), v.description("the ?before= of the next (older) page; null at the end")),
});

const queryOutcome = v.union([
  v.strictObject({ ok: v.literal(true), rows: v.array(v.record(v.string(), v.union([v.string(), v.number()]))) }),
  v.strictObject({ ok: v.literal(false), error: v.pipe(v.string(), v.description("HTTP <status>, timeout, …")) }),
]);

/** `GET /admin/v1/metrics` 200: the last day's metrics, when reading them back is configured. */
export const metricsResponseSchema = v.union([
  v.strictObject({ configured: v.literal(false) }),
  v.strictObject({
    configured: v.literal(true),
    window: v.literal("24h"),
    queries: v.pipe(
      v.record(v.string(), queryOutcome),
      v.description("tokens, accountsCreated, neteaseFailures, loginCallback, adminChanges"),
    ),
  }),
]);

/** `GET /admin/v1/operator` 200. */
export const operatorResponseSchema = v.strictObject({
  operator: v.pipe(v.string(), v.description('the Access email (or "service-token:<name>"), or "admin token"')),
  via: v.picklist(["access", "admin_token"]),
});

/** `POST /v1/sessions/revoke` 200. */
export const sessionRevokeResponseSchema = v.strictObject({
  revokedBefore: unixMs("sessions issued before this time (Unix ms), and IM tokens signed before it, are refused"),
});

const IMPORT_OUTCOMES = ["bound", "already_bound", "conflict", "invalid"] as const;
const count = v.pipe(v.number(), v.integer(), v.minValue(0));

/** `POST /admin/v1/accounts/import` 200. */
export const importResponseSchema = v.strictObject({
  counts: v.strictObject({ bound: count, already_bound: count, conflict: count, invalid: count }),
  results: v.array(
    v.strictObject({
      line: v.pipe(v.number(), v.integer(), v.minValue(1), v.description("the row's position, from 1")),
      outcome: v.pipe(v.picklist(IMPORT_OUTCOMES), v.description("what happened to the row")),
      uid: v.optional(v.string()),
      accid: v.optional(v.string()),
      message: v.optional(v.string()),
    }),
  ),
});

/** `GET /admin/v1/events/dead-letters` 200: the events that exhausted their delivery attempts. */
export const deadLetterListSchema = v.strictObject({
  configured: v.pipe(v.boolean(), v.description("false while EVENTS_WEBHOOK_URL is unset (events are off)")),
  deadLetters: v.array(
    v.strictObject({
      id: v.pipe(v.string(), v.description("the event's id, its webhook-id on every attempt")),
      type: v.string(),
      app: v.string(),
      uid: v.string(),
      timestamp: v.pipe(v.string(), v.description("when the change happened (ISO 8601)")),
      attempts: count,
      lastError: v.pipe(
        v.string(),
        v.description("status <code>, redirect <code>, timeout, no connection, consumer failed"),
      ),
      parkedAt: v.string(),
    }),
  ),
  cursor: v.pipe(v.nullable(v.string()), v.description("the ?cursor= of the next page; null at the end")),
});

/** `POST /admin/v1/events/dead-letters/{id}/redeliver` 202. */
export const redeliveryResponseSchema = v.strictObject({ id: v.string(), queued: v.literal(true) });

/** The status of a file import, in the import's words (`terminated` is `cancelled`). */
export const IMPORT_STATUSES = [
  "queued",
  "running",
  "pausing",
  "paused",
  "complete",
  "errored",
  "cancelled",
  "unknown",
] as const;

const isoTime = v.pipe(v.string(), v.isoTimestamp());

/** `GET /admin/v1/imports/{id}` 200: a file import as it stands. */
export const importStatusSchema = v.strictObject({
  id: v.string(),
  app: v.string(),
  status: v.picklist(IMPORT_STATUSES),
  rows: v.pipe(count, v.description("rows in the file")),
  counts: v.pipe(
    v.strictObject({
      done: count,
      bound: count,
      unchanged: v.pipe(count, v.description("already bound as given (outcome already_bound)")),
      conflict: count,
      invalid: count,
      failed: v.pipe(count, v.description("could not be checked or bound after every retry: import them again")),
    }),
    v.description("rows done so far, and how they ended"),
  ),
  operator: v.string(),
  createdAt: isoTime,
  startedAt: v.nullable(isoTime),
  updatedAt: v.nullable(isoTime),
  finishedAt: v.nullable(isoTime),
  rowsPerSecond: v.pipe(v.number(), v.minValue(0), v.description("rows done a second since it started")),
  secondsLeft: v.pipe(v.nullable(count), v.description("at that rate, while it runs")),
  countsAgeSeconds: v.optional(v.pipe(count, v.description("how long ago the counts were written"))),
  error: v.optional(v.pipe(v.string(), v.description("why it stopped, when errored"))),
});

/** `GET /admin/v1/imports` 200: the app's latest file imports, newest first. */
export const importListSchema = v.strictObject({ imports: v.array(importStatusSchema) });

/** `POST /admin/v1/imports` 202. */
export const importAcceptedSchema = v.strictObject({
  id: v.string(),
  app: v.string(),
  status: v.literal("queued"),
  rows: count,
  bytes: count,
});

/** `POST /admin/v1/imports/{id}/pause|resume|cancel` 200. */
export const importActionSchema = v.strictObject({ id: v.string(), status: v.picklist(IMPORT_STATUSES) });

/** `POST /v1/nim/login-callback` 200. */
export const loginDecisionSchema = v.strictObject({
  errCode: v.pipe(v.picklist([0, 1]), v.description("0 allows the login, 1 rejects it")),
  responseCode: v.optional(
    v.pipe(v.number(), v.integer(), v.minValue(20000), v.maxValue(20099), v.description("why it was rejected")),
  ),
});

// ---- types, inferred ----

export type TokenResponse = v.InferOutput<typeof tokenResponseSchema>;
export type RtcTokenResponse = v.InferOutput<typeof rtcTokenResponseSchema>;
export type ChatroomAddressResponse = v.InferOutput<typeof chatroomAddressResponseSchema>;
export type ErrorBody = v.InferOutput<typeof errorSchema>;
export type AdminAccount = v.InferOutput<typeof adminAccountSchema>;
export type ImportResponse = v.InferOutput<typeof importResponseSchema>;
export type ImportRowResult = ImportResponse["results"][number];
export type ImportOutcome = ImportRowResult["outcome"];
export type ImportStatus = v.InferOutput<typeof importStatusSchema>;
export type ImportStatusName = (typeof IMPORT_STATUSES)[number];
export type SessionRevokeResponse = v.InferOutput<typeof sessionRevokeResponseSchema>;
export type HistoryResponse = v.InferOutput<typeof historyResponseSchema>;
export type LoginCallbackDecision = v.InferOutput<typeof loginDecisionSchema>;
export type Health = v.InferOutput<typeof healthSchema>;
export type ServiceIndex = v.InferOutput<typeof serviceIndexSchema>;

// ---- the client package publishes the same token API ----

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Assert<T extends true> = T;
/** Fails the type check if the client package's TokenResponse drifts from the schema. */
export type ClientTokenResponseMatches = Assert<Same<TokenResponse, ClientTokenResponse>>;
/** Fails the type check if the client package's TokenRequest drifts from the schema. */
export type ClientTokenRequestMatches = Assert<Same<TokenRequest, ClientTokenRequest>>;
/** Fails the type check if the client package's RtcTokenResponse drifts from the schema. */
export type ClientRtcTokenResponseMatches = Assert<Same<RtcTokenResponse, ClientRtcTokenResponse>>;
/** Fails the type check if the client package's RtcTokenRequest drifts from the schema. */
export type ClientRtcTokenRequestMatches = Assert<Same<RtcTokenRequest, ClientRtcTokenRequest>>;
/** Fails the type check if the client package's ChatroomAddressResponse drifts from the schema. */
export type ClientChatroomAddressResponseMatches = Assert<Same<ChatroomAddressResponse, ClientChatroomAddressResponse>>;
/** Fails the type check if the client package's ChatroomAddressRequest drifts from the schema. */
export type ClientChatroomAddressRequestMatches = Assert<Same<ChatroomAddressRequest, ClientChatroomAddressRequest>>;
/** Fails the type check if the client package's SessionRevokeResponse drifts from the schema. */
export type ClientSessionRevokeResponseMatches = Assert<Same<SessionRevokeResponse, ClientSessionRevokeResponse>>;
/** Fails the type check if the client package's ErrorBody drifts from the schema. */
export type ClientErrorBodyMatches = Assert<Same<ErrorBody, ClientErrorBody>>;
