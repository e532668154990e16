/**
 * NetEase's server API v2 (the REST API of IM 10.x): JSON bodies and REST verbs under
 * `<base>/im/v2/accounts` and `<base>/im/v2/chatrooms`, answers `{code, msg, data}`, the trace id in
 * `X-custom-traceid`. Paths, bodies and answers as NetEase's own Go server SDK sends and reads them
 * (`src/im/v2/account`, `src/im/v2/chatroom`).
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
  NIM_CODE,
  type NimAnswer,
  type NimCall,
  type NimTransport,
  nimFailure,
  probeFailure,
  probeOutcome,
  unavailable,
} from "./transport.ts";

/** `type` of a v2 kick: every device of the account (NetEase's Go SDK: 1 all, 2 listed, 3 all but listed). */
const KICK_ALL_DEVICES = 1;

/** The v2 dialect of `NimServerApi`. */
export class NimServerApiV2 implements NimServerApi {
  readonly version = "v2";
  readonly #transport: NimTransport;

  constructor(transport: NimTransport) {
    this.#transport = transport;
  }

  /**
   * `POST /im/v2/accounts`. NetEase documents no code for "already exists" on v2, so instead of
   * guessing one, a create refused for any reason other than a transient one or the rate limit is
   * followed by a look-up: if the account is there, it is ours (`created: false`), else the refusal
   * stands.
   */
  async createAccount(accid: string): Promise<{ accid: string; created: boolean }> {
    assertAccid(accid);
    const action = "POST /im/v2/accounts";
    const answer = await this.#call(action, "POST", "im/v2/accounts", { account_id: accid });
    if (answer.code === NIM_CODE.ok) {
      const stored = (answer.data as { account_id?: unknown } | undefined)?.account_id;
      const registered = typeof stored === "string" && NIM.accidPattern.test(stored) ? stored : accid.toLowerCase();
      return { accid: registered, created: true };
    }
    const failure = nimFailure(action, answer);
    if (failure.kind !== "upstream_rejected") throw failure;
    const lowered = accid.toLowerCase();
    if ((await this.existingAccounts([lowered])).has(lowered)) return { accid: lowered, created: false };
    throw failure;
  }

  /** `PATCH /im/v2/accounts/{id}/actions/disable` with `enabled: false` and `need_kick`. */
  async blockAccount(accid: string, kick: boolean): Promise<void> {
    await this.#disable(accid, { enabled: false, need_kick: kick });
  }

  /** The same call with `enabled: true`. */
  async unblockAccount(accid: string): Promise<void> {
    await this.#disable(accid, { enabled: true });
  }

  /** `POST /im/v2/accounts/{id}/actions/kick`, every device; the account's state is not touched. */
  async kickAccount(accid: string, _blocked: boolean): Promise<void> {
    assertAccid(accid);
    const action = "POST /im/v2/accounts/{id}/actions/kick";
    const answer = await this.#call(action, "POST", `im/v2/accounts/${accid}/actions/kick`, {
      type: KICK_ALL_DEVICES,
    });
    if (answer.code !== NIM_CODE.ok) throw nimFailure(action, answer);
  }

  readonly kickMayLeaveBlocked = false;

  /** `GET /im/v2/accounts?account_ids=…`: the accounts in `success_list` exist. */
  async existingAccounts(accids: readonly string[]): Promise<Set<string>> {
    if (accids.length > NIM.getUinfosBatch) throw new RangeError(`at most ${NIM.getUinfosBatch} accids per call`);
    accids.forEach(assertAccid);
    if (accids.length === 0) return new Set();
    const action = "GET /im/v2/accounts";
    const answer = await this.#batchQuery(accids);
    if (answer.code !== NIM_CODE.ok) throw nimFailure(action, answer);
    const found = new Set<string>();
    const list = (answer.data as { success_list?: unknown } | undefined)?.success_list;
    if (Array.isArray(list)) {
      for (const entry of list) {
        const id = (entry as { account_id?: unknown } | null)?.account_id;
        if (typeof id === "string") found.add(id.toLowerCase());
      }
    }
    return found;
  }

  /** A batch query of `accid`. */
  async probe(accid: string): Promise<ProbeOutcome> {
    try {
      return probeOutcome(await this.#batchQuery([accid]));
    } catch (error) {
      return probeFailure(error);
    }
  }

  /**
   * `GET /im/v2/chatrooms/{room_id}/actions/address`: `data.items`. NetEase's Go SDK refuses to call
   * without `client_ip`, and sends `client_type` only when set, as here.
   */
  async chatroomAddresses({ roomId, accid, clientType, clientIp }: ChatroomAddressQuery): Promise<string[]> {
    assertAccid(accid);
    if (!/^[0-9]{1,19}$/.test(roomId)) throw new RangeError("a room id is decimal digits");
    const action = "GET /im/v2/chatrooms/{id}/actions/address";
    const query = new URLSearchParams({
      account_id: accid,
      client_ip: clientIp ?? "",
      client_type: String(clientType),
    });
    const answer = await this.#call(action, "GET", `im/v2/chatrooms/${roomId}/actions/address?${query}`);
    if (answer.code !== NIM_CODE.ok) throw chatroomFailure(action, answer);
    const addresses = linkAddresses((answer.data as { items?: unknown } | undefined)?.items);
    if (!addresses) throw unavailable(`${action}: no link address in the answer`, { action, code: "bad_answer" });
    return addresses;
  }

  #batchQuery(accids: readonly string[]): Promise<NimAnswer> {
    const query = new URLSearchParams({ account_ids: accids.join(",") });
    return this.#call("GET /im/v2/accounts", "GET", `im/v2/accounts?${query}`);
  }

  async #disable(accid: string, body: { enabled: boolean; need_kick?: boolean }): Promise<void> {
    assertAccid(accid);
    const action = "PATCH /im/v2/accounts/{id}/actions/disable";
    const answer = await this.#call(action, "PATCH", `im/v2/accounts/${accid}/actions/disable`, body);
    if (answer.code !== NIM_CODE.ok) throw nimFailure(action, answer);
  }

  #call(action: string, method: NimCall["method"], path: string, json?: unknown): Promise<NimAnswer> {
    return this.#transport.call({
      action,
      method,
      // accids are letters, digits and `_ @ . -` (assertAccid), all safe in a path segment as is.
      path,
      body: json === undefined ? undefined : { json },
      traceHeader: "X-custom-traceid",
    });
  }
}
