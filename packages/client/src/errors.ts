/** The provider's one error type. */

import type { ErrorBody } from "./contract.js";

/**
 * Error codes the provider adds to the Worker's own. `invalid_options` is thrown by
 * createTokenProvider and createChatroomProviders themselves, for options they cannot work with (a
 * malformed `app` or room id); `room_mismatch` when a chatroom SDK asks for another room's addresses
 * than its providers were made for.
 */
export type ClientErrorCode =
  | "network_error"
  | "invalid_response"
  | "account_mismatch"
  | "room_mismatch"
  | "aborted"
  | "cleared"
  | "invalid_options";

/** A failure to get a token. `code` is the Worker's stable error code, or a ClientErrorCode. */
export class TokenProviderError extends Error {
  override readonly name = "TokenProviderError";
  /** The Worker's error code, or one of the provider's own. */
  readonly code: ErrorBody["error"] | ClientErrorCode;
  /** HTTP status of the Worker's answer, when there was one. */
  readonly status: number | undefined;

  constructor(code: ErrorBody["error"] | ClientErrorCode, message: string, status?: number) {
    super(message);
    this.code = code;
    this.status = status;
  }

  /**
   * Whether asking again (later, or in the background) cannot help without a new session or an operator.
   * `unknown_app` and `app_not_allowed` are the provider's own configuration (or the session's grant)
   * disagreeing with the deployment's: no retry changes that. `chatroom_refused` (the deployment's
   * room policy) and `chatroom_unavailable` (NetEase does not know the room, or it is closed) change
   * only by an operator's hand.
   */
  get final(): boolean {
    return (
      this.code === "account_blocked" ||
      this.code === "channel_refused" ||
      this.code === "chatroom_refused" ||
      this.code === "chatroom_unavailable" ||
      this.code === "unknown_app" ||
      this.code === "app_not_allowed" ||
      this.code === "invalid_session" ||
      this.code === "missing_session" ||
      this.code === "session_revoked"
    );
  }
}
