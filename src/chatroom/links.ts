/**
 * A chatroom's link addresses, from NetEase, at as few NetEase calls as the answer allows.
 *
 * NetEase answers with the room's links nearest the client, so an answer is good for every client
 * near that one, whoever asks: it depends on the room, the client type and where the client is, not
 * on the account (NetEase applies its chatroom bans when the account enters, not here). "Where" is
 * the client's network operator (its ASN) and the Cloudflare location its request came through, as
 * Cloudflare reports them: viewers of one carrier entering through one location share an answer; a
 * request without them (local development) keys on its own network. An answer is kept for
 * `TIMING.chatroomLinksTtlMs` in the isolate, and concurrent asks for one key share one call; a
 * burst of viewers entering one room costs a call per place, not per viewer.
 *
 * A call that does go to NetEase first takes a turn at the app's pacer (the one that paces account
 * creations, `accounts/create-pacer.ts`): NetEase caps each app's calls, and past the cap refuses
 * the app for about ten seconds, account creations and an operator's block included. A turn too far
 * away is a 503 with the Retry-After the pacer gives.
 */

import type { CreatePacing } from "../accounts/create-pacer.ts";
import { LIMITS, TIMING } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import type { ChatroomAddressQuery, NimServerApi } from "../nim/server-api.ts";

/** Where a client is, as far as NetEase's choice of links goes (see the module's comment). */
export interface ClientPlace {
  /** The client's IP, sent to NetEase; undefined when unknown. */
  ip: string | undefined;
  /** The cache's word for the place: `as<asn>@<location>`, or `net:<network>`. */
  key: string;
  /** The client's network (`networkOf`), which the pacer bounds bookings by. */
  network: string;
}

/** One app's link addresses, per isolate. */
export class ChatroomLinks {
  readonly #nim: NimServerApi;
  readonly #pacing: CreatePacing | undefined;
  readonly #now: () => number;
  /**
   * Answers by key, oldest first (a Map keeps insertion order), with when they were fetched; a room
   * NetEase does not know or has closed is kept too (`gone`, under the room's own key, whatever the
   * place), so asking for made-up room ids costs NetEase a call each only once a window.
   */
  readonly #answers = new Map<string, { addresses: string[] | "gone"; at: number }>();
  /** Calls in flight by key, with the account that asks. */
  readonly #asking = new Map<string, { accid: string; answer: Promise<string[]> }>();

  constructor(nim: NimServerApi, pacing: CreatePacing | undefined, now: () => number = Date.now) {
    this.#nim = nim;
    this.#pacing = pacing;
    this.#now = now;
  }

  /**
   * The room's addresses for a client at `place`: kept, being fetched, or fetched now. A call in
   * flight for another account is shared only for its success: NetEase's refusal of that account
   * (the room's ban) is its own, so the joiner then asks for itself.
   */
  addresses(query: Omit<ChatroomAddressQuery, "clientIp">, place: ClientPlace): Promise<string[]> {
    const gone = this.#kept(`${query.roomId}/gone`);
    if (gone)
      return Promise.reject(
        new DomainError("chatroom_unavailable", { detail: "kept: NetEase knows no such open room" }),
      );
    const key = `${query.roomId}/${query.clientType}/${place.key}`;
    const kept = this.#kept(key);
    if (kept) return Promise.resolve(kept as string[]);
    const asking = this.#asking.get(key);
    const own = () => this.#fetch(key, { ...query, clientIp: place.ip }, place.network);
    if (!asking) {
      const answer = own().finally(() => this.#asking.delete(key));
      this.#asking.set(key, { accid: query.accid, answer });
      return answer;
    }
    if (asking.accid === query.accid) return asking.answer;
    return asking.answer.catch((error: unknown) => {
      if (error instanceof DomainError && error.kind === "chatroom_refused") return own();
      throw error;
    });
  }

  /** The answer kept under `key`, while it is fresh. */
  #kept(key: string): string[] | "gone" | undefined {
    const kept = this.#answers.get(key);
    return kept && this.#now() - kept.at < TIMING.chatroomLinksTtlMs ? kept.addresses : undefined;
  }

  async #fetch(key: string, query: ChatroomAddressQuery, network: string): Promise<string[]> {
    try {
      // Its own namespace at the pacer (no uid holds a NUL), and no booking: a call anyone may cause
      // waits for a turn within reach or is refused, never holding a place sign-ups queue behind.
      await this.#pacing?.acquire(`\u0000chatroom:${key}`, network, false);
    } catch (error) {
      if (!(error instanceof DomainError && error.kind === "creation_queue_full")) throw error;
      // The pacer's words are about account creations; the caller is told what it is: NetEase is busy.
      throw new DomainError("upstream_unavailable", {
        detail: "chatroom address call's turn beyond the longest wait",
        retryAfter: error.retryAfter,
      });
    }
    try {
      const addresses = await this.#nim.chatroomAddresses(query);
      this.#keep(key, addresses);
      return addresses;
    } catch (error) {
      if (error instanceof DomainError && error.kind === "chatroom_unavailable")
        this.#keep(`${query.roomId}/gone`, "gone");
      throw error;
    }
  }

  #keep(key: string, addresses: string[] | "gone"): void {
    this.#answers.delete(key);
    this.#answers.set(key, { addresses, at: this.#now() });
    if (this.#answers.size > LIMITS.chatroomLinksKept) {
      this.#answers.delete(this.#answers.keys().next().value!);
    }
  }
}

/**
 * Where the client of `request` is (its `cf` facts, else its network), from its IP as Cloudflare
 * reports it (`clientIp`, absent locally) and its network (`networkOf` of that IP).
 */
export function clientPlace(cf: object | undefined, clientIp: string | undefined, network: string): ClientPlace {
  // `cf` of an incoming request (IncomingRequestCfProperties); read as unknown, for it is Cloudflare's.
  const { asn, colo } = (cf ?? {}) as { asn?: unknown; colo?: unknown };
  const known = typeof asn === "number" && typeof colo === "string" && /^[A-Z]{3}$/.test(colo);
  return { ip: clientIp, key: known ? `as${asn}@${colo}` : `net:${network}`, network };
}
