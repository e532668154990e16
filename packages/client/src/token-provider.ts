/**
 * A token provider for apps: fetches dynamic tokens from nim-token-worker and hands them to the
 * NetEase IM SDKs' refresh hooks (Web SDK v10 `tokenProvider`, v9 `onwillreconnect`, and through
 * `peek()` the native hooks that cannot wait).
 *
 * Why it is built so:
 * - A token is kept ready ahead of time. After each answer a background refresh is scheduled a
 *   little (jittered) before `refreshAfter`, so `getToken()` answers from memory whenever a valid
 *   token exists: NetEase's Flutter bridge waits only ~500 ms for a token, and every native hook runs
 *   inside the SDK's reconnect path, where an HTTP call on a slow network would fail the login.
 * - Times are judged in the Worker's clock: each answer's `serverTime` gives the offset between the
 *   device clock and the Worker's, so a phone whose clock is minutes off still refreshes in time.
 *   A token that expires within `refreshMargin` (Worker's clock) is never handed out.
 * - One request in flight at a time: the SDK may ask on every reconnect, several at once.
 * - Sign-out is a hard boundary. `clear()` aborts the request in flight and discards its answer, and
 *   callers still waiting on it are rejected with `cleared`: nothing fetched for an earlier session
 *   is ever returned after `clear()`, so user B can never receive user A's accid or token.
 * - Retries only what retrying can fix: network errors, 5xx and 429, with exponential backoff, full
 *   jitter and `Retry-After`. A 401 asks the app for a fresh session once. 403 `account_blocked`,
 *   a second 401 and other 4xx are final: no retry, and the background refresh stops.
 * - No dependencies and no Worker code: it imports only the contract types, and runs in browsers,
 *   React Native and Node ≥ 18.
 */

import type { ErrorBody, RtcTokenResponse, TokenResponse } from "./contract.js";

/** Options for createTokenProvider. */
export interface TokenProviderOptions {
  /** Full URL of the Worker's token endpoint, e.g. `https://tokens.example.com/v1/token`. */
  endpoint: string;
  /**
   * Full URL of the Worker's NERTC token endpoint; by default `endpoint` with its `/v1/token` ending
   * replaced by `/v1/rtc/token`.
   */
  rtcEndpoint?: string;
  /** NERTC token lifetime to ask for, in seconds; the Worker's RTC default when omitted. */
  rtcTtl?: number;
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
   * Never hand out a token that expires within this many ms (Worker's clock), and refresh at the
   * latest this long before expiry even if `refreshAfter` is later. Default 30 000.
   */
  refreshMargin?: number;
  /**
   * Refresh in the background before `refreshAfter` so a token is always ready (default true).
   * Pause it while the app is in the background with `setActive(false)`.
   */
  backgroundRefresh?: boolean;
  /** Aborts in-flight requests and retry waits for good; later calls reject with `aborted`. */
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

/** What `NERtcEngine.joinChannel(token, channelName, uid)` needs. */
export interface RtcCredentials {
  /** The user's numeric RTC uid (the same on every channel). */
  uid: number;
  channelName: string;
  token: string;
  appKey: string;
}

/** The provider. Pass `getToken` as the SDK's tokenProvider. */
export interface TokenProvider {
  /**
   * A valid token, from memory when one is ready, else fetched. `accountId` is what the SDK passes;
   * when given it must match the accid the Worker maps this session to.
   */
  getToken(accountId?: string): Promise<string>;
  /** accid, token and appKey for `login(accid, token, { authType: 1, tokenProvider })`. */
  getLogin(): Promise<LoginCredentials>;
  /**
   * The current token if one is valid beyond the safety margin, else undefined; never waits and never
   * throws. For hooks that cannot await. A token past `refreshAfter` also starts a background refresh.
   */
  peek(accountId?: string): string | undefined;
  /**
   * A NERTC token for `channelName`, with the same rules as `getToken`: from memory when fresh, one
   * request per channel at a time, refreshed in the background while held. The provider keeps the
   * last 8 channels asked for.
   */
  getRtcToken(channelName: string): Promise<RtcCredentials>;
  /** Fetches a token now unless a fresh one is held (warm it before login, or on app start). */
  prefetch(): Promise<void>;
  /** Pauses (false) or resumes (true) the background refresh, e.g. on app background/foreground. */
  setActive(active: boolean): void;
  /** Sign-out: forgets the token, aborts and discards any request in flight, stops refreshing. */
  clear(): void;
  /** Stops for good: like clear(), and every later call rejects with `aborted`. */
  dispose(): void;
}

/** Error codes the provider adds to the Worker's own. */
export type ClientErrorCode = "network_error" | "invalid_response" | "account_mismatch" | "aborted" | "cleared";

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

  /** Whether asking again (later, or in the background) cannot help without a new session or an operator. */
  get final(): boolean {
    return this.code === "account_blocked" || this.code === "invalid_session" || this.code === "missing_session";
  }
}

const MAX_DELAY_MS = 8_000;
const MAX_RETRY_AFTER_MS = 60_000;
/** The background refresh starts up to this share of the token's lifetime before the refresh point. */
const REFRESH_JITTER_FRACTION = 0.1;
const MAX_REFRESH_JITTER_MS = 30_000;
/** After a failed background refresh, try again this much later (while the held token lasts). */
const BACKGROUND_RETRY_MS = 15_000;
/** RTC channels whose tokens are kept (and refreshed); the least recently asked for goes first. */
const MAX_RTC_CHANNELS = 8;

/** The timing fields every token answer carries (Unix ms, Worker's clock). */
interface Timed {
  curTime: number;
  expiresAt: number;
  serverTime: number;
  refreshAfter: number;
}

/**
 * One sign-in's lifetime: everything fetched under it is dropped when it ends (clear or dispose).
 * Its controller aborts the requests and waits that belong to it.
 */
interface Epoch {
  readonly controller: AbortController;
}

/** Creates a token provider. */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  const {
    endpoint,
    getSessionToken,
    ttl,
    refreshMargin = 30_000,
    backgroundRefresh = true,
    signal,
    maxAttempts = 4,
    retryBaseDelay = 500,
    now = Date.now,
    random = Math.random,
    sleep = defaultSleep,
  } = options;
  const fetchImpl = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => globalThis.fetch(input, init));

  /** Worker clock minus device clock, from the last answer. */
  let offset = 0;
  let active = true;
  let disposed = false;
  let epoch: Epoch = { controller: new AbortController() };
  const workerNow = () => now() + offset;
  const aborted = () => new TokenProviderError("aborted", "The token provider was stopped.");
  const cleared = () =>
    new TokenProviderError("cleared", "The session was cleared (sign-out) while this token was being fetched.");

  signal?.addEventListener("abort", () => dispose(), { once: true });

  /** Throws when `owner` is no longer the current epoch: its answer belongs to a signed-out session. */
  function assertCurrent(owner: Epoch): void {
    if (disposed || signal?.aborted) throw aborted();
    if (owner !== epoch) throw cleared();
  }

  /**
   * A cached token with single-flight fetching and background refresh. The IM token is one slot;
   * the design keeps room for more (one per RTC channel).
   */
  function createSlot<T extends Timed>(url: string, body: () => unknown, accept: (value: unknown) => value is T) {
    let cached: T | undefined;
    let inflight: Promise<T> | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const refreshAt = (t: T) => Math.min(t.refreshAfter, t.expiresAt - refreshMargin);
    const fresh = (t: T) => workerNow() < refreshAt(t);
    const usable = (t: T) => workerNow() < t.expiresAt - refreshMargin;

    function stopTimer(): void {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    }

    /** Schedules the background refresh `inMs` from now (device clock). */
    function schedule(inMs: number): void {
      stopTimer();
      if (!backgroundRefresh || !active || disposed) return;
      timer = setTimeout(background, Math.max(0, inMs));
      // In Node, a pending refresh must not keep a finished script alive.
      (timer as { unref?: () => void }).unref?.();
    }

    function scheduleFor(t: T): void {
      const lifetime = t.expiresAt - t.curTime;
      const jitter = random() * Math.min(MAX_REFRESH_JITTER_MS, lifetime * REFRESH_JITTER_FRACTION);
      schedule(refreshAt(t) - jitter - workerNow());
    }

    function background(): void {
      timer = undefined;
      if (!active || disposed) return;
      fetchShared().catch((error: unknown) => {
        if (
          !(error instanceof TokenProviderError) ||
          error.final ||
          error.code === "aborted" ||
          error.code === "cleared"
        )
          return;
        // Transient: try again while the token we hold still lasts (foreground calls fetch anyway).
        if (cached && usable(cached)) schedule(BACKGROUND_RETRY_MS);
      });
    }

    function fetchShared(): Promise<T> {
      if (inflight) return inflight;
      const owner = epoch;
      const flight = fetchWithRetry(owner, url, body, accept).then((token) => {
        assertCurrent(owner);
        cached = token;
        scheduleFor(token);
        return token;
      });
      inflight = flight;
      // Only the current epoch's flight is cleared here; clear() already dropped an older one.
      const settle = () => {
        if (inflight === flight) inflight = undefined;
      };
      flight.then(settle, settle);
      return flight;
    }

    return {
      /** A fresh token from memory, or the shared fetch. */
      async get(): Promise<T> {
        if (disposed || signal?.aborted) throw aborted();
        if (cached && fresh(cached)) return cached;
        return fetchShared();
      },
      /** The held token if usable; past its refresh point it also starts a background refresh. */
      peek(): T | undefined {
        if (disposed || !cached || !usable(cached)) return undefined;
        if (!fresh(cached) && !inflight) background();
        return cached;
      },
      /** Resumes background refresh after a pause. */
      resume(): void {
        if (!cached) return;
        if (fresh(cached)) scheduleFor(cached);
        else background();
      },
      pause: stopTimer,
      /** Forgets everything; an abandoned flight is rejected by its own epoch check. */
      reset(): void {
        stopTimer();
        cached = undefined;
        inflight = undefined;
      },
    };
  }

  async function fetchWithRetry<T>(
    owner: Epoch,
    url: string,
    body: () => unknown,
    accept: (value: unknown) => value is T,
  ): Promise<T> {
    let forceRefresh = false;
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      assertCurrent(owner);
      const session = await getSessionToken({ forceRefresh });
      assertCurrent(owner);
      const outcome = await attemptOnce(owner, url, session, body(), accept);
      if ("token" in outcome) return outcome.token;
      const { error, retryAfterMs } = outcome;
      if (error.status === 401 && !reauthenticated) {
        // The session may simply have expired: ask the app for a new one, once.
        reauthenticated = true;
        forceRefresh = true;
        attempt--;
        continue;
      }
      const retryable =
        error.code === "network_error" || error.status === 429 || (error.status !== undefined && error.status >= 500);
      if (!retryable || attempt >= maxAttempts) throw error;
      const backoff = random() * Math.min(MAX_DELAY_MS, retryBaseDelay * 2 ** (attempt - 1));
      await sleep(Math.max(backoff, retryAfterMs ?? 0), owner.controller.signal);
    }
  }

  async function attemptOnce<T>(
    owner: Epoch,
    url: string,
    session: string,
    requestBody: unknown,
    accept: (value: unknown) => value is T,
  ): Promise<{ token: T } | { error: TokenProviderError; retryAfterMs?: number }> {
    let response: Response;
    let body: unknown;
    const sentAt = now();
    try {
      response = await fetchImpl(url, {
        method: "POST",
        headers: { Authorization: `Bearer ${session}`, "Content-Type": "application/json" },
        body: JSON.stringify(requestBody),
        signal: owner.controller.signal,
      });
      body = await response.json().catch(() => undefined);
    } catch {
      assertCurrent(owner);
      return { error: new TokenProviderError("network_error", "Could not reach the token service.") };
    }
    // A fetch that ignored the abort still lands here: its answer must not outlive the sign-out.
    assertCurrent(owner);
    if (response.ok) {
      if (!accept(body) || !isTimed(body)) {
        return {
          error: new TokenProviderError(
            "invalid_response",
            "The token service answered with an unexpected body.",
            response.status,
          ),
        };
      }
      // The answer was produced somewhere between sending and receiving; the midpoint halves the error.
      offset = body.serverTime - Math.round((sentAt + now()) / 2);
      return { token: body };
    }
    const error = isErrorBody(body)
      ? new TokenProviderError(body.error, body.message, response.status)
      : new TokenProviderError(
          response.status >= 500 ? "upstream_unavailable" : "invalid_response",
          `HTTP ${response.status}`,
          response.status,
        );
    return { error, retryAfterMs: parseRetryAfter(response.headers.get("Retry-After"), now()) };
  }

  type Slot = ReturnType<typeof createSlot>;
  const im = createSlot<TokenResponse>(endpoint, () => (ttl === undefined ? {} : { ttl }), isTokenResponse);
  const rtcUrl = options.rtcEndpoint ?? endpoint.replace(/\/v1\/token\/?$/, "/v1/rtc/token");
  /** RTC token slots by channel, in order of last use. */
  const rtc = new Map<string, ReturnType<typeof createSlot<RtcTokenResponse>>>();
  const slots = (): Slot[] => [im, ...rtc.values()];

  function rtcSlot(channelName: string) {
    let slot = rtc.get(channelName);
    if (slot) rtc.delete(channelName);
    else {
      const body = () => (options.rtcTtl === undefined ? { channelName } : { channelName, ttl: options.rtcTtl });
      slot = createSlot<RtcTokenResponse>(rtcUrl, body, isRtcTokenResponse);
    }
    rtc.set(channelName, slot);
    for (const [name, old] of rtc) {
      if (rtc.size <= MAX_RTC_CHANNELS) break;
      old.reset();
      rtc.delete(name);
    }
    return slot;
  }

  function endEpoch(): void {
    epoch.controller.abort();
    epoch = { controller: new AbortController() };
    for (const slot of slots()) slot.reset();
    rtc.clear();
  }

  function dispose(): void {
    if (disposed) return;
    disposed = true;
    endEpoch();
  }

  const checkAccount = (token: TokenResponse, accountId: string | undefined) => {
    if (accountId !== undefined && accountId !== token.accid) {
      throw new TokenProviderError(
        "account_mismatch",
        "The SDK asked for a token for another account than this session's.",
      );
    }
  };

  return {
    async getToken(accountId?: string): Promise<string> {
      const token = await im.get();
      checkAccount(token, accountId);
      return token.token;
    },
    async getLogin(): Promise<LoginCredentials> {
      const { accid, token, appKey } = await im.get();
      return { accid, token, appKey };
    },
    peek(accountId?: string): string | undefined {
      const token = im.peek();
      return token && (accountId === undefined || accountId === token.accid) ? token.token : undefined;
    },
    async getRtcToken(channelName: string): Promise<RtcCredentials> {
      const { uid, token, appKey } = await rtcSlot(channelName).get();
      return { uid, channelName, token, appKey };
    },
    async prefetch(): Promise<void> {
      await im.get();
    },
    setActive(value: boolean): void {
      if (active === value) return;
      active = value;
      for (const slot of slots()) {
        if (active) slot.resume();
        else slot.pause();
      }
    },
    clear(): void {
      if (!disposed) endEpoch();
    },
    dispose,
  };
}

function isTimed(body: unknown): body is Timed {
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

function isTokenResponse(body: unknown): body is TokenResponse {
  return isIssued(body) && typeof body.accid === "string";
}

function isRtcTokenResponse(body: unknown): body is RtcTokenResponse {
  return isIssued(body) && Number.isSafeInteger(body.uid) && typeof body.channelName === "string";
}

function isErrorBody(body: unknown): body is ErrorBody {
  return (
    typeof body === "object" &&
    body !== null &&
    typeof (body as ErrorBody).error === "string" &&
    typeof (body as ErrorBody).message === "string"
  );
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
