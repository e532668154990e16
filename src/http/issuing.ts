/**
 * What the two token endpoints (IM and NERTC) share: the call both doors hand their handlers, the
 * caller's active account, a token's times and the answer's shape.
 */

import type { AccountRecord } from "../accounts/record.ts";
import { isRevoked } from "../accounts/revocation.ts";
import { DEFAULT_APP, TIMING } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import type { LogFields } from "../core/log.ts";
import type { AppRuntime, Runtime } from "../runtime.ts";
import type { Session } from "../session/verify.ts";
import { clientIpOf, countTokenRequest, networkOf } from "./limits.ts";
import { sessionOf } from "./session-auth.ts";

/**
 * One request to a token endpoint, as its handler sees it, whichever door it came through (the
 * token door in `token-door.ts`, or Hono's route): no framework in it, so one handler serves both.
 */
export interface TokenCall {
  readonly request: Request;
  readonly runtime: Runtime;
  /** The app the path names (`/v1/apps/{app}/token`); undefined: the apps' rules choose (`apps/routing.ts`). */
  readonly appName?: string | undefined;
  /** The access log's fields for this request; handlers add to them. */
  readonly fields: LogFields;
  /** When the request arrived (ms), for latencies in metrics. */
  readonly startedAt: number;
  /** Keeps work alive after the answer is sent (the request's `waitUntil`). */
  waitUntil(work: Promise<unknown>): void;
}

/** The headers of a token endpoint's 200 (besides the frame's): JSON, never stored by any cache. */
export const TOKEN_ANSWER_HEADERS: Readonly<Record<string, string>> = {
  "Content-Type": "application/json",
  "Cache-Control": "no-store",
};

/**
 * The call's session (401 `missing_session` or `invalid_session` otherwise) and the app it uses (404
 * `unknown_app`, 403 `app_not_allowed`), counted against the uid's token-request limit in that app
 * (429): what both token endpoints check first, before the body.
 */
export async function countedSession(call: TokenCall): Promise<{ session: Session; app: AppRuntime }> {
  const { runtime } = call;
  const session = await sessionOf(call.request.headers.get("Authorization"), runtime);
  const app = runtime.appFor(session, call.appName);
  if (app.config.name !== DEFAULT_APP) call.fields.app = app.config.name;
  await countTokenRequest(runtime, app, session.uid);
  return { session, app };
}

/** Who asks, as the account checks need it: the uid, and when its user signed in to the session. */
export type SessionUser = Pick<Session, "uid" | "signedInAt">;

/** The part of a call the account checks need: the client (whose network asks for a creation turn), and `waitUntil`. */
export type AccountCall = Pick<TokenCall, "request" | "waitUntil">;

/**
 * The session user's account, provisioned on first use; `session_revoked` when the session was
 * signed in to before the uid's last revocation, `account_blocked` when the account is blocked.
 */
export async function activeAccount(app: AppRuntime, user: SessionUser, call: AccountCall): Promise<AccountRecord> {
  const account = await sessionAccount(app, user, call);
  if (account.status === "blocked") throw new DomainError("account_blocked");
  return account;
}

/** The session user's account (provisioned on first use), refused when the session was revoked. */
export async function sessionAccount(app: AppRuntime, user: SessionUser, call: AccountCall): Promise<AccountRecord> {
  const account = await app.lookup.account(user.uid, call.waitUntil, () => networkOf(clientIpOf(call.request)));
  if (isRevoked(user.signedInAt, account.revokedBefore)) {
    throw new DomainError("session_revoked", { detail: "session signed in to before the uid's revocation" });
  }
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
