/**
 * NetEase's server API v2 (IM 10.x REST) over the same books as v1: JSON bodies under
 * `/im/v2/accounts` and `/im/v2/chatrooms`, answers `{code, msg, data}`. Paths and fields as
 * NetEase's Go server SDK sends and reads them (`src/im/v2/account`, `src/im/v2/chatroom`). Codes
 * NetEase does not document for v2 are the emulator's choice and marked so: the Worker must not
 * depend on them.
 */

import type { Account, Outcome } from "./accounts.ts";
import { json } from "./answers.ts";
import {
  type AddressQuery,
  type Chatroom,
  type ChatroomBook,
  type ClientType,
  type IpType,
  isIpAddress,
  type NewChatroom,
  ROOM_TEXT_LIMITS,
  type RoomOutcome,
  type RoomRefusal,
  roomIdKey,
  roomText,
} from "./chatrooms.ts";
import type { Books, Operation, ParsedCall } from "./dialect.ts";

/** NetEase's v2 answer shape. */
const v2 = (code: number, msg: string, data?: unknown) =>
  json(data === undefined ? { code, msg } : { code, msg, data });

/**
 * Not documented for v2: the code for an unknown account (404 is NetEase's general "object does not
 * exist") and for an account that already exists (414 "already register", v1's answer).
 */
const NOT_FOUND = { code: 404, msg: "account not exist" } as const;

/** Parses a v2 call (`method` and the path after `/im/v2/`); a Response when refused before it runs. */
export async function parseV2(
  method: string,
  path: string,
  request: Request,
  books: Books,
): Promise<ParsedCall | Response> {
  const route = matchRoute(method, path);
  if (!route) return v2(404, "not found");
  let body: Record<string, unknown> = {};
  if (method !== "GET") {
    if (!/^application\/json/i.test(request.headers.get("Content-Type") ?? "")) {
      return v2(414, "Content-Type must be application/json");
    }
    const parsed: unknown = await request.json().catch(() => undefined);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))
      return v2(414, "body must be a JSON object");
    body = parsed as Record<string, unknown>;
  }
  const call = (operation: Operation, accids: string[], run: () => Response): ParsedCall => ({
    operation,
    accids,
    run,
  });
  const book = books.accounts;
  switch (route.name) {
    case "create": {
      const info = object(body.user_information);
      const configuration = object(body.configuration);
      const accid = typeof body.account_id === "string" ? body.account_id : "";
      return call("create", [accid], () => {
        if (configuration.enabled !== undefined && typeof configuration.enabled !== "boolean") {
          return v2(414, "parameter error: configuration.enabled");
        }
        return answer(
          book.create({
            accid: body.account_id,
            token: body.token,
            blocked: configuration.enabled === false,
            profile: {
              name: info.name,
              icon: info.avatar,
              sign: info.sign,
              email: info.email,
              birth: info.birthday,
              mobile: info.mobile,
              gender: info.gender,
              ex: info.extension,
            },
          }),
          (account) => ({
            account_id: account.accid,
            token: account.token,
            configuration: { enabled: !account.blocked },
            user_information: userInformation(account),
          }),
        );
      });
    }
    case "batchQuery": {
      const ids = (new URL(request.url).searchParams.get("account_ids") ?? "").split(",").filter(Boolean);
      return call("getUinfos", ids, () => {
        if (ids.length === 0 || ids.length > 200) return v2(414, "parameter error: account_ids");
        const success_list = [];
        const failed_list = [];
        for (const id of ids) {
          const account = book.find(id);
          if (account) success_list.push({ account_id: account.accid, configuration: { enabled: !account.blocked } });
          else failed_list.push({ account_id: id, error_code: NOT_FOUND.code, error_msg: NOT_FOUND.msg });
        }
        return v2(200, "success", { success_list, failed_list });
      });
    }
    case "details":
      return call("getUinfos", [route.accid], () => {
        const account = book.find(route.accid);
        if (!account) return v2(NOT_FOUND.code, NOT_FOUND.msg);
        return v2(200, "success", {
          account_id: account.accid,
          token: account.token,
          configuration: { enabled: !account.blocked },
        });
      });
    case "disable": {
      const { enabled, need_kick: needKick } = body;
      return call(enabled === true ? "unblock" : "block", [route.accid], () => {
        if (typeof enabled !== "boolean") return v2(414, "parameter error: enabled");
        if (needKick !== undefined && typeof needKick !== "boolean") return v2(414, "parameter error: need_kick");
        return answer(book.setBlocked(route.accid, !enabled, needKick === true), (account) => ({
          account_id: account.accid,
          enabled: !account.blocked,
        }));
      });
    }
    case "kick":
      return call("kick", [route.accid], () => {
        const type = body.type ?? 1;
        if (type !== 1 && type !== 2 && type !== 3) return v2(414, "parameter error: type");
        if (type !== 1) {
          const list = body.device_id_list;
          if (!Array.isArray(list) || list.length === 0 || list.length > 20) {
            return v2(414, "parameter error: device_id_list");
          }
        }
        // The emulator keeps no live connections: a kick is counted; there are no devices to list.
        return answer(book.kick(route.accid), () => ({ success_list: [], failed_list: [] }));
      });
    default:
      return chatroomCall(route, body, new URL(request.url).searchParams, books.chatrooms);
  }
}

type Route =
  | { name: "create" | "batchQuery" }
  | { name: "details" | "disable" | "kick"; accid: string }
  | { name: "createChatroom" }
  | { name: "getChatroom" | "toggleCloseStat" | "requestAddr"; roomid: string };

function matchRoute(method: string, path: string): Route | undefined {
  if (path.startsWith("chatrooms")) return matchChatroomRoute(method, path);
  if (path === "accounts") {
    if (method === "POST") return { name: "create" };
    if (method === "GET") return { name: "batchQuery" };
    return undefined;
  }
  const match = /^accounts\/([^/]+)(?:\/actions\/(disable|kick))?$/.exec(path);
  if (!match) return undefined;
  const accid = decodeURIComponent(match[1]!);
  if (match[2] === "disable" && method === "PATCH") return { name: "disable", accid };
  if (match[2] === "kick" && method === "POST") return { name: "kick", accid };
  if (!match[2] && method === "GET") return { name: "details", accid };
  return undefined;
}

/** The chatroom routes: `chatrooms`, `chatrooms/{room_id}` and its `actions/update_status` and `actions/address`. */
function matchChatroomRoute(method: string, path: string): Route | undefined {
  if (path === "chatrooms") return method === "POST" ? { name: "createChatroom" } : undefined;
  const match = /^chatrooms\/([^/]+)(?:\/actions\/(update_status|address))?$/.exec(path);
  if (!match) return undefined;
  const roomid = match[1]!; // digits, or no room id (refused with 414): nothing to decode
  if (match[2] === "update_status" && method === "PATCH") return { name: "toggleCloseStat", roomid };
  if (match[2] === "address" && method === "GET") return { name: "requestAddr", roomid };
  if (!match[2] && method === "GET") return { name: "getChatroom", roomid };
  return undefined;
}

/**
 * How v2 words a chatroom refusal. NetEase documents no code per endpoint: 113404 (not found) and
 * 113406 (closed) are the codes NetEase's v10 client SDK names for these cases, 414 and 403 its
 * general ones (an unregistered account is 414, as on v1). The emulator's choice, all of them.
 */
function roomRefusalV2(refusal: RoomRefusal): Response {
  switch (refusal.kind) {
    case "bad_parameter":
      return v2(414, `parameter error: ${refusal.field}`);
    case "unknown_account":
      return v2(414, "account not exist");
    case "room_not_found":
      return v2(113404, "chatroom not found");
    case "room_closed":
      return v2(113406, "chatroom is closed");
    case "not_creator":
      return v2(403, "operator is not the chatroom's creator");
  }
}

/** A room as v2 answers it (NetEase's Go SDK's `CreateChatroomResponseV2` fields). */
function roomV2(room: Chatroom): Record<string, unknown> {
  return {
    room_id: room.roomid,
    valid: room.valid,
    creator: room.creator,
    room_name: room.name,
    announcement: room.announcement,
    live_url: room.broadcasturl,
    extension: room.ext,
    queue_level: room.queuelevel,
  };
}

const badParameter = (field: string): RoomRefusal => ({ ok: false, kind: "bad_parameter", field });

/** A chatroom call: parameters checked here, the effect in the book. */
function chatroomCall(
  route: Exclude<Route, { name: "create" | "batchQuery" | "details" | "disable" | "kick" }>,
  body: Record<string, unknown>,
  query: URLSearchParams,
  rooms: ChatroomBook,
): ParsedCall {
  const answer = <T>(outcome: RoomOutcome<T>, data: (value: T) => unknown): Response =>
    outcome.ok ? v2(200, "success", data(outcome.value)) : roomRefusalV2(outcome);
  if (route.name === "createChatroom") {
    const creator = typeof body.creator === "string" ? body.creator : "";
    const room = newChatroomV2(body);
    return {
      operation: "createChatroom",
      accids: creator ? [creator] : [],
      run: () => answer("kind" in room ? room : rooms.create(room), roomV2),
    };
  }
  const roomid = roomIdKey(route.roomid);
  switch (route.name) {
    case "getChatroom":
      return {
        operation: "getChatroom",
        accids: [],
        run: () => {
          if (!roomid) return roomRefusalV2(badParameter("room_id"));
          // The emulator keeps no live connections: no one is ever online.
          const count = query.get("need_online_user_count") === "true" ? { online_user_count: 0 } : {};
          return answer(rooms.find(roomid), (room) => ({ ...roomV2(room), ...count }));
        },
      };
    case "toggleCloseStat": {
      const { operator_account_id: operator, valid } = body;
      return {
        operation: "toggleCloseStat",
        accids: typeof operator === "string" && operator ? [operator] : [],
        run: () => {
          if (!roomid) return roomRefusalV2(badParameter("room_id"));
          if (typeof operator !== "string" || !operator) return roomRefusalV2(badParameter("operator_account_id"));
          if (typeof valid !== "boolean") return roomRefusalV2(badParameter("valid"));
          // NetEase's Go SDK expects no data here, its Java SDK reads the room: answer with the room.
          return answer(rooms.setValid(roomid, operator, valid), roomV2);
        },
      };
    }
    case "requestAddr": {
      const address = addressQueryV2(query, roomid);
      const accid = query.get("account_id") ?? "";
      return {
        operation: "requestAddr",
        accids: accid ? [accid] : [],
        ...("kind" in address ? {} : { note: () => rooms.noteAddressCall(address) }),
        run: () => answer("kind" in address ? address : rooms.addresses(address), (items) => ({ items })),
      };
    }
  }
}

/** `POST /im/v2/chatrooms`'s body, checked as NetEase documents it; the other options are ignored. */
function newChatroomV2(body: Record<string, unknown>): NewChatroom | RoomRefusal {
  const { creator, queue_level: queueLevel = 0 } = body;
  if (typeof creator !== "string" || !creator) return badParameter("creator");
  const name = roomText(body.room_name, ROOM_TEXT_LIMITS.name, true);
  if (name === undefined) return badParameter("room_name");
  const announcement = roomText(body.announcement, ROOM_TEXT_LIMITS.announcement, false);
  if (announcement === undefined) return badParameter("announcement");
  const broadcasturl = roomText(body.live_url, ROOM_TEXT_LIMITS.broadcasturl, false);
  if (broadcasturl === undefined) return badParameter("live_url");
  const ext = roomText(body.extension, ROOM_TEXT_LIMITS.ext, false);
  if (ext === undefined) return badParameter("extension");
  if (queueLevel !== 0 && queueLevel !== 1) return badParameter("queue_level");
  return { creator, name, announcement, broadcasturl, ext, queuelevel: queueLevel };
}

/**
 * The address call's query: `account_id` and `client_ip` required (NetEase's Go SDK refuses to call
 * without them), `client_type` 1 (default), 2 or 3, `ip_type` 0 (default) or 1.
 */
function addressQueryV2(query: URLSearchParams, roomid: string | undefined): AddressQuery | RoomRefusal {
  if (!roomid) return badParameter("room_id");
  const accid = query.get("account_id");
  if (!accid) return badParameter("account_id");
  const clientIp = query.get("client_ip");
  if (!clientIp || !isIpAddress(clientIp)) return badParameter("client_ip");
  const clientType = query.get("client_type") ?? "1";
  if (clientType !== "1" && clientType !== "2" && clientType !== "3") return badParameter("client_type");
  const ipType = query.get("ip_type") ?? "0";
  if (ipType !== "0" && ipType !== "1") return badParameter("ip_type");
  return { roomid, accid, clientType: Number(clientType) as ClientType, clientIp, ipType: Number(ipType) as IpType };
}

function userInformation(account: Account): Record<string, unknown> {
  const { name, icon, sign, email, birth, mobile, gender, ex } = account;
  const fields = { name, avatar: icon, sign, email, birthday: birth, mobile, extension: ex };
  return { ...Object.fromEntries(Object.entries(fields).filter(([, v]) => v)), gender };
}

function answer(outcome: Outcome<Account>, data: (account: Account) => unknown): Response {
  if (outcome.ok) return v2(200, "success", data(outcome.value));
  return outcome.notFound ? v2(NOT_FOUND.code, NOT_FOUND.msg) : v2(outcome.code, outcome.desc);
}

function object(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}
