/**
 * NetEase's server API v1 over the account book: form POSTs to `/user/<action>.action`, answers
 * `{code, desc?, info? | uinfos?}`.
 */

import type { Account, AccountBook, Outcome } from "./accounts.ts";
import { nim } from "./answers.ts";
import { type ParsedCall, V1_ACTIONS } from "./dialect.ts";

/** How getUinfos treats an unknown accid (NetEase does not document which it does). */
export type UnknownAccids = "omit" | "fail";

/** Parses a v1 call; a Response when it is refused before it runs (NetEase's 414). */
export async function parseV1(
  action: string,
  request: Request,
  book: AccountBook,
  unknown: UnknownAccids,
): Promise<ParsedCall | Response> {
  const operation = V1_ACTIONS[action];
  if (!operation) return nim(404, { desc: "not found" });
  if (!/^application\/x-www-form-urlencoded/i.test(request.headers.get("Content-Type") ?? "")) {
    return nim(414, { desc: "Content-Type must be application/x-www-form-urlencoded" });
  }
  const form = new URLSearchParams(await request.text());
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
