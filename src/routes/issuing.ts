/** What the two token endpoints (IM and NERTC) share: the caller's active account, and a token's times. */

import type { Context } from "hono";
import { TIMING } from "../constants.ts";
import { DomainError } from "../errors.ts";
import type { AccountRecord } from "../records/record.ts";
import type { SessionEnv } from "./session-auth.ts";

/**
 * The session user's account, provisioned on first use; `session_revoked` when the session was
 * issued before the uid's last revocation, `account_blocked` when the account is blocked.
 */
export async function activeAccount(c: Context<SessionEnv>): Promise<AccountRecord> {
  const account = await sessionAccount(c);
  if (account.status === "blocked") throw new DomainError("account_blocked");
  return account;
}

/** The session user's account (provisioned on first use), refused when the session was revoked. */
export async function sessionAccount(c: Context<SessionEnv>): Promise<AccountRecord> {
  const account = await c.get("runtime").lookup.account(c.get("uid"), (work) => c.executionCtx.waitUntil(work));
  if (isRevoked(c.get("sessionIssuedAt"), account)) {
    throw new DomainError("session_revoked", { detail: "session issued before the uid's revocation" });
  }
  return account;
}

/**
 * Whether a session issued at `issuedAt` (Unix seconds; undefined when the JWT has no `iat`) falls
 * under the account's revocation. The clock tolerance counts against the session: an issuer whose
 * clock is ahead of ours may stamp a session made just before the revocation with an `iat` just
 * after it, so anything stamped earlier than `revokedBefore` plus the tolerance is refused (a new
 * sign-in therefore works once the tolerance has passed). Without `iat` the age cannot be told, so
 * a revoked uid's session without one is refused.
 */
export function isRevoked(issuedAt: number | undefined, account: AccountRecord): boolean {
  if (account.revokedBefore === undefined) return false;
  if (issuedAt === undefined) return true;
  return issuedAt * 1000 < account.revokedBefore + TIMING.jwtClockToleranceSeconds * 1000;
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
