/**
 * Chatrooms: the link addresses NetEase's chatroom SDKs connect to, from the Worker's
 * `POST /v1/chatroom/address`, and the two hooks of the Web SDK v10 chatroom client
 * (`V2NIMChatroomClient.enter(roomId, { accountId, linkProvider, loginOption: { authType: 1, tokenProvider } })`).
 *
 * Why it is built so:
 * - The hooks do not trust their arguments. nim-web-sdk-ng 10.8.1 declares
 *   `linkProvider(roomId, accountId)` but calls `linkProvider(account, roomId)`: the room asked
 *   about is always the one the providers were made for, and a call in which neither argument is
 *   that room (the hooks passed to another room's `enter`) is refused with `room_mismatch`.
 * - Addresses are not kept. The SDK asks on `enter` and again only after NetEase's error 399 (the
 *   server unit failed): then the addresses it holds are the bad ones, and only a new answer helps.
 * - Room ids are checked when the providers are made: a failure inside `enter` reaches the app only
 *   as the SDK's "linkProvider error" text.
 * - Anonymous visitors have no session and no provider: `getAnonymousChatroomAddresses` asks
 *   without one, with the same retries, and the answer's `nimanon_` accid is the one to enter with.
 */

import { isChatroomAddressResponse } from "./answers.js";
import type { ChatroomAddressRequest, ChatroomAddressResponse } from "./contract.js";
import { endpointsOf } from "./endpoints.js";
import { TokenProviderError } from "./errors.js";
import { defaultSleep, Lifecycle, WorkerClock } from "./session.js";
import { createTransport, globalFetch } from "./transport.js";

/**
 * Which of a room's link addresses, in NetEase's numbering: 1 weblink (WebSocket: the Web and
 * mini-program SDKs, the Worker's default), 2 commonlink (the native SDKs), 3 wechatlink (WeChat).
 */
export type ChatroomClientType = NonNullable<ChatroomAddressRequest["clientType"]>;

/** A chatroom's link addresses: what v10's `linkProvider` answers and v9's `chatroomAddresses` takes. */
export interface ChatroomAddresses {
  roomId: string;
  /** The IM account they were asked for: the session's accid, or an anonymous visitor's `nimanon_` id. */
  accid: string;
  /** `host:port`, nearest the client first (NetEase's order). */
  addresses: string[];
}

/** A chatroom id as NetEase gives it: 1 to 19 decimal digits, no leading zero. */
const ROOM_ID = /^[1-9][0-9]{0,18}$/;

/**
 * The request for one room's addresses, and the check of its answer: for this room, and anonymous
 * exactly when asked without a session (a signed-in user's addresses belong to the session's accid,
 * which the IM token is for).
 */
export function chatroomRequest(
  roomId: string,
  clientType: ChatroomClientType | undefined,
  anonymous: boolean,
): { body: () => ChatroomAddressRequest; accept: (value: unknown) => value is ChatroomAddressResponse } {
  const body: ChatroomAddressRequest = clientType === undefined ? { roomId } : { roomId, clientType };
  return {
    body: () => body,
    accept: (value): value is ChatroomAddressResponse =>
      isChatroomAddressResponse(value) && value.roomId === roomId && value.anonymous === anonymous,
  };
}

/**
 * What createChatroomProviders needs of a token provider: createTokenProvider's gives it (a
 * structural type, so this module does not import the provider that imports it).
 */
export interface ChatroomTokenSource {
  getToken(accountId?: string): Promise<string>;
  getChatroomAddresses(roomId: string, clientType?: ChatroomClientType): Promise<ChatroomAddresses>;
}

/** The part of an answer the SDKs use. */
export function chatroomAddressesOf({ roomId, accid, addresses }: ChatroomAddressResponse): ChatroomAddresses {
  return { roomId, accid, addresses };
}

/** Options for createChatroomProviders. */
export interface ChatroomProvidersOptions {
  /** The room to enter: the `roomId` passed to `enter`. */
  roomId: string;
  /** Which link addresses (default: the Worker's, 1 weblink, right for the Web SDK). */
  clientType?: ChatroomClientType;
}

/** The Web SDK v10 chatroom client's two hooks, for one room and one signed-in user. */
export interface ChatroomProviders {
  /**
   * `enter(roomId, { linkProvider })`: the room's addresses, fetched on each call. Whatever order the
   * SDK passes its arguments in, the room is the one the providers were made for; a call naming
   * another room rejects with `room_mismatch`.
   */
  linkProvider: (roomId: string, accountId: string) => Promise<string[]>;
  /**
   * `loginOption: { authType: 1, tokenProvider }`: the IM dynamic token (`provider.getToken`), on
   * every (re)connect. Rejects with `account_mismatch` when the SDK enters as another account.
   */
  tokenProvider: (appkey: string, roomId: string, accountId: string) => Promise<string>;
}

/**
 * The hooks for entering chatroom `roomId` with NetEase's Web SDK v10 (`nim-web-sdk-ng` 10.x,
 * `V2NIMChatroomClient`) as `provider`'s signed-in user: addresses from `provider.getChatroomAddresses`
 * and tokens from `provider.getToken`, so sign-out (`clear()`) ends both.
 *
 * @throws TokenProviderError `invalid_options` when `roomId` is not a NetEase room id (1 to 19
 *   digits, no leading zero) or `clientType` is not 1, 2 or 3.
 */
export function createChatroomProviders(
  provider: ChatroomTokenSource,
  options: ChatroomProvidersOptions,
): ChatroomProviders {
  const { roomId, clientType } = options;
  if (typeof roomId !== "string" || !ROOM_ID.test(roomId)) {
    throw new TokenProviderError(
      "invalid_options",
      `roomId must be a NetEase chatroom id (1 to 19 digits, no leading zero): got ${JSON.stringify(roomId)}.`,
    );
  }
  if (clientType !== undefined && clientType !== 1 && clientType !== 2 && clientType !== 3) {
    throw new TokenProviderError("invalid_options", `clientType must be 1, 2 or 3: got ${JSON.stringify(clientType)}.`);
  }
  return {
    // Declared (roomId, accountId), called (accountId, roomId) by nim-web-sdk-ng 10.8.1: either will do.
    async linkProvider(first: string, second: string): Promise<string[]> {
      if (first !== roomId && second !== roomId) {
        throw new TokenProviderError(
          "room_mismatch",
          `These chatroom providers are for room ${roomId}; the SDK asked for another (${String(first)}, ${String(second)}).`,
        );
      }
      return (await provider.getChatroomAddresses(roomId, clientType)).addresses;
    },
    async tokenProvider(_appkey: string, _roomId: string, accountId: string): Promise<string> {
      return provider.getToken(accountId);
    },
  };
}

/** Options for getAnonymousChatroomAddresses. */
export interface AnonymousChatroomOptions {
  /** The deployment's token endpoint, as for createTokenProvider: `https://tokens.example.com/v1/token`. */
  endpoint: string;
  /** The NetEase app's name, where the deployment serves several (as for createTokenProvider). */
  app?: string;
  /** Full URL of `POST /v1/chatroom/address`; by default derived from `endpoint` (and `app`). */
  chatroomEndpoint?: string;
  /** The room to enter. */
  roomId: string;
  /** Which link addresses (default: the Worker's, 1 weblink). */
  clientType?: ChatroomClientType;
  /** Aborts the request and its retry waits (the call rejects with `aborted`). */
  signal?: AbortSignal;
  /** Attempts, including the first (default 4); network errors, 5xx and 429 are retried. */
  maxAttempts?: number;
  /** Backoff before the second attempt, in ms (default 500); doubles per attempt up to 8 000. */
  retryBaseDelay?: number;
  /** fetch, randomness and the wait between attempts; override in tests. */
  fetch?: typeof fetch;
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * Chatroom `roomId`'s addresses for a visitor without a session, where the deployment lets anonymous
 * visitors into that room: enter with `anonymousMode: true`, `accountId` the answer's `accid` (a
 * `nimanon_` id) and a `roomNick`. Rejects with `missing_session` (401) where it does not, with
 * `chatroom_unavailable` (404) for a room NetEase does not know or has closed, with `invalid_options`
 * for an `endpoint` or `app` createTokenProvider would refuse.
 */
export async function getAnonymousChatroomAddresses(options: AnonymousChatroomOptions): Promise<ChatroomAddresses> {
  const urls = endpointsOf(options);
  const { signal } = options;
  const lifecycle = new Lifecycle(signal);
  const stop = () => lifecycle.dispose();
  signal?.addEventListener("abort", stop, { once: true });
  const fetchAddresses = createTransport({
    fetch: options.fetch ?? globalFetch,
    getSessionToken: undefined,
    maxAttempts: options.maxAttempts ?? 4,
    retryBaseDelay: options.retryBaseDelay ?? 500,
    random: options.random ?? Math.random,
    sleep: options.sleep ?? defaultSleep,
    clock: new WorkerClock(Date.now),
    lifecycle,
  });
  const { body, accept } = chatroomRequest(options.roomId, options.clientType, true);
  try {
    lifecycle.assertLive();
    return chatroomAddressesOf(await fetchAddresses(lifecycle.epoch, urls.chatroom, body, accept));
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}
