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
 *   401 `session_revoked` (signed out everywhere), 404 `unknown_app` and 403 `app_not_allowed` (the
 *   `app` option and the deployment disagree), 403 `chatroom_refused` and 404 `chatroom_unavailable`,
 *   a second 401 and other 4xx are not retried; the background refresh stops for those only a new
 *   session or an operator can fix (`error.final`), and tries again later for the rest while the
 *   held token lasts.
 * - Chatroom addresses cross the same sign-out boundary and share requests the same way (one per
 *   room and client type), but are never kept: the SDK asks again only when the ones it holds failed.
 * - No dependencies and no Worker code: it imports only the contract types, and runs in browsers,
 *   React Native and Node ≥ 18.
 *
 * The parts: `session.ts` (the Worker's clock, and sign-in epochs), `transport.ts` (one request with
 * its retries), `slot.ts` (one cached token with its background refresh), `answers.ts` (what the
 * Worker answers), `endpoints.ts` (the URLs, for the home app or a named one), `chatroom.ts` (the
 * address requests, and the chatroom SDK's hooks); this file assembles them behind the
 * `TokenProvider` interface.
 */

import { isRtcTokenResponse, isSessionRevokeResponse, isTokenResponse, rtcTimes, type Timed } from "./answers.js";
import { type ChatroomAddresses, type ChatroomClientType, chatroomAddressesOf, chatroomRequest } from "./chatroom.js";
import type { RtcTokenResponse, SessionRevokeResponse, TokenResponse } from "./contract.js";
import { endpointsOf } from "./endpoints.js";
import { TokenProviderError } from "./errors.js";
import { defaultSleep, Lifecycle, WorkerClock } from "./session.js";
import { createSlot, type Slot } from "./slot.js";
import { createTransport, globalFetch } from "./transport.js";

export { type ClientErrorCode, TokenProviderError } from "./errors.js";

/** Options for createTokenProvider. */
export interface TokenProviderOptions {
  /** Full URL of the Worker's token endpoint, e.g. `https://tokens.example.com/v1/token`. */
  endpoint: string;
  /**
   * The NetEase app's name in this deployment, for a deployment that serves several (`[a-z0-9-]`,
   * 1 to 32). Every endpoint derived from `endpoint` is then that app's: `/v1/apps/{app}/token`,
   * `/v1/apps/{app}/rtc/token`, `/v1/apps/{app}/chatroom/address` and `/v1/apps/{app}/sessions/revoke`
   * in place of the `/v1/token` ending. Omitted: the deployment's home app. `createTokenProvider`
   * throws `invalid_options` for a malformed name, or an `endpoint` ending in neither `/v1/token` nor
   * `/v1/apps/{app}/token`.
   */
  app?: string;
  /**
   * Full URL of the Worker's NERTC token endpoint; by default `endpoint` with its `/v1/token` ending
   * replaced by `/v1/rtc/token` (`/v1/apps/{app}/rtc/token` with `app`).
   */
  rtcEndpoint?: string;
  /** NERTC token lifetime to ask for, in seconds; the Worker's RTC default when omitted. */
  rtcTtl?: number;
  /**
   * Full URL of the Worker's chatroom address endpoint; by default `endpoint` with its `/v1/token`
   * ending replaced by `/v1/chatroom/address` (`/v1/apps/{app}/chatroom/address` with `app`).
   */
  chatroomEndpoint?: string;
  /**
   * Full URL of the Worker's sign-out-everywhere endpoint; by default `endpoint` with its `/v1/token`
   * ending replaced by `/v1/sessions/revoke` (`/v1/apps/{app}/sessions/revoke` with `app`).
   */
  revokeEndpoint?: string;
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
  /**
   * NERTC's advanced permission key, when the Worker issues them: `join({ permkey })` on the Web,
   * `NERtcJoinChannelOptions.permissionKey` natively. Renew it with `keepPermKeyFresh`.
   */
  permKey?: string;
  /** The key's privilege bits (1 send audio, 2 send video, 4 receive audio, 8 receive video, 16 create, 32 join). */
  privilege?: number;
  /** When the key expires (Unix ms, the Worker's clock). */
  permKeyExpiresAt?: number;
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
  /**
   * A NERTC token and permission key for `channelName` fetched now, whatever is held: for NERTC's
   * "permission key will expire" event, which comes 30 s before the key in use lapses (the held one
   * may be that very key). One request per channel at a time, as with `getRtcToken`.
   */
  refreshRtcToken(channelName: string): Promise<RtcCredentials>;
  /**
   * Chatroom `roomId`'s link addresses for this session's accid, fetched now: NetEase's SDKs ask on
   * entering and again only when the addresses they hold failed, so none are kept. One request per
   * room and client type at a time; retried as token requests are. For `createChatroomProviders`
   * (Web SDK v10) or v9's `chatroomAddresses`. `chatroom_refused` (403) and `chatroom_unavailable`
   * (404) are final.
   */
  getChatroomAddresses(roomId: string, clientType?: ChatroomClientType): Promise<ChatroomAddresses>;
  /** Fetches a token now unless a fresh one is held (warm it before login, or on app start). */
  prefetch(): Promise<void>;
  /** Pauses (false) or resumes (true) the background refresh, e.g. on app background/foreground. */
  setActive(active: boolean): void;
  /** Sign-out: forgets the token, aborts and discards any request in flight, stops refreshing. */
  clear(): void;
  /**
   * Signs the user out everywhere: the Worker refuses every session of this user signed in to until
   * now (on every device, this one included), refreshed tokens of those sign-ins too, the IM login
   * callback refuses every IM token signed until now, and live IM sessions are kicked. Then behaves
   * as after `clear()`, whether or not the request succeeded (the user asked to sign out). Resolves
   * with the Worker's `revokedBefore`; rejects with a TokenProviderError when the Worker could not be
   * told (retried as token requests are).
   *
   * Also sign the user out at your identity provider (Firebase `revokeRefreshTokens`, Cognito
   * `GlobalSignOut`, Clerk's session revoke, Supabase `signOut({ scope: "global" })`): the Worker
   * stops what its sessions get here, the provider stops them being refreshed for anything else.
   */
  signOutEverywhere(): Promise<SessionRevokeResponse>;
  /** Stops for good: like clear(), and every later call rejects with `aborted`. */
  dispose(): void;
}

/** RTC channels whose tokens are kept (and refreshed); the least recently asked for goes first. */
const MAX_RTC_CHANNELS = 8;

/**
 * Creates a token provider.
 *
 * @throws TokenProviderError `invalid_options` when the options name a malformed `app`, or an `app`
 *   whose URLs cannot be derived from `endpoint`.
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  // First, before anything starts: a provider with unusable options must not exist at all.
  const urls = endpointsOf(options);
  const {
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
  const clock = new WorkerClock(now);
  const lifecycle = new Lifecycle(signal);
  let active = true;
  const fetchToken = createTransport({
    fetch: options.fetch ?? globalFetch,
    getSessionToken,
    maxAttempts,
    retryBaseDelay,
    random,
    sleep,
    clock,
    lifecycle,
  });
  const slotOf = <T extends TokenResponse | RtcTokenResponse>(
    url: string,
    body: () => unknown,
    accept: (value: unknown) => value is T,
    times?: (value: T) => Timed,
  ): Slot<T> =>
    createSlot({
      url,
      body,
      accept,
      ...(times ? { times } : {}),
      fetchToken,
      clock,
      lifecycle,
      refreshMargin,
      backgroundRefresh,
      random,
      isActive: () => active,
    });

  const im = slotOf(urls.token, () => (ttl === undefined ? {} : { ttl }), isTokenResponse);
  /** RTC token slots by channel, in order of last use. */
  const rtc = new Map<string, Slot<RtcTokenResponse>>();
  const slots = (): Slot<TokenResponse | RtcTokenResponse>[] => [im, ...rtc.values()];
  /** Chatroom address requests in flight, by room and client type (answers are not kept). */
  const chatroomFlights = new Map<string, Promise<ChatroomAddresses>>();

  function chatroomAddresses(roomId: string, clientType: ChatroomClientType | undefined): Promise<ChatroomAddresses> {
    lifecycle.assertLive();
    const key = `${roomId}/${clientType ?? ""}`;
    const pending = chatroomFlights.get(key);
    if (pending) return pending;
    const owner = lifecycle.epoch;
    const { body, accept } = chatroomRequest(roomId, clientType, false);
    const flight = fetchToken(owner, urls.chatroom, body, accept).then((answer) => {
      lifecycle.assertCurrent(owner);
      return chatroomAddressesOf(answer);
    });
    chatroomFlights.set(key, flight);
    // Only the current epoch's flight is removed here; clear() already dropped an older one.
    const settle = () => {
      if (chatroomFlights.get(key) === flight) chatroomFlights.delete(key);
    };
    flight.then(settle, settle);
    return flight;
  }

  function rtcSlot(channelName: string): Slot<RtcTokenResponse> {
    let slot = rtc.get(channelName);
    if (slot) rtc.delete(channelName);
    else {
      const body = () => (options.rtcTtl === undefined ? { channelName } : { channelName, ttl: options.rtcTtl });
      slot = slotOf(urls.rtc, body, isRtcTokenResponse, rtcTimes);
    }
    rtc.set(channelName, slot);
    for (const [name, old] of rtc) {
      if (rtc.size <= MAX_RTC_CHANNELS) break;
      old.reset();
      rtc.delete(name);
    }
    return slot;
  }

  /** Sign-out: everything of the ending epoch is forgotten, and its requests aborted. */
  function forget(): void {
    for (const slot of slots()) slot.reset();
    rtc.clear();
    chatroomFlights.clear();
  }

  function clear(): void {
    if (lifecycle.stopped) return;
    lifecycle.end();
    forget();
  }

  function dispose(): void {
    if (lifecycle.dispose()) forget();
  }
  signal?.addEventListener("abort", () => dispose(), { once: true });

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
      return rtcCredentials(await rtcSlot(channelName).get());
    },
    async refreshRtcToken(channelName: string): Promise<RtcCredentials> {
      return rtcCredentials(await rtcSlot(channelName).refresh());
    },
    async getChatroomAddresses(roomId: string, clientType?: ChatroomClientType): Promise<ChatroomAddresses> {
      return chatroomAddresses(roomId, clientType);
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
    clear,
    async signOutEverywhere(): Promise<SessionRevokeResponse> {
      lifecycle.assertLive();
      try {
        return await fetchToken(lifecycle.epoch, urls.revoke, () => ({}), isSessionRevokeResponse);
      } finally {
        clear();
      }
    },
    dispose,
  };
}

function rtcCredentials(answer: RtcTokenResponse): RtcCredentials {
  const { uid, channelName, token, appKey, permKey, privilege, permKeyExpiresAt } = answer;
  return permKey === undefined
    ? { uid, channelName, token, appKey }
    : { uid, channelName, token, appKey, permKey, privilege, permKeyExpiresAt };
}
