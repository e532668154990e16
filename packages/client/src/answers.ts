/** What the Worker answers, checked at the boundary: a token answer's shape, an error body, Retry-After. */

import type { ErrorBody, RtcTokenResponse, SessionRevokeResponse, TokenResponse } from "./contract.js";

/** The longest Retry-After honoured (ms). */
const MAX_RETRY_AFTER_MS = 60_000;

/** The timing fields every token answer carries (Unix ms, Worker's clock). */
export interface Timed {
  curTime: number;
  expiresAt: number;
  serverTime: number;
  refreshAfter: number;
}

export function isTimed(body: unknown): body is Timed {
  const b = body as Record<string, unknown>;
  return ["curTime", "expiresAt", "serverTime", "refreshAfter"].every(
    (k) => typeof b[k] === "number" && Number.isFinite(b[k]),
  );
}

/** The envelope and times every token answer carries. */
function isIssued(body: unknown): body is Record<string, unknown> & Timed {
  if (typeof body !== "object" || body === null) return false;
  const b = body as Record<string, unknown>;
  return typeof b.token === "string" && typeof b.appKey === "string" && typeof b.ttl === "number" && isTimed(b);
}

export function isTokenResponse(body: unknown): body is TokenResponse {
  return isIssued(body) && typeof body.accid === "string";
}

export function isRtcTokenResponse(body: unknown): body is RtcTokenResponse {
  return isIssued(body) && Number.isSafeInteger(body.uid) && typeof body.channelName === "string";
}

export function isSessionRevokeResponse(body: unknown): body is SessionRevokeResponse {
  return (
    typeof body === "object" && body !== null && Number.isSafeInteger((body as SessionRevokeResponse).revokedBefore)
  );
}

export function isErrorBody(body: unknown): body is ErrorBody {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as ErrorBody).error === "string" &&
    typeof (body as ErrorBody).message === "string"
  );
}

/** Retry-After as ms: delta-seconds or an HTTP date, capped at a minute. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - nowMs;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}
