/**
 * NetEase's server API as this service uses it: one interface, two dialects. `v1` is the classic
 * form-post API (`/user/create.action`…), `v2` the REST API of IM 10.x (`/im/v2/accounts`…). Both
 * run over the same transport (signing, failover, retry policy, 416 block), on the same bases, and
 * give callers the same outcomes and the same DomainErrors; `NIM_API_VERSION` picks one
 * (`connect.ts` builds the client; this module is only the contract both dialects implement).
 */

import { NIM, type NimApiVersion } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import { type NimAnswer, nimFailure, unavailable } from "./transport.ts";

/** What a readiness probe found: see `NimServerApi.probe`. */
export type ProbeOutcome = "ok" | "credentials_rejected" | "unreachable" | "rate_limited";

/** What a chatroom's link addresses are asked for with (`NimServerApi.chatroomAddresses`). */
export interface ChatroomAddressQuery {
  /** NetEase's room id: decimal digits. */
  roomId: string;
  /** The IM account entering: the user's accid, or an anonymous visitor's `nimanon_` id. */
  accid: string;
  /** NetEase's numbering: 1 weblink (WebSocket), 2 commonlink (native SDKs), 3 wechatlink. */
  clientType: 1 | 2 | 3;
  /** The client's IP, so NetEase answers the links nearest it; undefined when unknown. */
  clientIp: string | undefined;
}

/** The subset of NetEase's account and chatroom API this service uses. */
export interface NimServerApi {
  readonly version: NimApiVersion;
  /**
   * Registers `accid`. An accid that already exists is success too (`created: false`): racing first
   * requests for one uid derive the same accid, and whichever loses still gets it. The accid to use
   * is the one NetEase answers with (it stores accids lowercased), else ours lowercased.
   */
  createAccount(accid: string): Promise<{ accid: string; created: boolean }>;
  /** Blocks `accid`; with `kick`, its live sessions are disconnected too. */
  blockAccount(accid: string, kick: boolean): Promise<void>;
  /** Unblocks `accid`. */
  unblockAccount(accid: string): Promise<void>;
  /**
   * Disconnects every live session of `accid` and leaves it as it was: usable for new logins if it
   * was, still blocked if `blocked`. v1 has no kick of its own (see NimServerApiV1.kickAccount).
   */
  kickAccount(accid: string, blocked: boolean): Promise<void>;
  /**
   * Whether a failed `kickAccount` of an active account may have left it blocked at NetEase (v1: the
   * kick is a block and an unblock), so the caller owes it an unblock.
   */
  readonly kickMayLeaveBlocked: boolean;
  /** Which of `accids` (at most `NIM.getUinfosBatch`; callers batch) exist at NetEase. */
  existingAccounts(accids: readonly string[]): Promise<Set<string>>;
  /**
   * Whether NetEase accepts a call signed with our app key and secret: a cheap read of `accid`.
   * `credentials_rejected` when NetEase refuses the app key or the CheckSum (a wrong secret), distinct
   * from `unreachable` (network, timeout, 5xx) and `rate_limited` (416).
   */
  probe(accid: string): Promise<ProbeOutcome>;
  /**
   * The link addresses (`host:port`, NetEase's order) of a chatroom, nearest the client's IP;
   * `chatroom_unavailable` when NetEase does not know the room or it is closed.
   */
  chatroomAddresses(query: ChatroomAddressQuery): Promise<string[]>;
}

/**
 * NetEase's codes for a room that cannot be entered. NetEase documents none per endpoint: 404
 * ("object not found") and 13002 ("chatroom status is abnormal") from its general code table, and on
 * v2 the codes its v10 client SDK names for the same cases (113404 not found, 113406 closed, 113410
 * disabled). The emulator answers with these.
 */
const CHATROOM_GONE_CODES: ReadonlySet<number> = new Set([404, 13002, 113404, 113406, 113410]);
/** NetEase's "account in blocklist" (general code table): the room's own ban of the account. */
const CHATROOM_BANNED_CODE = 13003;
/** NetEase's "no chatroom server to allocate" (its chatroom SDKs' code list): a transient lack of links. */
const CHATROOM_NO_LINKS_CODE = 415;

/** The DomainError for a chatroom address call NetEase refused (`answer.code` is not 200). */
export function chatroomFailure(action: string, answer: NimAnswer): DomainError {
  const detail = `${action}: code ${answer.code}`;
  if (CHATROOM_GONE_CODES.has(answer.code)) return new DomainError("chatroom_unavailable", { detail });
  if (answer.code === CHATROOM_BANNED_CODE) return new DomainError("chatroom_refused", { detail });
  if (answer.code === CHATROOM_NO_LINKS_CODE) return unavailable(detail, { action, code: String(answer.code) });
  return nimFailure(action, answer);
}

/** A link address as NetEase gives them: `host:port` (a bracketed IPv6 host too), no scheme. */
const LINK_ADDRESS = /^(?:[A-Za-z0-9.-]{1,253}|\[[0-9A-Fa-f:.]{2,45}\]):[0-9]{1,5}$/;

/**
 * The link addresses in an answer's field: a list, or its JSON text (NetEase's SDKs read both).
 * Anything that is not a `host:port` is dropped, so nothing else reaches a client; undefined when
 * none is left.
 */
export function linkAddresses(value: unknown): string[] | undefined {
  let list = value;
  if (typeof value === "string") {
    try {
      list = JSON.parse(value);
    } catch {
      return undefined;
    }
  }
  if (!Array.isArray(list)) return undefined;
  const addresses = list
    .filter((item): item is string => typeof item === "string" && LINK_ADDRESS.test(item))
    .slice(0, NIM.maxLinkAddresses);
  return addresses.length > 0 ? addresses : undefined;
}

/** Refuses an accid NetEase would refuse, before any call. */
export function assertAccid(accid: string): void {
  if (!NIM.accidPattern.test(accid)) throw new RangeError("accid does not follow NetEase's rules");
}
