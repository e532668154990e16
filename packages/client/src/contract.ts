/**
 * The public token API's contract: the bodies `POST /v1/token`, `POST /v1/rtc/token` and
 * `POST /v1/chatroom/address` take and answer, and the error shape (the same at `/v1/apps/{app}/token` and `/v1/apps/{app}/rtc/token`,
 * which serve each of a deployment's NetEase apps). It lives in the client package because the client
 * is what apps install; the Worker imports the same file (through `src/contract/requests.ts`), so the two cannot disagree.
 * No imports and no runtime code beyond constants: the package stays dependency-free.
 */

/** `POST /v1/token` request body. Every field is optional; an empty body is fine. */
export interface TokenRequest {
  /** Token lifetime in whole seconds, within the service's configured [min, max]. */
  ttl?: number;
}

/** What every token answer carries besides its subject. All times are Unix ms in the Worker's clock. */
export interface IssuedToken {
  /** The token: base64 of `{"signature","curTime","ttl"}`. */
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

/** `POST /v1/token` 200 answer: log in with `authType: 1` (dynamic token). */
export interface TokenResponse extends IssuedToken {
  /** The NetEase IM account id to log in with. */
  accid: string;
}

/** `POST /v1/rtc/token` request body. */
export interface RtcTokenRequest {
  /** The NERTC channel: 1 to 64 of `a-z A-Z 0-9`, space and ``!#$%&()+-:;<=.>?@[]^_{|}~,``. */
  channelName: string;
  /** Token lifetime in whole seconds, within the service's configured RTC range. */
  ttl?: number;
}

/** `POST /v1/rtc/token` 200 answer: what `NERtcEngine.joinChannel(token, channelName, uid)` needs. */
export interface RtcTokenResponse extends IssuedToken {
  /** The user's numeric RTC uid: the same on every call and channel, below 2^53. */
  uid: number;
  /** The channel the token is for. */
  channelName: string;
  /**
   * NERTC's advanced permission key (`join({ permkey })`, `permissionKey` in the native SDKs), when
   * the service has NERTC_PERM_SECRET: what this user may do in this channel, and until when.
   */
  permKey?: string;
  /** The key's privilege bits: 1 send audio, 2 send video, 4 receive audio, 8 receive video, 16 create, 32 join. */
  privilege?: number;
  /** The key's lifetime in seconds (set by the channel policy, independent of `ttl`). */
  permKeyTtl?: number;
  /** When the key expires (Unix ms, Worker's clock); NERTC removes a user whose key lapsed. */
  permKeyExpiresAt?: number;
}

/** `POST /v1/chatroom/address` request body. */
export interface ChatroomAddressRequest {
  /** The chatroom's id as NetEase gave it: decimal digits, 1 to 19, without a leading zero. */
  roomId: string;
  /**
   * Which of the room's link addresses, in NetEase's numbering: 1 weblink (WebSocket, for the Web and
   * mini-program SDKs; the default), 2 commonlink (the native SDKs), 3 wechatlink (WeChat).
   */
  clientType?: 1 | 2 | 3;
}

/** `POST /v1/chatroom/address` 200 answer: what the chatroom SDKs' `linkProvider` / `chatroomAddresses` take. */
export interface ChatroomAddressResponse {
  /** The room the addresses are for. */
  roomId: string;
  /** The IM account they were asked for: the user's accid, or for an anonymous visitor a `nimanon_` id of its own. */
  accid: string;
  /** The room's link addresses nearest the client, `host:port`, in NetEase's order (at least one). */
  addresses: string[];
  /** Whether the visitor entered without a session (anonymous mode: enter with `anonymousMode: true`). */
  anonymous: boolean;
}

/** `POST /v1/sessions/revoke` 200 answer: sessions issued before this time no longer get tokens. */
export interface SessionRevokeResponse {
  /** Unix ms (the Worker's clock): sessions issued before it, and IM tokens signed before it, are dead. */
  revokedBefore: number;
}

/** Every stable error code the service can answer with. */
export const ERROR_CODES = [
  "invalid_request",
  "missing_session",
  "unauthorized",
  "invalid_session",
  "session_revoked",
  "session_keys_unavailable",
  "account_blocked",
  "channel_refused",
  "chatroom_refused",
  "app_not_allowed",
  "forbidden",
  "not_found",
  "unknown_app",
  "chatroom_unavailable",
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
