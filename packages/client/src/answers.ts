/** What the Worker answers, checked at the boundary: a token or address answer's shape, an error body, Retry-After. */

import type {
  ChatroomAddressResponse,
  ErrorBody,
  RtcTokenResponse,
  SessionRevokeResponse,
  TokenResponse,
} from "./contract.js";

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
  if (!isIssued(body) || !Number.isSafeInteger(body.uid) || typeof body.channelName !== "string") return false;
  if (body.permKey === undefined) return true;
  // A permission key comes with its privilege and expiry, or the answer is not one we understand.
  return (
    typeof body.permKey === "string" &&
    Number.isSafeInteger(body.privilege) &&
    Number.isSafeInteger(body.permKeyTtl) &&
    Number.isSafeInteger(body.permKeyExpiresAt)
  );
}

/**
 * When an RTC answer must be refreshed: the earlier of its token's and its permission key's
 * times, each refreshed at the same share of its own lifetime (`refreshAfter` / `expiresAt`).
 */
export function rtcTimes(body: RtcTokenResponse): Timed {
  if (body.permKeyExpiresAt === undefined || body.permKeyTtl === undefined) return body;
  const keyLifetime = body.permKeyTtl * 1000;
  const share = (body.refreshAfter - body.curTime) / Math.max(1, body.expiresAt - body.curTime);
  const keyRefreshAfter = body.permKeyExpiresAt - keyLifetime + Math.round(keyLifetime * share);
  return {
    curTime: body.curTime,
    serverTime: body.serverTime,
    expiresAt: Math.min(body.expiresAt, body.permKeyExpiresAt),
    refreshAfter: Math.min(body.refreshAfter, keyRefreshAfter),
  };
}

export function isSessionRevokeResponse(body: unknown): body is SessionRevokeResponse {
  return (
    typeof body === "object" && body !== null && Number.isSafeInteger((body as SessionRevokeResponse).revokedBefore)
  );
}

/** A chatroom address answer: a room id, an accid and at least one `host:port` address. */
export function isChatroomAddressResponse(body: unknown): body is ChatroomAddressResponse {
  if (typeof body !== "object" || body === null) return false;
  const b = body as Record<string, unknown>;
  return (
    typeof b.roomId === "string" &&
    typeof b.accid === "string" &&
    typeof b.anonymous === "boolean" &&
    Array.isArray(b.addresses) &&
    b.addresses.length > 0 &&
    b.addresses.every((address) => typeof address === "string" && address !== "")
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
