/**
 * One JSON error shape for every failure: `{"error": "<stable code>", "message": "<human text>"}`.
 *
 * Callers get a deliberately generic message; the precise reason (which JWT check failed, what
 * NetEase answered) goes to the log line as `detail`. Nothing here ever formats a secret, a token or
 * a raw JWT: `detail` strings are built from fixed text and codes only.
 */

import type { ErrorCode } from "./contract.ts";

/** An error the caller is told about. `status` and `code` are part of the public contract. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: 400 | 401 | 403 | 404 | 405 | 409 | 413 | 415 | 429 | 500 | 502 | 503,
    readonly code: ErrorCode,
    message: string,
    readonly options: {
      /** Extra response headers, e.g. `Retry-After` or `WWW-Authenticate`. */
      headers?: Record<string, string>;
      /** Why, for the log only. Never a secret or token. */
      detail?: string;
    } = {},
  ) {
    super(message);
  }
}

/** Builds the JSON error response for an ApiError. */
export function errorResponse(error: ApiError, extraHeaders?: Headers): Response {
  const headers = new Headers(extraHeaders);
  headers.set("Content-Type", "application/json; charset=utf-8");
  headers.set("Cache-Control", "no-store");
  for (const [name, value] of Object.entries(error.options.headers ?? {})) headers.set(name, value);
  return new Response(JSON.stringify({ error: error.code, message: error.message }), {
    status: error.status,
    headers,
  });
}

/** The ApiError for a fault of our own: the caller learns nothing but that it happened. */
export function internalError(detail: string): ApiError {
  return new ApiError(500, "internal_error", "An internal error occurred.", { detail });
}

/** Standard errors that several modules raise. */
export const errors = {
  notFound: () => new ApiError(404, "not_found", "No such endpoint."),
  methodNotAllowed: (allow: string) =>
    new ApiError(405, "method_not_allowed", `Method not allowed; use ${allow}.`, { headers: { Allow: allow } }),
  invalidRequest: (message: string) => new ApiError(400, "invalid_request", message),
  payloadTooLarge: (limit: number) =>
    new ApiError(413, "payload_too_large", `Request bodies are limited to ${limit} bytes.`),
  misconfigured: (detail: string) =>
    new ApiError(500, "misconfigured", "The service is not configured correctly.", { detail }),
} as const;
