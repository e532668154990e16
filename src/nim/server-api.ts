/**
 * NetEase's server API as this service uses it: one interface, two dialects. `v1` is the classic
 * form-post API (`/user/create.action`…), `v2` the REST API of IM 10.x (`/im/v2/accounts`…). Both
 * run over the same transport (signing, failover, retry policy, 416 block), on the same bases, and
 * give callers the same outcomes and the same DomainErrors; `NIM_API_VERSION` picks one
 * (`connect.ts` builds the client; this module is only the contract both dialects implement).
 */

import { NIM, type NimApiVersion } from "../core/constants.ts";

/** What a readiness probe found: see `NimServerApi.probe`. */
export type ProbeOutcome = "ok" | "credentials_rejected" | "unreachable" | "rate_limited";

/** The subset of NetEase's account API this service uses. */
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
}

/** Refuses an accid NetEase would refuse, before any call. */
export function assertAccid(accid: string): void {
  if (!NIM.accidPattern.test(accid)) throw new RangeError("accid does not follow NetEase's rules");
}
