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
  /** Answers by key, oldest first (a Map keeps insertion order), with when they were fetched. */
  readonly #answers = new Map<string, { addresses: string[]; at: number }>();
  readonly #asking = new Map<string, Promise<string[]>>();

  constructor(nim: NimServerApi, pacing: CreatePacing | undefined, now: () => number = Date.now) {
    this.#nim = nim;
    this.#pacing = pacing;
    this.#now = now;
  }

  /** The room's addresses for a client at `place`: kept, being fetched, or fetched now. */
  addresses(query: Omit<ChatroomAddressQuery, "clientIp">, place: ClientPlace): Promise<string[]> {
    const key = `${query.roomId}/${query.clientType}/${place.key}`;
    const kept = this.#answers.get(key);
    if (kept && this.#now() - kept.at < TIMING.chatroomLinksTtlMs) return Promise.resolve(kept.addresses);
    let asking = this.#asking.get(key);
    if (!asking) {
      asking = this.#fetch(key, { ...query, clientIp: place.ip }, place.network).finally(() => {
        this.#asking.delete(key);
      });
      this.#asking.set(key, asking);
    }
    return asking;
  }

  async #fetch(key: string, query: ChatroomAddressQuery, network: string): Promise<string[]> {
    try {
      await this.#pacing?.acquire(`chatroom:${key}`, network);
    } catch (error) {
      if (!(error instanceof DomainError && error.kind === "creation_queue_full")) throw error;
      // The pacer's words are about account creations; the caller is told what it is: NetEase is busy.
      throw new DomainError("upstream_unavailable", {
        detail: "chatroom address call's turn booked beyond the longest wait",
        retryAfter: error.retryAfter,
      });
    }
    const addresses = await this.#nim.chatroomAddresses(query);
    this.#answers.delete(key);
    this.#answers.set(key, { addresses, at: this.#now() });
    if (this.#answers.size > LIMITS.chatroomLinksKept) {
      this.#answers.delete(this.#answers.keys().next().value!);
    }
    return addresses;
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
