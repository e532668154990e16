/**
 * The domain's error: what went wrong, in the domain's own words, with no HTTP in it.
 *
 * `session/`, `accounts/`, `nim/`, `config.ts` and `admin/` throw a `DomainError`; only the HTTP
 * edge (`http/errors.ts`) turns it into a status, a stable error code and headers. A kind reads as
 * its code does where the two are one idea (`invalid_session`); a kind is finer where one code covers
 * several causes (`upstream_rate_limited` and `creation_queue_full` both answer `upstream_unavailable`).
 * `detail` is for the log only, built from fixed text and codes, never a secret, a token or a raw JWT.
 */

/** What can go wrong, in the domain's own words. */
export type DomainErrorKind =
  | "missing_session"
  | "invalid_session"
  | "session_revoked"
  | "session_keys_unavailable"
  | "storage_unavailable"
  | "record_corrupt"
  | "upstream_unavailable"
  | "upstream_rate_limited"
  | "creation_queue_full"
  | "upstream_rejected"
  | "account_blocked"
  | "channel_refused"
  | "chatroom_refused"
  | "chatroom_unavailable"
  | "app_not_allowed"
  | "unknown_app"
  | "account_not_found"
  | "account_conflict"
  | "accid_not_registered"
  | "request_id_reused"
  | "misconfigured"
  | "rate_limited";

/** Whether a fetch failed because its `AbortSignal.timeout` fired (workerd and Node name it differently). */
export function isFetchTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
}

/** Which NetEase call failed and how: fixed words and NetEase's numeric codes only. */
export interface UpstreamFailure {
  /** The call, as the logs name it (`user/create.action`, `POST /im/v2/accounts`). */
  action: string;
  /** NetEase's code (`416`, `414`), `HTTP_<status>`, `timeout`, `network`, `bad_answer` or `held` (416 block on). */
  code: string;
}

/** A failure in domain terms. `detail` is for the log only; `reason` (conflicts) is shown to the caller. */
export class DomainError extends Error {
  override readonly name: string = "DomainError";
  readonly kind: DomainErrorKind;
  readonly detail: string | undefined;
  /** A caller-facing explanation that replaces the table's message (used for conflicts). */
  readonly reason: string | undefined;
  /** Seconds, replacing the table's Retry-After when the wait is known (a creation queue's length). */
  readonly retryAfter: number | undefined;
  /** For a NetEase failure: which call, and NetEase's code (or HTTP_<status>, timeout, network), for metrics. */
  readonly upstream: UpstreamFailure | undefined;

  constructor(
    kind: DomainErrorKind,
    options: {
      detail?: string | undefined;
      reason?: string | undefined;
      retryAfter?: number | undefined;
      upstream?: UpstreamFailure | undefined;
    } = {},
  ) {
    super(options.detail ?? kind);
    this.kind = kind;
    this.detail = options.detail;
    this.reason = options.reason;
    this.retryAfter = options.retryAfter;
    this.upstream = options.upstream;
  }
}
