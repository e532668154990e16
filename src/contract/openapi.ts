/**
 * The OpenAPI 3.1 document served at GET /openapi.json.
 *
 * Generated, not written: each operation below names the Valibot schemas its route validates with
 * and answers with (`requests.ts`, `responses.ts`, converted by `@valibot/to-json-schema`), and the stable error codes
 * it can answer with; each code's status comes from `errors.ts`. So the document
 * cannot disagree with the code about a body, a field rule or an error status. Pure: no I/O, so Node
 * tooling can build and validate it too.
 */

import { toJsonSchema } from "@valibot/to-json-schema";
import type * as v from "valibot";
import { DEFAULT_TTLS, IMPORT, LIMITS } from "../core/constants.ts";
import { ERROR_STATUS } from "./errors.ts";
import {
  bindRequestSchema,
  blockRequestSchema,
  chatroomAddressRequestSchema,
  type ErrorCode,
  IMPORT_ID_PATTERN,
  importFileSchema,
  importRequestSchema,
  revokeRequestSchema,
  rtcTokenRequestSchema,
  tokenRequestSchema,
  ttlDefaultNote,
  uidSchema,
} from "./requests.ts";
import {
  adminAccountSchema,
  appListSchema,
  chatroomAddressResponseSchema,
  deadLetterListSchema,
  errorSchema,
  healthSchema,
  historyResponseSchema,
  importAcceptedSchema,
  importActionSchema,
  importListSchema,
  importResponseSchema,
  importStatusSchema,
  loginDecisionSchema,
  metricsResponseSchema,
  operatorResponseSchema,
  readinessSchema,
  readySchema,
  redeliveryResponseSchema,
  rtcTokenResponseSchema,
  serviceIndexSchema,
  sessionRevokeResponseSchema,
  tokenResponseSchema,
} from "./responses.ts";

type Json = Record<string, unknown>;

/** One documented operation: what it takes, what it answers, and which error codes it can answer with. */
interface Operation {
  method: "get" | "post" | "put" | "delete";
  path: string;
  operationId: string;
  summary: string;
  security?: "session" | "session-or-none" | "admin" | "netease";
  body?: { schema: string; required: boolean; description?: string; ndjson?: string };
  /** Each answer: a JSON schema's name, or (`ndjson`) what each line of an NDJSON body is. */
  responses: Record<number, { description: string; schema?: string; ndjson?: string }>;
  errors: readonly ErrorCode[];
  /** An operator action run by the uid's object: X-Request-Id is its idempotency key. */
  idempotent?: true;
  /** Query parameters, each with its schema. */
  query?: { name: string; description: string; schema: Json }[];
  /** About one app's accounts or tokens: the document also lists it under `/v1/apps/{app}/…` or `/admin/v1/apps/{app}/…`. */
  perApp?: true;
}

/** The X-Request-Id header as an idempotency key (operator actions). */
const REQUEST_ID_PARAMETER = {
  name: "X-Request-Id",
  in: "header",
  required: false,
  description:
    "Idempotency key for this uid, kept 24 hours: a repeated id gets the first result back without acting " +
    "again; the same id for another operation is 409 conflict. Word characters, '-' and '='; at most " +
    `${LIMITS.maxRequestIdLength} characters (otherwise a new id is made). Echoed in the answer.`,
  schema: { type: "string", maxLength: LIMITS.maxRequestIdLength, pattern: "^[\\w\\-=]+$" },
};

const SESSION_ERRORS = [
  "missing_session",
  "invalid_session",
  "session_keys_unavailable",
  "app_not_allowed",
  "rate_limited",
] as const;
const BODY_ERRORS = ["invalid_request", "payload_too_large", "unsupported_media_type"] as const;
const UPSTREAM_ERRORS = ["upstream_error", "upstream_unavailable", "storage_unavailable"] as const;
const SERVICE_ERRORS = ["misconfigured", "internal_error"] as const;
const ADMIN_ERRORS = [
  "unauthorized",
  "forbidden",
  "not_found",
  "rate_limited",
  ...SERVICE_ERRORS,
  ...UPSTREAM_ERRORS,
] as const;

/** Every operation of the service, in document order. */
const OPERATIONS: readonly Operation[] = [
  {
    method: "post",
    path: "/v1/token",
    perApp: true,
    operationId: "issueToken",
    summary: "Issue a dynamic token for the session's user.",
    security: "session",
    body: { schema: "TokenRequest", required: false, description: "Optional; an empty body is fine." },
    responses: { 200: { description: "The token (Cache-Control: no-store).", schema: "TokenResponse" } },
    errors: [
      ...SESSION_ERRORS,
      "session_revoked",
      ...BODY_ERRORS,
      "account_blocked",
      ...UPSTREAM_ERRORS,
      ...SERVICE_ERRORS,
    ],
  },
  {
    method: "post",
    path: "/v1/rtc/token",
    perApp: true,
    operationId: "issueRtcToken",
    summary: "Issue a NERTC (audio/video) token for the session's user and a channel.",
    security: "session",
    body: { schema: "RtcTokenRequest", required: true },
    responses: { 200: { description: "The token (Cache-Control: no-store).", schema: "RtcTokenResponse" } },
    errors: [
      ...SESSION_ERRORS,
      "session_revoked",
      ...BODY_ERRORS,
      "account_blocked",
      "channel_refused",
      ...UPSTREAM_ERRORS,
      ...SERVICE_ERRORS,
    ],
  },
  {
    method: "post",
    path: "/v1/chatroom/address",
    perApp: true,
    operationId: "getChatroomAddress",
    summary:
      "A NetEase chatroom's link addresses nearest the client, for the session's user; without a session, only for a room CHATROOM_POLICY opens to visitors.",
    security: "session-or-none",
    body: { schema: "ChatroomAddressRequest", required: true },
    responses: { 200: { description: "The addresses (Cache-Control: no-store).", schema: "ChatroomAddressResponse" } },
    errors: [
      ...SESSION_ERRORS,
      "session_revoked",
      ...BODY_ERRORS,
      "account_blocked",
      "chatroom_refused",
      "chatroom_unavailable",
      ...UPSTREAM_ERRORS,
      ...SERVICE_ERRORS,
    ],
  },
  {
    method: "post",
    path: "/v1/sessions/revoke",
    perApp: true,
    operationId: "revokeSessions",
    summary:
      "Sign out everywhere: the caller's sessions and IM tokens issued before now stop working, and live IM sessions are kicked.",
    security: "session",
    responses: { 200: { description: "Revoked.", schema: "SessionRevokeResponse" } },
    errors: [...SESSION_ERRORS, "session_revoked", ...BODY_ERRORS, ...UPSTREAM_ERRORS, ...SERVICE_ERRORS],
  },
  {
    method: "get",
    path: "/",
    operationId: "index",
    summary: "What this service is, and links to this document and the health checks.",
    responses: { 200: { description: "The index.", schema: "ServiceIndex" } },
    errors: [],
  },
  {
    method: "get",
    path: "/healthz",
    operationId: "health",
    summary: "Whether the service is configured (no I/O).",
    responses: {
      200: { description: "Configured.", schema: "Health" },
      503: { description: "Misconfigured: names (never values) of the settings at fault.", schema: "Health" },
    },
    errors: [],
  },
  {
    method: "get",
    path: "/readyz",
    operationId: "ready",
    summary:
      "Whether the service can issue tokens: configuration, KV, the JWKS and a signed NetEase call (each check's outcome: GET /admin/v1/ready).",
    responses: {
      200: { description: "Every check passed.", schema: "Ready" },
      503: { description: "The kinds of check named in `failed` did not pass.", schema: "Ready" },
    },
    errors: [],
  },
  {
    method: "get",
    path: "/openapi.json",
    operationId: "openapi",
    summary: "This document.",
    responses: { 200: { description: "The OpenAPI document." } },
    errors: SERVICE_ERRORS,
  },
  {
    method: "post",
    path: "/v1/nim/login-callback",
    operationId: "loginCallback",
    summary: "NetEase's third-party login callback (eventType 36).",
    security: "netease",
    body: { schema: "LoginEvent", required: true },
    responses: {
      200: {
        description: "Allow (errCode 0) or reject (errCode 1, responseCode 20001–20008).",
        schema: "LoginDecision",
      },
    },
    errors: ["unauthorized", "rate_limited", "payload_too_large", "storage_unavailable", ...SERVICE_ERRORS],
  },
  {
    method: "post",
    path: "/admin/v1/accounts/import",
    perApp: true,
    operationId: "importAccounts",
    summary: `Bind up to ${LIMITS.maxImportRows} existing NetEase accids to uids.`,
    security: "admin",
    body: { schema: "ImportRequest", required: true, ndjson: "One {uid, accid} JSON object per line." },
    responses: { 200: { description: "Per-row outcomes.", schema: "ImportResponse" } },
    errors: [...ADMIN_ERRORS, "forbidden", ...BODY_ERRORS],
  },
  {
    method: "get",
    path: "/admin/v1/operator",
    operationId: "getOperator",
    summary: "Who the credential names (the operator the audit trail records), and how it signed in.",
    security: "admin",
    responses: { 200: { description: "The operator.", schema: "Operator" } },
    errors: ADMIN_ERRORS,
  },
  {
    method: "get",
    path: "/admin/v1/ready",
    operationId: "getReadiness",
    summary: "Every readiness check with its outcome and latency (which issuer's keys failed, and why).",
    security: "admin",
    responses: {
      200: { description: "Every check passed.", schema: "Readiness" },
      503: { description: "The checks named in `failed` did not pass.", schema: "Readiness" },
    },
    errors: ADMIN_ERRORS,
  },
  {
    method: "get",
    path: "/admin/v1/metrics",
    operationId: "getMetrics",
    summary:
      "The last day's metrics read back from Analytics Engine (needs ANALYTICS_ACCOUNT_ID and ANALYTICS_READ_TOKEN).",
    security: "admin",
    responses: { 200: { description: "Each query's rows, or why it failed.", schema: "MetricsSummary" } },
    errors: ADMIN_ERRORS,
  },
  {
    method: "get",
    path: "/admin/v1/events/dead-letters",
    operationId: "listDeadLetters",
    summary: "Account-change events that exhausted their delivery attempts, parked for an operator (docs/events.md).",
    security: "admin",
    query: [
      {
        name: "limit",
        description: `Events per page (1 to ${LIMITS.historyPageMax}, default 50).`,
        schema: { type: "integer", minimum: 1, maximum: LIMITS.historyPageMax },
      },
      { name: "cursor", description: "The `cursor` of the previous page.", schema: { type: "string" } },
    ],
    responses: { 200: { description: "A page of undelivered events.", schema: "DeadLetterList" } },
    errors: [...ADMIN_ERRORS, "invalid_request"],
  },
  {
    method: "post",
    path: "/admin/v1/events/dead-letters/{id}/redeliver",
    operationId: "redeliverEvent",
    summary: "Queue an undelivered event again, under its own webhook-id (404 while events are off).",
    security: "admin",
    responses: { 202: { description: "Queued for delivery; no longer parked.", schema: "Redelivery" } },
    errors: [...ADMIN_ERRORS, ...BODY_ERRORS, "conflict"],
  },
  {
    method: "delete",
    path: "/admin/v1/events/dead-letters/{id}",
    operationId: "discardEvent",
    summary: "Drop an undelivered event for good (also while events are off).",
    security: "admin",
    responses: { 204: { description: "Dropped." } },
    errors: [...ADMIN_ERRORS, "invalid_request"],
  },
  {
    method: "post",
    path: "/admin/v1/imports",
    perApp: true,
    operationId: "startImport",
    summary:
      "Import a file of stock accounts of any size (docs/admin.md#importing-stock-accounts): streamed to the " +
      "operators' bucket, then checked and bound by a Workflow, 1,000 rows a step. 404 without the IMPORTS Workflow.",
    security: "admin",
    body: {
      schema: "ImportFile",
      required: true,
      description: `Rows of at most ${IMPORT.maxRowBytes} bytes; at most ${IMPORT.maxRows} rows.`,
      ndjson: "One {uid, accid} JSON object per line.",
    },
    responses: { 202: { description: "Stored and queued; follow it at the Location.", schema: "ImportAccepted" } },
    errors: [...ADMIN_ERRORS, "forbidden", "invalid_request", "unsupported_media_type", "storage_unavailable"],
  },
  {
    method: "get",
    path: "/admin/v1/imports",
    perApp: true,
    operationId: "listImports",
    summary: "The app's latest file imports, newest first.",
    security: "admin",
    query: [
      {
        name: "limit",
        description: "Imports listed (1 to 100, default 20).",
        schema: { type: "integer", minimum: 1, maximum: 100 },
      },
    ],
    responses: { 200: { description: "The imports, as each stands.", schema: "ImportList" } },
    errors: [...ADMIN_ERRORS, "invalid_request", "storage_unavailable"],
  },
  {
    method: "get",
    path: "/admin/v1/imports/{id}",
    perApp: true,
    operationId: "getImport",
    summary: "A file import's status, counts, rate and time left.",
    security: "admin",
    responses: { 200: { description: "The import as it stands.", schema: "ImportStatus" } },
    errors: [...ADMIN_ERRORS, "storage_unavailable"],
  },
  {
    method: "get",
    path: "/admin/v1/imports/{id}/results",
    perApp: true,
    operationId: "getImportResults",
    summary: "Every row done so far and its outcome, in the file's order.",
    security: "admin",
    responses: {
      200: {
        description: "NDJSON, streamed.",
        ndjson:
          "{line, outcome, uid?, accid?, message?}: line is the NDJSON line or the array place (from 1); outcome " +
          "bound, already_bound, conflict, invalid or failed.",
      },
    },
    errors: [...ADMIN_ERRORS, "storage_unavailable"],
  },
  ...(["pause", "resume", "cancel"] as const).map(
    (action): Operation => ({
      method: "post",
      path: `/admin/v1/imports/{id}/${action}`,
      perApp: true,
      operationId: `${action}Import`,
      summary: {
        pause: "Pause a file import after its current step.",
        resume: "Resume a paused file import.",
        cancel: "Cancel a file import for good (rows done stay done; run the file again to finish it).",
      }[action],
      security: "admin",
      responses: { 200: { description: "Its status now.", schema: "ImportAction" } },
      errors: [...ADMIN_ERRORS, "forbidden", "conflict", "storage_unavailable"],
    }),
  ),
  {
    method: "get",
    path: "/admin/v1/apps",
    operationId: "listApps",
    summary: "The NetEase apps this deployment serves, and which one the paths without an app name serve.",
    security: "admin",
    responses: { 200: { description: "The apps, in NIM_APPS order.", schema: "AppList" } },
    errors: ADMIN_ERRORS,
  },
  {
    method: "get",
    path: "/admin/v1/accounts",
    perApp: true,
    operationId: "findAccount",
    summary: "Find an account by its accid (derived or stock) or its RTC uid.",
    security: "admin",
    query: [
      { name: "accid", description: "An accid (any case).", schema: { type: "string" } },
      { name: "rtcUid", description: "An RTC uid.", schema: { type: "integer", minimum: 1 } },
    ],
    responses: { 200: { description: "The account.", schema: "AdminAccount" } },
    errors: [...ADMIN_ERRORS, "invalid_request"],
  },
  {
    method: "get",
    path: "/admin/v1/accounts/{uid}/history",
    perApp: true,
    operationId: "getAccountHistory",
    summary: `The uid's audit trail, newest first (the last ${LIMITS.historyEntriesKept} entries are kept).`,
    security: "admin",
    query: [
      {
        name: "limit",
        description: `Entries per page (1 to ${LIMITS.historyPageMax}, default 20).`,
        schema: { type: "integer", minimum: 1, maximum: LIMITS.historyPageMax },
      },
      { name: "before", description: "The `next` of the previous page.", schema: { type: "integer", minimum: 1 } },
    ],
    responses: { 200: { description: "A page of history.", schema: "HistoryResponse" } },
    errors: [...ADMIN_ERRORS, "invalid_request"],
  },
  {
    method: "get",
    path: "/admin/v1/accounts/{uid}",
    perApp: true,
    operationId: "getAccount",
    summary: "Read an account.",
    security: "admin",
    responses: { 200: { description: "The account.", schema: "AdminAccount" } },
    errors: [...ADMIN_ERRORS, "invalid_request"],
  },
  {
    method: "put",
    path: "/admin/v1/accounts/{uid}",
    perApp: true,
    operationId: "bindAccount",
    summary: "Bind an existing NetEase accid to the uid.",
    security: "admin",
    body: { schema: "BindRequest", required: true },
    responses: {
      200: { description: "Already bound (outcome already_bound).", schema: "AdminAccount" },
      201: { description: "Bound (outcome bound).", schema: "AdminAccount" },
    },
    errors: [...ADMIN_ERRORS, "forbidden", ...BODY_ERRORS, "conflict"],
    idempotent: true,
  },
  {
    method: "post",
    path: "/admin/v1/accounts/{uid}/block",
    perApp: true,
    operationId: "blockAccount",
    summary: "Block the account at NetEase (optionally kicking live sessions).",
    security: "admin",
    body: { schema: "BlockRequest", required: false },
    responses: { 200: { description: "Blocked.", schema: "AdminAccount" } },
    errors: [...ADMIN_ERRORS, "forbidden", ...BODY_ERRORS, "conflict"],
    idempotent: true,
  },
  {
    method: "post",
    path: "/admin/v1/accounts/{uid}/unblock",
    perApp: true,
    operationId: "unblockAccount",
    summary: "Unblock the account.",
    security: "admin",
    responses: { 200: { description: "Active again.", schema: "AdminAccount" } },
    errors: [...ADMIN_ERRORS, "forbidden", ...BODY_ERRORS, "conflict"],
    idempotent: true,
  },
  {
    method: "post",
    path: "/admin/v1/accounts/{uid}/rotate",
    perApp: true,
    operationId: "rotateAccount",
    summary: "Move the uid to a new accid and block the old one.",
    security: "admin",
    responses: { 200: { description: "The new account, with previousAccid.", schema: "AdminAccount" } },
    errors: [...ADMIN_ERRORS, "forbidden", ...BODY_ERRORS, "conflict"],
    idempotent: true,
  },
  {
    method: "post",
    path: "/admin/v1/accounts/{uid}/revoke",
    perApp: true,
    operationId: "revokeAccount",
    summary:
      "Revoke the uid's sessions and IM tokens issued before now (the account stays usable), optionally kicking live IM sessions.",
    security: "admin",
    body: { schema: "RevokeRequest", required: false },
    responses: { 200: { description: "Revoked; `kick` says what the kick did.", schema: "AdminAccount" } },
    errors: [...ADMIN_ERRORS, "forbidden", ...BODY_ERRORS, "conflict"],
    idempotent: true,
  },
];

/** The admin API takes either credential: the admin token, or a Cloudflare Access assertion. */
function securityOf(security: NonNullable<Operation["security"]>): Json[] {
  if (security === "session-or-none") return [{ session: [] }, {}];
  return security === "admin" ? [{ admin: [] }, { access: [] }] : [{ [security]: [] }];
}

/** A schema as JSON Schema 2020-12 (what OpenAPI 3.1 embeds), without its own `$schema` line. */
function jsonSchema(schema: v.GenericSchema): Json {
  const { $schema: _dialect, ...converted } = toJsonSchema(schema, { target: "draft-2020-12", errorMode: "ignore" });
  return converted;
}
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const jsonContent = (name: string) => ({ "application/json": { schema: ref(name) } });

function responses(operation: Operation): Json {
  const out: Json = {};
  for (const [status, { description, schema, ndjson }] of Object.entries(operation.responses)) {
    out[status] = schema
      ? { description, content: jsonContent(schema) }
      : ndjson
        ? { description, content: { "application/x-ndjson": { schema: { type: "string", description: ndjson } } } }
        : { description };
  }
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of operation.errors)
    byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    out[String(status)] = {
      description: `Error: ${codes.join(", ")}.`,
      content: {
        "application/json": {
          schema: { allOf: [ref("Error"), { properties: { error: { enum: codes } } }] },
        },
      },
    };
  }
  return out;
}

/** The `{app}` path parameter: an app's name in NIM_APPS. */
const APP_PARAMETER = {
  name: "app",
  in: "path",
  required: true,
  description: "The NetEase app's name in this deployment (NIM_APPS; `default` for the one-app settings).",
  schema: { type: "string", pattern: "^[a-z0-9-]{1,32}$" },
};

/** An operation as it is served for a named app: under `/v1/apps/{app}/` or `/admin/v1/apps/{app}/`. */
function forNamedApp(operation: Operation): Operation {
  const path = operation.path.startsWith("/admin/v1/")
    ? operation.path.replace("/admin/v1/", "/admin/v1/apps/{app}/")
    : operation.path.replace("/v1/", "/v1/apps/{app}/");
  return {
    ...operation,
    path,
    operationId: `${operation.operationId}ForApp`,
    summary: `${operation.summary} For the app named in the path.`,
    errors: [...operation.errors, "unknown_app"],
  };
}

/** Builds the document for a service with this ttl range. */
export function buildOpenApiDocument(
  ttl: { min: number; max: number; default: number },
  rtcTtl: { min: number; max: number; default: number } = {
    min: DEFAULT_TTLS.min,
    max: LIMITS.maxRtcTtlSeconds,
    default: DEFAULT_TTLS.rtc,
  },
): Json {
  const paths: Record<string, Json> = {};
  for (const operation of [...OPERATIONS, ...OPERATIONS.filter((each) => each.perApp).map(forNamedApp)]) {
    const item: Json = {
      operationId: operation.operationId,
      summary: operation.summary,
      ...(operation.security ? { security: securityOf(operation.security) } : {}),
      ...(operation.idempotent ? { parameters: [REQUEST_ID_PARAMETER] } : {}),
      ...(operation.query
        ? {
            parameters: operation.query.map(({ name, description, schema }) => ({
              name,
              in: "query",
              description,
              schema,
            })),
          }
        : {}),
      responses: responses(operation),
    };
    if (operation.body) {
      const { schema, required, description, ndjson } = operation.body;
      item.requestBody = {
        required,
        ...(description ? { description } : {}),
        content: {
          ...jsonContent(schema),
          ...(ndjson ? { "application/x-ndjson": { schema: { type: "string", description: ndjson } } } : {}),
        },
      };
    }
    paths[operation.path] ??= {};
    const pathItem = paths[operation.path]!;
    const pathParameters = [
      ...(operation.path.includes("{app}") ? [APP_PARAMETER] : []),
      ...(operation.path.includes("/dead-letters/{id}")
        ? [
            {
              name: "id",
              in: "path",
              required: true,
              description: "An undelivered event's id.",
              schema: { type: "string", pattern: "^evt_[0-9a-f]{32}$" },
            },
          ]
        : []),
      ...(operation.path.includes("/imports/{id}")
        ? [
            {
              name: "id",
              in: "path",
              required: true,
              description: "A file import's id, as its POST answered.",
              schema: { type: "string", pattern: IMPORT_ID_PATTERN.source },
            },
          ]
        : []),
      ...(operation.path.includes("{uid}")
        ? [
            {
              name: "uid",
              in: "path",
              required: true,
              description: "The app user id, URL-encoded.",
              schema: jsonSchema(uidSchema()),
            },
          ]
        : []),
    ];
    if (pathParameters.length > 0) pathItem.parameters = pathParameters;
    pathItem[operation.method] = item;
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "nim-token-worker",
      version: "1.0.0",
      description:
        "Issues NetEase IM (CommsEase) dynamic login tokens for app users signed in with an app-session JWT. " +
        "Every error is JSON {error, message} with a stable error code.",
    },
    servers: [{ url: "/" }],
    components: {
      securitySchemes: {
        session: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: "The app-session JWT; its sub is the uid.",
        },
        admin: { type: "http", scheme: "bearer", description: "ADMIN_TOKEN." },
        access: {
          type: "apiKey",
          in: "header",
          name: "Cf-Access-Jwt-Assertion",
          description: "Cloudflare Access's assertion for an operator (ACCESS_TEAM_DOMAIN, ACCESS_AUD); set by Access.",
        },
        netease: {
          type: "apiKey",
          in: "header",
          name: "CheckSum",
          description: "NetEase's callback signature (AppKey, CurTime, MD5, CheckSum).",
        },
      },
      schemas: {
        TokenRequest: {
          ...jsonSchema(tokenRequestSchema(ttl)),
          description: ttlDefaultNote(ttl.default),
        },
        TokenResponse: jsonSchema(tokenResponseSchema),
        RtcTokenRequest: {
          ...jsonSchema(rtcTokenRequestSchema(rtcTtl)),
          description: ttlDefaultNote(rtcTtl.default),
        },
        RtcTokenResponse: jsonSchema(rtcTokenResponseSchema),
        ChatroomAddressRequest: jsonSchema(chatroomAddressRequestSchema()),
        ChatroomAddressResponse: jsonSchema(chatroomAddressResponseSchema),
        Error: jsonSchema(errorSchema),
        Health: jsonSchema(healthSchema),
        ServiceIndex: jsonSchema(serviceIndexSchema),
        Ready: jsonSchema(readySchema),
        Readiness: jsonSchema(readinessSchema),
        AdminAccount: jsonSchema(adminAccountSchema),
        AppList: jsonSchema(appListSchema),
        BindRequest: jsonSchema(bindRequestSchema()),
        BlockRequest: jsonSchema(blockRequestSchema()),
        RevokeRequest: jsonSchema(revokeRequestSchema()),
        SessionRevokeResponse: jsonSchema(sessionRevokeResponseSchema),
        ImportRequest: jsonSchema(importRequestSchema()),
        ImportResponse: jsonSchema(importResponseSchema),
        ImportFile: jsonSchema(importFileSchema()),
        ImportAccepted: jsonSchema(importAcceptedSchema),
        ImportStatus: jsonSchema(importStatusSchema),
        ImportList: jsonSchema(importListSchema),
        ImportAction: jsonSchema(importActionSchema),
        HistoryResponse: jsonSchema(historyResponseSchema),
        Operator: jsonSchema(operatorResponseSchema),
        MetricsSummary: jsonSchema(metricsResponseSchema),
        DeadLetterList: jsonSchema(deadLetterListSchema),
        Redelivery: jsonSchema(redeliveryResponseSchema),
        LoginEvent: { type: "object", description: "NetEase's callback event; eventType 36 is a login." },
        LoginDecision: jsonSchema(loginDecisionSchema),
      },
    },
    paths,
  };
}
