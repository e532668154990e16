/**
 * The emulated app's chatrooms, apart from any wire format: v1 (`/chatroom/*.action`) and v2
 * (`/im/v2/chatrooms…`) are two views of this one book, as `AccountBook` is for accounts. A refusal
 * says what went wrong in the book's terms (`RoomRefusal`); each dialect words it with its own code.
 *
 * Rooms persist with the app (their ids must not be handed out twice across restarts); how often a
 * room's addresses were asked for, and by whom last, is a test aid kept in memory, like call counters.
 *
 * The link addresses are the emulator's own scheme (NetEase answers the links nearest the client's
 * IP, and documents no names): see `linkAddresses`.
 */

import type { AccountBook } from "./accounts.ts";

/** One chatroom, by v1's field names. */
export interface Chatroom {
  /** NetEase's room id: an int64, handed out in order per app. */
  roomid: number;
  /** The creator's accid, lowercased as accounts are stored. */
  creator: string;
  name: string;
  announcement: string;
  broadcasturl: string;
  ext: string;
  /** Who may change the room's queue: 0 anyone, 1 the creator and managers only. */
  queuelevel: 0 | 1;
  /** Open (true) or closed. */
  valid: boolean;
  createdAt: number;
}

/** The first room id an app hands out. */
export const FIRST_ROOM_ID = 1_000_001;
/** Longest value of each text field NetEase's docs allow (`chatroom/create.action`). */
export const ROOM_TEXT_LIMITS = { name: 128, announcement: 4096, broadcasturl: 1024, ext: 4096 } as const;
/** NetEase's client types: 1 weblink (WebSocket, the default), 2 commonlink (native SDKs), 3 wechatlink. */
export type ClientType = 1 | 2 | 3;
/** v2's `ip_type`: the address family of the links asked for, 0 IPv4 (the default), 1 IPv6. */
export type IpType = 0 | 1;

/** Why the book refused, in its own terms; each dialect words it with its own code. */
export type RoomRefusal =
  | { ok: false; kind: "bad_parameter"; field: string }
  | { ok: false; kind: "unknown_account"; accid: string }
  | { ok: false; kind: "room_not_found" }
  | { ok: false; kind: "room_closed" }
  | { ok: false; kind: "not_creator" };

/** What an operation on the book gave. */
export type RoomOutcome<T> = { ok: true; value: T } | RoomRefusal;

/**
 * What creating a room takes, already checked for shape and length by the dialect: the room's
 * fields but its id and time; `valid` false starts it closed (the emulator-only stock rooms only).
 */
export type NewChatroom = Omit<Chatroom, "roomid" | "createdAt" | "valid"> & { valid?: boolean };

/** An address call, parameters checked by the dialect. */
export interface AddressQuery {
  roomid: string;
  accid: string;
  clientType: ClientType;
  /** The client's IP as sent; undefined when none was. */
  clientIp: string | undefined;
  ipType: IpType;
}

/** What the emulator-only inspection shows of the address calls a room met. */
interface AddressCalls {
  addressRequests: number;
  lastClientIp: string | null;
  lastAccid: string | null;
  lastClientType: ClientType | null;
}

/** NetEase's SDKs name an anonymous visitor `nimanon_` and a UUID or 32 hex digits (no registration). */
const ANONYMOUS_ACCID = /^nimanon_[A-Za-z0-9_@.-]{1,64}$/;
/** An int64 room id as decimal digits, no sign. */
const ROOM_ID = /^[0-9]{1,19}$/;
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A room id's canonical decimal text ("007" is 7), or undefined when it is no positive int64.
 * Rooms are keyed by this text: an id beyond what JavaScript numbers hold exactly is still an id
 * (of no room), not a parameter error.
 */
export function roomIdKey(value: unknown): string | undefined {
  const text = typeof value === "number" && Number.isSafeInteger(value) ? String(value) : value;
  if (typeof text !== "string" || !ROOM_ID.test(text)) return undefined;
  const id = BigInt(text);
  return id >= 1n && id <= INT64_MAX ? id.toString() : undefined;
}

/** The rooms, kept in memory and handed to `persist` after each change. */
export class ChatroomBook {
  readonly #rooms = new Map<string, Chatroom>();
  readonly #addressCalls = new Map<string, AddressCalls>();
  readonly #accounts: AccountBook;
  readonly #persist: (room: Chatroom) => void;
  #nextId = FIRST_ROOM_ID;

  constructor(accounts: AccountBook, persist: (room: Chatroom) => void) {
    this.#accounts = accounts;
    this.#persist = persist;
  }

  /** Puts back a room read from storage; later rooms get ids after it. */
  restore(stored: Chatroom): void {
    this.#rooms.set(String(stored.roomid), stored);
    this.#nextId = Math.max(this.#nextId, stored.roomid + 1);
  }

  get size(): number {
    return this.#rooms.size;
  }

  /** Creates a room for a registered creator, with the app's next room id. */
  create(input: NewChatroom): RoomOutcome<Chatroom> {
    const creator = this.#accounts.find(input.creator);
    if (!creator) return { ok: false, kind: "unknown_account", accid: input.creator };
    const room: Chatroom = {
      roomid: this.#nextId,
      creator: creator.accid,
      name: input.name,
      announcement: input.announcement,
      broadcasturl: input.broadcasturl,
      ext: input.ext,
      queuelevel: input.queuelevel,
      valid: input.valid ?? true,
      createdAt: Date.now(),
    };
    this.#nextId += 1;
    this.#rooms.set(String(room.roomid), room);
    this.#persist(room);
    return { ok: true, value: room };
  }

  /** The room `roomid` (canonical text) names, open or closed. */
  find(roomid: string): RoomOutcome<Chatroom> {
    const room = this.#rooms.get(roomid);
    return room ? { ok: true, value: room } : { ok: false, kind: "room_not_found" };
  }

  /**
   * Opens (`valid`) or closes a room. Only its creator may (NetEase: "operator must be the creator");
   * `operator` undefined skips that check (the emulator-only endpoint). Toggling to the state it is
   * in succeeds, changing nothing.
   */
  setValid(roomid: string, operator: string | undefined, valid: boolean): RoomOutcome<Chatroom> {
    const room = this.#rooms.get(roomid);
    if (!room) return { ok: false, kind: "room_not_found" };
    if (operator !== undefined) {
      const account = this.#accounts.find(operator);
      if (!account) return { ok: false, kind: "unknown_account", accid: operator };
      if (account.accid !== room.creator) return { ok: false, kind: "not_creator" };
    }
    if (room.valid !== valid) {
      room.valid = valid;
      this.#persist(room);
    }
    return { ok: true, value: room };
  }

  /**
   * The link addresses for `query`: the room must exist and be open, and the accid be registered or
   * anonymous (`nimanon_…`).
   */
  addresses(query: AddressQuery): RoomOutcome<string[]> {
    const room = this.#rooms.get(query.roomid);
    if (!room) return { ok: false, kind: "room_not_found" };
    if (!room.valid) return { ok: false, kind: "room_closed" };
    if (!ANONYMOUS_ACCID.test(query.accid) && !this.#accounts.find(query.accid)) {
      return { ok: false, kind: "unknown_account", accid: query.accid };
    }
    return { ok: true, value: linkAddresses(query.clientIp, query.clientType, query.ipType) };
  }

  /**
   * Counts an address call for its room (if the room exists), whatever its answer will be: called
   * when the call is counted, so a refused or fault-injected call shows too.
   */
  noteAddressCall(query: AddressQuery): void {
    if (!this.#rooms.has(query.roomid)) return;
    const seen = this.#addressCalls.get(query.roomid);
    this.#addressCalls.set(query.roomid, {
      addressRequests: (seen?.addressRequests ?? 0) + 1,
      lastClientIp: query.clientIp ?? null,
      lastAccid: query.accid,
      lastClientType: query.clientType,
    });
  }

  /** How many address calls the room met, and the last one's client. */
  addressCalls(roomid: string): AddressCalls {
    return (
      this.#addressCalls.get(roomid) ?? {
        addressRequests: 0,
        lastClientIp: null,
        lastAccid: null,
        lastClientType: null,
      }
    );
  }
}

/** How many edges the addresses are spread over (1 to EDGES); edge 0 serves calls without an IP. */
export const EDGES = 5;
/** The link host name prefix and port of each client type. */
const LINKS: Record<ClientType, { prefix: string; port: number }> = {
  1: { prefix: "weblink", port: 443 },
  2: { prefix: "link", port: 8080 },
  3: { prefix: "wxlink", port: 443 },
};

/**
 * The emulator's link addresses: NetEase answers the links nearest the client, so the client's
 * network picks an edge, 1 + (its IPv4 /16, or IPv6 /32, read as a number) mod 5, and no IP edge 0.
 * Two addresses per call, the edge's link and its backup, named by the client type:
 * `weblink-<edge>[-bak].chatroom.emulator.test:443` (1), `link-<edge>[-bak]…:8080` (2),
 * `wxlink-<edge>[-bak]…:443` (3); IPv6 links (v2's `ip_type` 1) under `….v6.chatroom.emulator.test`.
 * An IPv4-mapped IPv6 address is its IPv4 address.
 */
export function linkAddresses(clientIp: string | undefined, clientType: ClientType, ipType: IpType): string[] {
  const prefix = clientIp === undefined ? undefined : networkPrefix(clientIp);
  const edge = prefix === undefined ? 0 : 1 + (prefix % EDGES);
  const { prefix: name, port } = LINKS[clientType];
  const domain = ipType === 1 ? "v6.chatroom.emulator.test" : "chatroom.emulator.test";
  return [`${name}-${edge}.${domain}:${port}`, `${name}-${edge}-bak.${domain}:${port}`];
}

/** Whether `text` is an IPv4 or IPv6 address (no zone, no brackets). */
export function isIpAddress(text: string): boolean {
  return networkPrefix(text) !== undefined;
}

/** The IPv4 /16 or IPv6 /32 of an address, as a number; undefined when it is not an address. */
function networkPrefix(text: string): number | undefined {
  const v4 = ipv4Octets(text);
  if (v4) return v4[0]! * 256 + v4[1]!;
  const v6 = ipv6Groups(text);
  if (!v6) return undefined;
  // ::ffff:a.b.c.d is the IPv4 client a.b.c.d.
  if (v6.slice(0, 5).every((group) => group === 0) && v6[5] === 0xffff) return v6[6]!;
  return v6[0]! * 65_536 + v6[1]!;
}

function ipv4Octets(text: string): number[] | undefined {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((part) => /^(?:0|[1-9][0-9]{0,2})$/.test(part))) return undefined;
  const octets = parts.map(Number);
  return octets.every((octet) => octet <= 255) ? octets : undefined;
}

/** The eight 16-bit groups of an IPv6 address (`::` and a dotted IPv4 tail allowed). */
function ipv6Groups(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (half: string, last: boolean): number[] | undefined => {
    if (half === "") return [];
    const groups: number[] = [];
    const parts = half.split(":");
    for (const [index, part] of parts.entries()) {
      if (last && index === parts.length - 1 && part.includes(".")) {
        const octets = ipv4Octets(part);
        if (!octets) return undefined;
        groups.push(octets[0]! * 256 + octets[1]!, octets[2]! * 256 + octets[3]!);
      } else if (/^[0-9A-Fa-f]{1,4}$/.test(part)) {
        groups.push(Number.parseInt(part, 16));
      } else {
        return undefined;
      }
    }
    return groups;
  };
  const head = parse(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parse(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  return missing >= 1 ? [...head, ...Array<number>(missing).fill(0), ...tail] : undefined;
}

/**
 * A text parameter within `limit` characters: the text, "" when absent and optional, or undefined
 * when it is no string, too long, or required and empty.
 */
export function roomText(value: unknown, limit: number, required: boolean): string | undefined {
  if (value === undefined || value === null) return required ? undefined : "";
  if (typeof value !== "string" || value.length > limit || (required && value === "")) return undefined;
  return value;
}
