/** What the two token endpoints (IM and NERTC) share: the caller's active account, and a token's times. */

import type { Context } from "hono";
import { TIMING } from "../constants.ts";
import { DomainError } from "../errors.ts";
import type { AccountRecord } from "../records/record.ts";
import type { SessionEnv } from "./session-auth.ts";

/** The session user's account, provisioned on first use; `account_blocked` when it is blocked. */
export async function activeAccount(c: Context<SessionEnv>): Promise<AccountRecord> {
  const account = await c.var.runtime.lookup.account(c.var.uid, (work) => c.executionCtx.waitUntil(work));
  if (account.status === "blocked") throw new DomainError("account_blocked");
  return account;
}

/** The times an answer carries for a token signed at `curTime` (ms) for `ttl` seconds. */
export function issuedTimes(curTime: number, ttl: number) {
  return {
    curTime,
    ttl,
    expiresAt: curTime + ttl * 1000,
    serverTime: Date.now(),
    refreshAfter: curTime + Math.round(ttl * 1000 * TIMING.refreshFraction),
  };
}
