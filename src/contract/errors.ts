/**
 * The HTTP status of every stable error code, part of the public contract and of the OpenAPI
 * document; and the one message every body check shares.
 */

import type { ErrorCode } from "../../packages/client/src/contract.ts";

/** Each stable error code's HTTP status. */
export const ERROR_STATUS = {
  invalid_request: 400,
  missing_session: 401,
  unauthorized: 401,
  invalid_session: 401,
  session_revoked: 401,
  account_blocked: 403,
  channel_refused: 403,
  chatroom_refused: 403,
  app_not_allowed: 403,
  forbidden: 403,
  not_found: 404,
  unknown_app: 404,
  chatroom_unavailable: 404,
  method_not_allowed: 405,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  misconfigured: 500,
  internal_error: 500,
  upstream_error: 502,
  session_keys_unavailable: 503,
  storage_unavailable: 503,
  upstream_unavailable: 503,
} as const satisfies Record<ErrorCode, number>;

/** The 400 for a body that is JSON but not an object (every body here is one). */
export const BODY_NOT_OBJECT = "The body must be a JSON object.";
