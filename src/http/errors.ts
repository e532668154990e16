/**
 * The one table that turns errors into HTTP answers.
 *
 * A `DomainError` (core/errors.ts) says what went wrong in the domain's words; the few errors that
 * exist only at the HTTP edge (a bad body, an unknown path) are `ApiError`s raised by routes and
 * middleware; Hono's own `HTTPException` (from its built-in middleware) is mapped too. `describeError`
 * is the only place where any of them becomes a status, a stable error code and headers; every
 * `Retry-After` comes from core/constants.ts.
 *
 * Every answer has one JSON shape, `{"error": "<stable code>", "message": "<human text>"}`. Callers
 * get a deliberately generic message; the precise reason (which JWT check failed, what NetEase
 * answered) goes to the log line as `detail`.
 */

import { ERROR_STATUS } from "../contract/errors.ts";
import type { ErrorCode } from "../contract/requests.ts";
import { TIMING } from "../core/constants.ts";
import { DomainError, type DomainErrorKind } from "../core/errors.ts";

interface Answer {
  code: ErrorCode;
  message: string;
  /** Seconds; becomes Retry-After. */
  retryAfter?: number;
  challenge?: string;
}

/** The one table: each domain failure's code, message and headers. */
const DOMAIN_ANSWERS: Record<DomainErrorKind, Answer> = {
  missing_session: {
    code: "missing_session",
    message: "Send the app session as 'Authorization: Bearer <JWT>'.",
    challenge: "Bearer",
  },
  invalid_session: {
    code: "invalid_session",
    message: "The session token is invalid or expired.",
    challenge: 'Bearer error="invalid_token"',
  },
  session_revoked: {
    code: "session_revoked",
    message: "This session was signed out everywhere; sign in again.",
    challenge: 'Bearer error="invalid_token"',
  },
  session_keys_unavailable: {
    code: "session_keys_unavailable",
    message: "Session keys are temporarily unavailable; retry later.",
    retryAfter: TIMING.sessionKeysRetryAfterSeconds,
  },
  storage_unavailable: {
    code: "storage_unavailable",
    message: "Account storage is temporarily unavailable; retry later.",
    retryAfter: TIMING.storageRetryAfterSeconds,
  },
  record_corrupt: { code: "internal_error", message: "An internal error occurred." },
  upstream_unavailable: {
    code: "upstream_unavailable",
    message: "The IM service is temporarily unavailable; retry later.",
    retryAfter: TIMING.upstreamRetryAfterSeconds,
  },
  upstream_rate_limited: {
    code: "upstream_unavailable",
    message: "The IM service is temporarily unavailable; retry later.",
    retryAfter: TIMING.nimRateLimitBlockSeconds,
  },
  creation_queue_full: {
    code: "upstream_unavailable",
    message: "New IM accounts are being created as fast as NetEase allows; retry after the time given.",
    retryAfter: 1,
  },
  upstream_rejected: { code: "upstream_error", message: "The IM service rejected the request." },
  account_blocked: { code: "account_blocked", message: "This account is blocked from IM login." },
  channel_refused: {
    code: "channel_refused",
    message: "This session may not get tokens for this channel.",
  },
  chatroom_refused: {
    code: "chatroom_refused",
    message: "This session may not enter this chatroom.",
  },
  chatroom_unavailable: {
    code: "chatroom_unavailable",
    message: "NetEase does not know this chatroom, or it is closed.",
  },
  app_not_allowed: {
    code: "app_not_allowed",
    message: "This session may not use this NetEase app.",
  },
  unknown_app: { code: "unknown_app", message: "This service serves no NetEase app by that name." },
  account_not_found: { code: "not_found", message: "No account is bound to this uid." },
  account_conflict: { code: "conflict", message: "The account is in a conflicting state." },
  accid_not_registered: { code: "invalid_request", message: "This accid is not registered with NetEase." },
  request_id_reused: {
    code: "conflict",
    message: "This X-Request-Id was already used for a different operation on this uid; send a new one.",
  },
  misconfigured: { code: "misconfigured", message: "The service is not configured correctly." },
  rate_limited: {
    code: "rate_limited",
    message: "Too many requests; retry later.",
    retryAfter: TIMING.rateLimitPeriodSeconds,
  },
};

/** An error that exists only at the HTTP edge (bad body, unknown path), raised by routes and middleware. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  readonly code: ErrorCode;
  readonly headers: Record<string, string>;
  /** Why, for the log only. */
  readonly detail: string | undefined;

  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}, detail?: string) {
    super(message);
    this.code = code;
    this.headers = headers;
    this.detail = detail;
  }
}

/** Errors several routes raise. */
export const errors = {
  notFound: (message = "No such endpoint; the API is described at /openapi.json.") =>
    new ApiError("not_found", message),
  methodNotAllowed: (allow: string) =>
    new ApiError("method_not_allowed", `Method not allowed; use ${allow}.`, { Allow: allow }),
  invalidRequest: (message: string) => new ApiError("invalid_request", message),
  payloadTooLarge: (limit: number) =>
    new ApiError("payload_too_large", `Request bodies are limited to ${limit} bytes.`),
  unsupportedMediaType: (types: readonly string[]) =>
    new ApiError("unsupported_media_type", `Send the body as ${types.join(" or ")}.`),
  forbidden: (message: string, detail: string) => new ApiError("forbidden", message, {}, detail),
  unauthorized: (message: string, challenge: string | undefined, detail: string) =>
    new ApiError("unauthorized", message, challenge ? { "WWW-Authenticate": challenge } : {}, detail),
} as const;

/**
 * R2, Queues or Workflows failing under an operator's request (`what`: which feature): theirs to
 * retry, 503 `storage_unavailable`, not our fault. An answer already decided passes through.
 */
export function storageFailure(what: string, error: unknown): DomainError | ApiError {
  if (error instanceof ApiError || error instanceof DomainError) return error;
  return new DomainError("storage_unavailable", {
    detail: `${what}: ${error instanceof Error ? error.name : "error"}`,
  });
}

/** Hono's `HTTPException` (its status and the answer it would give), as far as this table reads it. */
interface HttpException extends Error {
  readonly status: number;
  readonly res?: Response | undefined;
  getResponse(): Response;
}

/**
 * Whether `error` is Hono's `HTTPException`, known by its shape rather than `instanceof`: the token
 * door uses this table, and no module it imports may load Hono (src/index.ts says why).
 */
function isHttpException(error: unknown): error is HttpException {
  return (
    error instanceof Error &&
    "res" in error &&
    typeof (error as Partial<HttpException>).status === "number" &&
    typeof (error as Partial<HttpException>).getResponse === "function"
  );
}

/** The answer for any thrown value: its code, message, headers and log detail. */
export function describeError(error: unknown): { code: ErrorCode; message: string; headers: Headers; detail?: string } {
  const headers = new Headers();
  if (error instanceof DomainError) {
    const answer = DOMAIN_ANSWERS[error.kind];
    const retryAfter = error.retryAfter ?? answer.retryAfter;
    if (retryAfter !== undefined) headers.set("Retry-After", String(retryAfter));
    if (answer.challenge) headers.set("WWW-Authenticate", answer.challenge);
    return { code: answer.code, message: error.reason ?? answer.message, headers, detail: error.detail };
  }
  if (error instanceof ApiError) {
    for (const [name, value] of Object.entries(error.headers)) headers.set(name, value);
    return { code: error.code, message: error.message, headers, detail: error.detail };
  }
  if (isHttpException(error)) {
    // Hono's built-in middleware. Keep its challenge; its text is replaced by our fixed message.
    const challenge = error.res?.headers.get("WWW-Authenticate");
    if (challenge) headers.set("WWW-Authenticate", challenge);
    const code = HTTP_EXCEPTION_CODES[error.status] ?? "internal_error";
    const message = code === "internal_error" ? INTERNAL_MESSAGE : error.message || code;
    return { code, message, headers, detail: `HTTPException ${error.status}` };
  }
  // An unexpected exception's message could hold anything; log only its type.
  return {
    code: "internal_error",
    message: INTERNAL_MESSAGE,
    headers,
    detail: `unhandled ${error instanceof Error ? error.name : typeof error}`,
  };
}

const INTERNAL_MESSAGE = "An internal error occurred.";
const HTTP_EXCEPTION_CODES: Partial<Record<number, ErrorCode>> = {
  400: "invalid_request",
  401: "unauthorized",
  404: "not_found",
  413: "payload_too_large",
  415: "unsupported_media_type",
};

/** The JSON error response for a code and message. */
export function errorResponse(code: ErrorCode, message: string, headers: Headers = new Headers()): Response {
  headers.set("Content-Type", "application/json; charset=utf-8");
  headers.set("Cache-Control", "no-store");
  return new Response(JSON.stringify({ error: code, message }), { status: ERROR_STATUS[code], headers });
}
