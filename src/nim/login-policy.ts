/**
 * The login callback's decision: whether NetEase may let a login through, as a pure function of the
 * event, the app's signing settings and the account the accid belongs to.
 *
 * A login (eventType 36, IM; 40, QChat) is allowed only with proof: a dynamic token that is valid
 * now for that `fromAccount` and fits the issuing policy (signed with the app secret or, until its
 * deadline, the previous one), for the uid's current accid, of an active account that was not
 * signed out after the token was signed. Under third-party-callback authentication (authType 2)
 * NetEase verifies nothing itself, so a login without a valid dynamic token would let anyone who
 * knows an accid log in as its user. The token is checked before the account is looked up, so a bad
 * token gets one answer whatever the account's state. `eventType` and `authType` may arrive as
 * strings or numbers; an event without an `eventType` is malformed.
 *
 * The HTTP adapter (http/routes/login-callback.ts) checks NetEase's signature on the request first,
 * and supplies `accountOf`: NetEase waits about 2 seconds, so that is two KV reads, never an upstream call.
 */

import type { LoginCallbackDecision } from "../contract/responses.ts";
import { NIM, TIMING } from "../core/constants.ts";
import { checkDynamicToken, type DynamicTokenFailure } from "./dynamic-token.ts";

/** responseCode values for rejected logins (NetEase allows 20000–20099). */
export const LOGIN_REJECT = {
  unknownAccount: 20001,
  blocked: 20002,
  superseded: 20003,
  badToken: 20004,
  expiredToken: 20005,
  malformedEvent: 20006,
  noToken: 20007,
  revoked: 20008,
} as const;

/** What the decision needs of the app: how its dynamic tokens are signed, and their ttl policy. */
export interface LoginPolicySettings {
  appKey: string;
  appSecret: string;
  previousAppSecret: string | undefined;
  /** Until when (Unix ms) tokens signed with `previousAppSecret` count; 0 when never. */
  previousAppSecretTokensUntil: number;
  /** The issuing policy's ttl range (seconds). */
  ttl: { min: number; max: number };
}

/** What the decision needs of the account an accid belongs to (structural: accounts/ is a layer above). */
export interface LoginAccount {
  /** The uid's current accid. */
  accid: string;
  status: "active" | "blocked";
  /** Tokens signed before this time (Unix ms) are refused: the uid signed out everywhere. */
  revokedBefore?: number | undefined;
}

/** A decision, why (fixed words, for the log), and what the log may name. */
export interface LoginVerdict {
  decision: LoginCallbackDecision;
  reason: string;
  /** The event's accid and type, once they were read. */
  accid?: string;
  eventType?: number;
}

/** NetEase's login auth types: 0 static token, 1 dynamic token, 2 third-party callback. */
const STATIC_TOKEN_AUTH = 0;
const KNOWN_AUTH_TYPES = new Set([0, 1, 2]);

const allow = (reason: string): LoginVerdict => ({ decision: { errCode: 0 }, reason });
const reject = (responseCode: number, reason: string): LoginVerdict => ({
  decision: { errCode: 1, responseCode },
  reason,
});

/**
 * The verdict on a callback `body` (its raw JSON text, already known to come from NetEase).
 * `accountOf` finds the account an accid is bound to, or null.
 */
export async function decideLogin(
  body: string,
  settings: LoginPolicySettings,
  accountOf: (accid: string) => Promise<LoginAccount | null>,
  now: number = Date.now(),
): Promise<LoginVerdict> {
  let event: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(body);
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new TypeError("not an object");
    event = parsed as Record<string, unknown>;
  } catch {
    return reject(LOGIN_REJECT.malformedEvent, "body is not a JSON object");
  }
  const eventType = eventTypeOf(event.eventType);
  if (eventType === undefined) return reject(LOGIN_REJECT.malformedEvent, "no valid eventType");
  // One URL receives every enabled callback (messages, teams, …); only logins are ours to veto.
  if (!NIM.loginEventTypes.includes(eventType)) return allow("not a login event");

  const accid = event.fromAccount;
  if (typeof accid !== "string" || !NIM.accidPattern.test(accid)) {
    return reject(LOGIN_REJECT.malformedEvent, "no valid fromAccount");
  }
  const named = (verdict: LoginVerdict): LoginVerdict => ({ ...verdict, accid, eventType });
  const authType = event.authType === undefined ? undefined : Number(event.authType);
  if (authType !== undefined && !KNOWN_AUTH_TYPES.has(authType)) {
    return named(reject(LOGIN_REJECT.malformedEvent, "unknown authType"));
  }
  if (authType === STATIC_TOKEN_AUTH) return named(reject(LOGIN_REJECT.badToken, "static-token login"));
  if (typeof event.token !== "string" || event.token === "") return named(reject(LOGIN_REJECT.noToken, "no token"));

  // The token before the account: a bad credential gets the same answer whatever the account's
  // state, so a signed request cannot be used to learn which accids exist or are blocked.
  const check = await checkToken(settings, accid, event.token, now);
  if (check.failure !== undefined) {
    const code = TOO_OLD.has(check.failure) ? LOGIN_REJECT.expiredToken : LOGIN_REJECT.badToken;
    return named(reject(code, `token ${check.failure}`));
  }

  const account = await accountOf(accid);
  if (!account) return named(reject(LOGIN_REJECT.unknownAccount, "unknown accid"));
  if (account.accid !== accid) return named(reject(LOGIN_REJECT.superseded, "accid was rotated away"));
  if (account.status !== "active") return named(reject(LOGIN_REJECT.blocked, "account blocked"));
  // Signed before the uid's last revocation ("sign out everywhere"): every earlier IM token is dead.
  // Both times are this service's own clock (it signed the token and committed the revocation).
  if (account.revokedBefore !== undefined && check.curTime < account.revokedBefore) {
    return named(reject(LOGIN_REJECT.revoked, "token signed before a revocation"));
  }
  return named(allow("allowed"));
}

/** Failures that mean "this token's time is over (or not yet come)", answered `expiredToken`. */
const TOO_OLD: ReadonlySet<DynamicTokenFailure> = new Set(["expired", "not_yet_valid", "too_old"]);

/** The event type as a number, from a number or a string of digits (NetEase's documents show both). */
function eventTypeOf(value: unknown): number | undefined {
  if (typeof value === "number" && Number.isSafeInteger(value)) return value;
  if (typeof value === "string" && /^\d{1,4}$/.test(value)) return Number(value);
  return undefined;
}

/**
 * Why `token` is not a valid dynamic token for `accid` now (`failure`), or when it was signed
 * (`curTime`, ms) when it is valid. The token must fit the issuing policy (ttl within the range,
 * curTime no older than the largest ttl plus the skew): the signature alone cannot tell a real token
 * from a re-split of its digits. The previous app secret counts only until its deadline.
 */
async function checkToken(
  settings: LoginPolicySettings,
  accid: string,
  token: string,
  now: number,
): Promise<{ failure: DynamicTokenFailure; curTime?: undefined } | { failure?: undefined; curTime: number }> {
  const secrets = [settings.appSecret];
  if (settings.previousAppSecret && now < settings.previousAppSecretTokensUntil) {
    secrets.push(settings.previousAppSecret);
  }
  const policy = {
    ttlMin: settings.ttl.min,
    ttlMax: settings.ttl.max,
    maxAgeMs: settings.ttl.max * 1000 + TIMING.callbackTokenSkewMs,
  };
  let reason: DynamicTokenFailure | undefined;
  for (const appSecret of secrets) {
    const check = await checkDynamicToken(token, {
      appKey: settings.appKey,
      accid,
      appSecret,
      now,
      skewMs: TIMING.callbackTokenSkewMs,
      policy,
    });
    if (check.ok) return { curTime: check.fields.curTime };
    // A reason found under the right secret beats "bad signature" under the other one.
    if (reason === undefined || check.reason !== "bad_signature") reason = check.reason;
  }
  return { failure: reason! };
}
