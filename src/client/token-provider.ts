/**
 * A token provider for apps: fetches dynamic tokens from nim-token-worker and hands them to the
 * NetEase IM SDKs' refresh hooks (Web SDK v10 `tokenProvider`, v9 `onwillreconnect`).
 *
 * Why it is built so:
 * - Tokens are cached until `refreshAfter`, judged in the Worker's clock: each answer's `serverTime`
 *   gives the offset between the device clock and the Worker's, so a phone whose clock is minutes off
 *   still refreshes in time (and does not treat a fresh token as expired).
 * - One request in flight at a time: the SDK may ask on every reconnect, several at once.
 * - Retries only what retrying can fix: network errors, 5xx and 429, with exponential backoff, full
 *   jitter and `Retry-After`. A 401 asks the app for a fresh session once. 403 `account_blocked`
 *   and other 4xx are final and surface as a TokenProviderError with the Worker's error code.
 * - No dependencies and no Worker code: it imports only the shared contract types, and runs in
 *   browsers, React Native and Node ≥ 18.
 */

import type { ErrorBody, TokenResponse } from "../contract.ts";

/** Options for createTokenProvider. */
export interface TokenProviderOptions {
  /** Full URL of the Worker's token endpoint, e.g. `https://tokens.example.com/v1/token`. */
  endpoint: string;
  /**
   * Returns the app-session JWT. Called before each request; with `forceRefresh: true` after a 401,
   * when the app should get a new session from its backend rather than return a cached one.
   */
  getSessionToken: (options: { forceRefresh: boolean }) => string | Promise<string>;
  /** fetch to use; defaults to the global one. */
  fetch?: typeof fetch;
  /** Token lifetime to ask for, in seconds; the Worker's default when omitted. */
  ttl?: number;
  /**
   * Refresh at least this many ms before the token expires, even if `refreshAfter` is later
   * (covers slow networks near expiry). Default 30 000.
   */
  refreshMargin?: number;
  /** Aborts in-flight requests and retry waits; later calls reject at once. */
  signal?: AbortSignal;
  /** Attempts per fetch, including the first (default 4). */
  maxAttempts?: number;
  /** Backoff before the second attempt, in ms (default 500); doubles per attempt up to 8 000. */
  retryBaseDelay?: number;
  /** Clock and randomness; override in tests. */
  now?: () => number;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** What the first login needs. */
export interface LoginCredentials {
  accid: string;
  token: string;
  appKey: string;
}

/** The provider. Pass `getToken` as the SDK's tokenProvider. */
export interface TokenProvider {
  /**
   * A valid token, fetched or from the cache. `accountId` is what the SDK passes; when given it must
   * match the accid the Worker maps this session to.
   */
  getToken(accountId?: string): Promise<string>;
  /** accid, token and appKey for `login(accid, token, { authType: 1, tokenProvider })`. */
  getLogin(): Promise<LoginCredentials>;
  /** Drops the cached token (e.g. on sign-out); the next call fetches. */
  clear(): void;
}

/** Error codes the provider adds to the Worker's own. */
export type ClientErrorCode = "network_error" | "invalid_response" | "account_mismatch" | "aborted";

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
}

const MAX_DELAY_MS = 8_000;
const MAX_RETRY_AFTER_MS = 60_000;

/** Creates a token provider. */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  const {
    endpoint,
    getSessionToken,
    ttl,
    refreshMargin = 30_000,
    signal,
    maxAttempts = 4,
    retryBaseDelay = 500,
    now = Date.now,
    random = Math.random,
    sleep = defaultSleep,
  } = options;
  const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));

  let cached: TokenResponse | undefined;
  /** Worker clock minus device clock, from the last answer. */
  let offset = 0;
  let inflight: Promise<TokenResponse> | undefined;

  const workerNow = () => now() + offset;
  const fresh = (t: TokenResponse) => workerNow() < Math.min(t.refreshAfter, t.expiresAt - refreshMargin);

  async function current(): Promise<TokenResponse> {
    if (signal?.aborted) throw new TokenProviderError("aborted", "The token provider was aborted.");
    if (cached && fresh(cached)) return cached;
    inflight ??= fetchWithRetry().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  async function fetchWithRetry(): Promise<TokenResponse> {
    let forceRefresh = false;
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      const outcome = await attemptOnce(await getSessionToken({ forceRefresh }));
      if ("token" in outcome) return outcome.token;
      const { error, retryAfterMs } = outcome;
      if (error.status === 401 && !reauthenticated) {
        // The session may simply have expired: ask the app for a new one, once.
        reauthenticated = true;
        forceRefresh = true;
        attempt--;
        continue;
      }
      const retryable = error.code === "network_error" || error.status === 429 || (error.status !== undefined && error.status >= 500);
      if (!retryable || attempt >= maxAttempts) throw error;
      const backoff = random() * Math.min(MAX_DELAY_MS, retryBaseDelay * 2 ** (attempt - 1));
      await sleep(Math.max(backoff, retryAfterMs ?? 0), signal);
      if (signal?.aborted) throw new TokenProviderError("aborted", "The token provider was aborted.");
    }
  }

  async function attemptOnce(session: string): Promise<{ token: TokenResponse } | { error: TokenProviderError; retryAfterMs?: number }> {
    let response: Response;
    const sentAt = now();
    try {
      response = await fetchImpl(endpoint, {
        method: "POST",
        headers: { Authorization: `Bearer ${session}`, "Content-Type": "application/json" },
        body: JSON.stringify(ttl === undefined ? {} : { ttl }),
        signal,
      });
    } catch {
      if (signal?.aborted) throw new TokenProviderError("aborted", "The token provider was aborted.");
      return { error: new TokenProviderError("network_error", "Could not reach the token service.") };
    }
    const body: unknown = await response.json().catch(() => undefined);
    if (response.ok) {
      if (!isTokenResponse(body)) {
        return { error: new TokenProviderError("invalid_response", "The token service answered with an unexpected body.", response.status) };
      }
      // The answer was produced somewhere between sending and receiving; the midpoint halves the error.
      offset = body.serverTime - Math.round((sentAt + now()) / 2);
      cached = body;
      return { token: body };
    }
    const error = isErrorBody(body)
      ? new TokenProviderError(body.error, body.message, response.status)
      : new TokenProviderError(response.status >= 500 ? "upstream_unavailable" : "invalid_response", `HTTP ${response.status}`, response.status);
    return { error, retryAfterMs: parseRetryAfter(response.headers.get("Retry-After"), now()) };
  }

  return {
    async getToken(accountId?: string): Promise<string> {
      const token = await current();
      if (accountId !== undefined && accountId !== token.accid) {
        throw new TokenProviderError("account_mismatch", "The SDK asked for a token for another account than this session's.");
      }
      return token.token;
    },
    async getLogin(): Promise<LoginCredentials> {
      const { accid, token, appKey } = await current();
      return { accid, token, appKey };
    },
    clear(): void {
      cached = undefined;
    },
  };
}

function isTokenResponse(body: unknown): body is TokenResponse {
  if (typeof body !== "object" || body === null) return false;
  const b = body as Record<string, unknown>;
  return (
    typeof b.accid === "string" &&
    typeof b.token === "string" &&
    typeof b.appKey === "string" &&
    ["curTime", "ttl", "expiresAt", "serverTime", "refreshAfter"].every((k) => typeof b[k] === "number" && Number.isFinite(b[k]))
  );
}

function isErrorBody(body: unknown): body is ErrorBody {
  return typeof body === "object" && body !== null && typeof (body as ErrorBody).error === "string" && typeof (body as ErrorBody).message === "string";
}

/** Retry-After as ms: delta-seconds or an HTTP date, capped at a minute. */
function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value) * 1000 : Date.parse(value) - nowMs;
  return Number.isFinite(ms) && ms > 0 ? Math.min(ms, MAX_RETRY_AFTER_MS) : undefined;
}

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
