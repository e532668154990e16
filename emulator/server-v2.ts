/**
 * NetEase's server API v2 (IM 10.x REST) over the same account book as v1: JSON bodies under
 * `/im/v2/accounts`, answers `{code, msg, data}`. Paths and fields as NetEase's Go server SDK sends
 * and reads them (`src/im/v2/account`). Codes NetEase does not document for v2 are the emulator's
 * choice and marked so: the Worker must not depend on them.
 */

import type { Account, AccountBook, Outcome } from "./accounts.ts";
import { json } from "./answers.ts";
import type { Operation, ParsedCall } from "./dialect.ts";

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
  book: AccountBook,
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
  }
}

type Route = { name: "create" | "batchQuery" } | { name: "details" | "disable" | "kick"; accid: string };

function matchRoute(method: string, path: string): Route | undefined {
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
