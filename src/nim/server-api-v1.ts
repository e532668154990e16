/**
 * NetEase's server API v1 ("nimserver"): signed form POSTs to `<base>/<module>/<action>.action`, answers
 * `{code, desc?, info?}`, the trace id in `RequestId`.
 */

import { NIM } from "../core/constants.ts";
import {
  assertAccid,
  type ChatroomAddressQuery,
  chatroomFailure,
  linkAddresses,
  type NimServerApi,
  type ProbeOutcome,
} from "./server-api.ts";
import {
  CREDENTIALS_PROBLEM,
  NIM_CODE,
  type NimAnswer,
  type NimTransport,
  nimFailure,
  nimText,
  probeFailure,
  probeOutcome,
  unavailable,
} from "./transport.ts";

/** The v1 dialect of `NimServerApi`. */
export class NimServerApiV1 implements NimServerApi {
  readonly version = "v1";
  readonly #transport: NimTransport;

  constructor(transport: NimTransport) {
    this.#transport = transport;
  }

  /** `/user/create.action`; NetEase's `414 already register` is success too. */
  async createAccount(accid: string): Promise<{ accid: string; created: boolean }> {
    assertAccid(accid);
    const answer = await this.#post("user/create.action", { accid });
    const stored = (answer.info as { accid?: unknown } | undefined)?.accid;
    const registered = typeof stored === "string" && NIM.accidPattern.test(stored) ? stored : accid.toLowerCase();
    if (answer.code === NIM_CODE.ok) return { accid: registered, created: true };
    if (answer.code === NIM_CODE.parameterError && /already register/i.test(nimText(answer))) {
      return { accid: registered, created: false };
    }
    throw nimFailure("user/create.action", answer);
  }

  /** `/user/block.action` with `needkick`. */
  async blockAccount(accid: string, kick: boolean): Promise<void> {
    assertAccid(accid);
    const answer = await this.#post("user/block.action", { accid, needkick: String(kick) });
    if (answer.code !== NIM_CODE.ok) throw nimFailure("user/block.action", answer);
  }

  /** `/user/unblock.action`. */
  async unblockAccount(accid: string): Promise<void> {
    assertAccid(accid);
    const answer = await this.#post("user/unblock.action", { accid });
    if (answer.code !== NIM_CODE.ok) throw nimFailure("user/unblock.action", answer);
  }

  /**
   * v1 has no call that only kicks (NetEase's SDKs kick through `block.action`'s `needkick`), so this
   * blocks with `needkick=true` and, unless the account is meant to stay blocked, unblocks at once:
   * two calls, and for one round trip between them a login of that accid is refused. If the unblock
   * fails the account is left blocked at NetEase (`kickMayLeaveBlocked`): the account object then
   * owes it an unblock, which it retries until done.
   */
  async kickAccount(accid: string, blocked: boolean): Promise<void> {
    await this.blockAccount(accid, true);
    if (!blocked) await this.unblockAccount(accid);
  }

  readonly kickMayLeaveBlocked = true;

  /** `/user/getUinfos.action`; returns the subset of `accids` that exists. */
  async existingAccounts(accids: readonly string[]): Promise<Set<string>> {
    if (accids.length > NIM.getUinfosBatch) throw new RangeError(`at most ${NIM.getUinfosBatch} accids per call`);
    accids.forEach(assertAccid);
    if (accids.length === 0) return new Set();
    const answer = await this.#post("user/getUinfos.action", { accids: JSON.stringify(accids) });
    // Whether NetEase leaves an unknown accid out of the answer or fails the whole batch with 414 is
    // not documented. Both are handled: a batch refused with 414 (not for our credentials) is split
    // in halves until the unknown accids are found; one alone refused is simply not there.
    if (answer.code === NIM_CODE.parameterError && !CREDENTIALS_PROBLEM.test(nimText(answer))) {
      if (accids.length === 1) return new Set();
      const middle = Math.ceil(accids.length / 2);
      const [left, right] = await Promise.all([
        this.existingAccounts(accids.slice(0, middle)),
        this.existingAccounts(accids.slice(middle)),
      ]);
      return new Set([...left, ...right]);
    }
    if (answer.code !== NIM_CODE.ok) throw nimFailure("user/getUinfos.action", answer);
    const found = new Set<string>();
    if (Array.isArray(answer.uinfos)) {
      for (const info of answer.uinfos) {
        const accid = (info as { accid?: unknown } | null)?.accid;
        if (typeof accid === "string") found.add(accid.toLowerCase());
      }
    }
    return found;
  }

  /** A `getUinfos` of `accid`. */
  async probe(accid: string): Promise<ProbeOutcome> {
    try {
      return probeOutcome(await this.#post("user/getUinfos.action", { accids: JSON.stringify([accid]) }));
    } catch (error) {
      return probeFailure(error);
    }
  }

  /** `/chatroom/requestAddr.action`: `addr`, a list (or its JSON text) of `host:port`. */
  async chatroomAddresses({ roomId, accid, clientType, clientIp }: ChatroomAddressQuery): Promise<string[]> {
    assertAccid(accid);
    const action = "chatroom/requestAddr.action";
    const form: Record<string, string> = { roomid: roomId, accid, clienttype: String(clientType) };
    if (clientIp) form.clientip = clientIp;
    const answer = await this.#post(action, form);
    if (answer.code !== NIM_CODE.ok) throw chatroomFailure(action, answer);
    const addresses = linkAddresses(answer.addr);
    if (!addresses) throw unavailable(`${action}: no link address in the answer`, { action, code: "bad_answer" });
    return addresses;
  }

  #post(action: string, form: Record<string, string>): Promise<NimAnswer> {
    return this.#transport.call({ action, method: "POST", path: action, body: { form }, traceHeader: "RequestId" });
  }
}
