/**
 * The public HTTP contract: request and response bodies shared by the Worker's routes and the client
 * helper. This module has no imports and no runtime code beyond constants, so the client can depend
 * on it without pulling in anything from the Worker.
 */

/** `POST /v1/token` request body. Every field is optional; an empty body is fine. */
export interface TokenRequest {
  /** Token lifetime in whole seconds, within the service's configured [min, max]. */
  ttl?: number;
}

/** `POST /v1/token` 200 answer. All times are Unix milliseconds in the Worker's clock. */
export interface TokenResponse {
  /** The NetEase IM account id to log in with. */
  accid: string;
  /** The dynamic token: base64 of `{"signature","curTime","ttl"}`, for login with `authType: 1`. */
  token: string;
  /** The NetEase app key the token was signed for. */
  appKey: string;
  /** When the token was signed (ms); NetEase counts its ttl from here. */
  curTime: number;
  /** Lifetime in seconds. */
  ttl: number;
  /** `curTime + ttl * 1000`. */
  expiresAt: number;
  /** The Worker's clock when it answered (ms), so a client can correct its own clock's skew. */
  serverTime: number;
  /** When a client should fetch a new token (ms), about 80 % of the way to `expiresAt`. */
  refreshAfter: number;
}

/** Every stable error code the service can answer with. */
export const ERROR_CODES = [
  "invalid_request",
  "missing_session",
  "unauthorized",
  "invalid_session",
  "session_keys_unavailable",
  "account_blocked",
  "not_found",
  "method_not_allowed",
  "conflict",
  "payload_too_large",
  "unsupported_media_type",
  "rate_limited",
  "misconfigured",
  "internal_error",
  "storage_unavailable",
  "upstream_error",
  "upstream_unavailable",
] as const;

/** A stable machine-readable error code. */
export type ErrorCode = (typeof ERROR_CODES)[number];

/** The body of every error response. */
export interface ErrorBody {
  error: ErrorCode;
  message: string;
}

/** An account as the admin API shows it. Times are Unix milliseconds. */
export interface AdminAccount {
  uid: string;
  accid: string;
  status: "active" | "blocked";
  createdAt: number;
  updatedAt: number;
  /** Rotations so far; 0 for the first accid. */
  generation: number;
}

/** `PUT /admin/v1/accounts/{uid}` request body. */
export interface BindRequest {
  accid: string;
}

/** `POST /admin/v1/accounts/{uid}/block` request body (optional). */
export interface BlockRequest {
  /** Disconnect the account's live IM sessions too. Default true. */
  kick?: boolean;
}

/** One row of `POST /admin/v1/accounts/import`. */
export interface ImportRow {
  uid: string;
  accid: string;
}

/** What happened to one import row. */
export type ImportOutcome = "bound" | "already_bound" | "conflict" | "invalid";

/** The answer for one import row; `line` counts from 1. */
export interface ImportRowResult {
  line: number;
  outcome: ImportOutcome;
  uid?: string;
  accid?: string;
  message?: string;
}

/** `POST /admin/v1/accounts/import` answer. */
export interface ImportResponse {
  counts: Record<ImportOutcome, number>;
  results: ImportRowResult[];
}

/** Answer to NetEase's login callback: allow (`errCode` 0) or reject with a reason code. */
export interface LoginCallbackDecision {
  errCode: 0 | 1;
  responseCode?: number;
}
