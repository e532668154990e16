/**
 * NetEase's server API v1 over the account and chatroom books: form POSTs to `/user/<action>.action`
 * (answers `{code, desc?, info? | uinfos?}`) and `/chatroom/<action>.action` (answers `{code,
 * chatroom | desc | addr}`). Chatroom fields and answers as NetEase's Go server SDK sends and reads
 * them (`src/im/v1/chatroom`).
 */

import type { Account, AccountBook, Outcome } from "./accounts.ts";
import { nim } from "./answers.ts";
import {
  type AddressQuery,
  type Chatroom,
  type ChatroomBook,
  type ClientType,
  isIpAddress,
  type NewChatroom,
  ROOM_TEXT_LIMITS,
  type RoomOutcome,
  type RoomRefusal,
  roomIdKey,
  roomText,
} from "./chatrooms.ts";
import { type Books, type ParsedCall, V1_ACTIONS } from "./dialect.ts";

/** How getUinfos treats an unknown accid (NetEase does not document which it does). */
export type UnknownAccids = "omit" | "fail";

/** Parses a v1 call; a Response when it is refused before it runs (NetEase's 414). */
export async function parseV1(
  action: string,
  request: Request,
  books: Books,
  unknown: UnknownAccids,
): Promise<ParsedCall | Response> {
  const operation = V1_ACTIONS[action];
  if (!operation) return nim(404, { desc: "not found" });
  if (!/^application\/x-www-form-urlencoded/i.test(request.headers.get("Content-Type") ?? "")) {
    return nim(414, { desc: "Content-Type must be application/x-www-form-urlencoded" });
  }
  const form = new URLSearchParams(await request.text());
  if (action.startsWith("chatroom/")) return parseChatroomV1(action, form, books.chatrooms);
  const book = books.accounts;
  const accids = involvedAccids(form);
  const field = (name: string) => form.get(name) ?? undefined;
  switch (operation) {
    case "create":
      return {
        operation,
        accids,
        run: () =>
          answer(
            book.create({
              accid: field("accid"),
              token: field("token"),
              profile: {
                name: field("name"),
                icon: field("icon"),
                sign: field("sign"),
                email: field("email"),
                birth: field("birth"),
                mobile: field("mobile"),
                gender: field("gender"),
                ex: field("ex"),
              },
            }),
            (account) => ({ info: { token: account.token, accid: account.accid, name: account.name } }),
          ),
      };
    case "block":
    case "unblock": {
      const needkick = form.get("needkick");
      return {
        operation,
        accids,
        run: () => {
          if (operation === "block" && needkick !== null && needkick !== "true" && needkick !== "false") {
            return nim(414, { desc: "parameter error: needkick" });
          }
          // NetEase kicks live sessions only when asked to (needkick defaults to false).
          return answer(
            book.setBlocked(form.get("accid") ?? "", operation === "block", needkick === "true"),
            () => ({}),
          );
        },
      };
    }
    default:
      return { operation, accids, run: () => getUinfos(form, book, unknown) };
  }
}

/**
 * How v1 words a chatroom refusal. NetEase documents no code per chatroom endpoint: these are the
 * emulator's choice from NetEase's general code table (414 parameter error, 404 object not found,
 * 403 no permission, 13002 "chatroom status is abnormal").
 */
function roomRefusalV1(refusal: RoomRefusal): Response {
  switch (refusal.kind) {
    case "bad_parameter":
      return nim(414, { desc: `parameter error: ${refusal.field}` });
    case "unknown_account":
      return nim(414, { desc: "user not exist" });
    case "room_not_found":
      return nim(404, { desc: "chatroom not found" });
    case "room_closed":
      return nim(13002, { desc: "chatroom status is abnormal" });
    case "not_creator":
      return nim(403, { desc: "operator is not the chatroom's creator" });
  }
}

/**
 * A room as v1 answers it. An empty announcement reads null, as in NetEase's own example of
 * `create.action` (`"announcement": null`, `"ext": ""`).
 */
function roomV1(room: Chatroom): Record<string, unknown> {
  const { roomid, valid, announcement, name, broadcasturl, ext, creator, queuelevel } = room;
  return {
    roomid,
    valid,
    announcement: announcement || null,
    name,
    broadcasturl,
    ext,
    creator,
    queuelevel,
    muted: false,
  };
}

const badParameter = (field: string): RoomRefusal => ({ ok: false, kind: "bad_parameter", field });

/** A chatroom call (`chatroom/<action>.action`): its parameters checked here, its effect in the book. */
function parseChatroomV1(action: string, form: URLSearchParams, rooms: ChatroomBook): ParsedCall {
  const field = (name: string) => form.get(name) ?? undefined;
  const answer = <T>(outcome: RoomOutcome<T>, fields: (value: T) => Record<string, unknown>): Response =>
    outcome.ok ? nim(200, fields(outcome.value)) : roomRefusalV1(outcome);
  const roomid = roomIdKey(field("roomid"));
  switch (V1_ACTIONS[action]) {
    case "createChatroom": {
      const creator = field("creator") ?? "";
      const room = newChatroom(form);
      return {
        operation: "createChatroom",
        accids: creator ? [creator] : [],
        run: () => answer("kind" in room ? room : rooms.create(room), (value) => ({ chatroom: roomV1(value) })),
      };
    }
    case "getChatroom":
      return {
        operation: "getChatroom",
        accids: [],
        run: () => {
          if (!roomid) return roomRefusalV1(badParameter("roomid"));
          const count = form.get("needOnlineUserCount") === "true" ? { onlineusercount: 0 } : {};
          // The emulator keeps no live connections: no one is ever online.
          return answer(rooms.find(roomid), (room) => ({ chatroom: { ...roomV1(room), ...count } }));
        },
      };
    case "toggleCloseStat": {
      const operator = field("operator") ?? "";
      const valid = field("valid");
      return {
        operation: "toggleCloseStat",
        accids: operator ? [operator] : [],
        run: () => {
          if (!roomid) return roomRefusalV1(badParameter("roomid"));
          if (!operator) return roomRefusalV1(badParameter("operator"));
          if (valid !== "true" && valid !== "false") return roomRefusalV1(badParameter("valid"));
          // NetEase answers the room in `desc`, not in `chatroom` (its SDKs read it there).
          return answer(rooms.setValid(roomid, operator, valid === "true"), (room) => ({ desc: roomV1(room) }));
        },
      };
    }
    default: {
      const query = addressQueryV1(form, roomid);
      const accid = field("accid") ?? "";
      return {
        operation: "requestAddr",
        accids: accid ? [accid] : [],
        ...("kind" in query ? {} : { note: () => rooms.noteAddressCall(query) }),
        run: () => answer("kind" in query ? query : rooms.addresses(query), (addr) => ({ addr })),
      };
    }
  }
}

/** `create.action`'s parameters, checked as NetEase documents them; the other options are ignored. */
function newChatroom(form: URLSearchParams): NewChatroom | RoomRefusal {
  const creator = form.get("creator");
  if (!creator) return badParameter("creator");
  const name = roomText(form.get("name"), ROOM_TEXT_LIMITS.name, true);
  if (name === undefined) return badParameter("name");
  const announcement = roomText(form.get("announcement"), ROOM_TEXT_LIMITS.announcement, false);
  if (announcement === undefined) return badParameter("announcement");
  const broadcasturl = roomText(form.get("broadcasturl"), ROOM_TEXT_LIMITS.broadcasturl, false);
  if (broadcasturl === undefined) return badParameter("broadcasturl");
  const ext = roomText(form.get("ext"), ROOM_TEXT_LIMITS.ext, false);
  if (ext === undefined) return badParameter("ext");
  const queuelevel = form.get("queuelevel") ?? "0";
  if (queuelevel !== "0" && queuelevel !== "1") return badParameter("queuelevel");
  return { creator, name, announcement, broadcasturl, ext, queuelevel: queuelevel === "1" ? 1 : 0 };
}

/** `requestAddr.action`'s parameters: roomid and accid required, clienttype 1 (default), 2 or 3, clientip optional. */
function addressQueryV1(form: URLSearchParams, roomid: string | undefined): AddressQuery | RoomRefusal {
  if (!roomid) return badParameter("roomid");
  const accid = form.get("accid");
  if (!accid) return badParameter("accid");
  const clientType = form.get("clienttype") || "1";
  if (clientType !== "1" && clientType !== "2" && clientType !== "3") return badParameter("clienttype");
  // An empty clientip is none (NetEase's SDKs leave an unset one out).
  const clientIp = form.get("clientip") || undefined;
  if (clientIp !== undefined && !isIpAddress(clientIp)) return badParameter("clientip");
  return { roomid, accid, clientType: Number(clientType) as ClientType, clientIp, ipType: 0 };
}

/**
 * `getUinfos`: the documented fields of each account (NetEase's "用户名片" page; the same fields
 * NetEase's Go SDK reads). `valid` is false for a blocked account: NetEase documents `valid` as
 * "whether the account is valid" without saying that a block is what clears it, so that reading is
 * ours. The per-module mute fields come only with `muteStatus=true`, as documented.
 */
function getUinfos(form: URLSearchParams, book: AccountBook, unknown: UnknownAccids): Response {
  let accids: unknown;
  try {
    accids = JSON.parse(form.get("accids") ?? "");
  } catch {
    return nim(414, { desc: "parameter error: accids" });
  }
  if (!Array.isArray(accids) || accids.length > 200) return nim(414, { desc: "parameter error: accids" });
  const missing = accids.filter((accid) => !book.find(accid));
  if (missing.length > 0 && unknown === "fail") {
    return nim(414, { desc: `accid not exist: ${String(missing[0]).slice(0, 40)}` });
  }
  const muteStatus = form.get("muteStatus") === "true";
  const uinfos = accids
    .map((accid) => book.find(accid))
    .filter((account): account is Account => Boolean(account))
    .map((account) => uinfo(account, muteStatus));
  return nim(200, { uinfos });
}

function uinfo(account: Account, muteStatus: boolean): Record<string, unknown> {
  const { accid, name, icon, sign, email, birth, mobile, gender, ex } = account;
  // Unset strings are left out, as NetEase's own examples show only what was set.
  const strings = Object.fromEntries(Object.entries({ icon, sign, email, birth, mobile, ex }).filter(([, v]) => v));
  return {
    accid,
    name,
    ...strings,
    gender,
    valid: !account.blocked,
    mute: false,
    ...(muteStatus ? { muteP2P: false, muteQChat: false, muteTeam: false, muteRoom: false } : {}),
  };
}

function answer(outcome: Outcome<Account>, fields: (account: Account) => Record<string, unknown>): Response {
  return outcome.ok ? nim(200, fields(outcome.value)) : nim(outcome.code, { desc: outcome.desc });
}

/** The accids a call is about: `accid`, or the JSON list in `accids` (getUinfos). */
function involvedAccids(form: URLSearchParams): string[] {
  const accid = form.get("accid");
  if (accid) return [accid];
  try {
    const list: unknown = JSON.parse(form.get("accids") ?? "[]");
    return Array.isArray(list) ? list.filter((a): a is string => typeof a === "string") : [];
  } catch {
    return [];
  }
}
