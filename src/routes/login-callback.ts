/**
 * POST /v1/nim/login-callback: NetEase's third-party login callback.
 *
 * A login (eventType 36, IM; 40, QChat) is allowed only with proof: a dynamic token that is valid
 * now for that `fromAccount` and fits the issuing policy (signed with NIM_APP_SECRET or, until
 * NIM_APP_SECRET_PREVIOUS_UNTIL, the previous secret), for the uid's current accid, of an active
 * account. The token is checked before the account is looked up, so a bad token gets one answer
 * whatever the account's state. NetEase's block already stops a blocked accid by itself; what this
 * adds is refusing rotated-away or unbound accids and any login without a valid dynamic token (under
 * auth type 2 NetEase verifies nothing itself). `eventType` and `authType` may arrive as strings or
 * numbers; a body without an `eventType` is malformed.
 *
 * NetEase waits about 2 seconds, so this path makes no upstream call: two KV reads (accid → uid →
 * record) and one or two SHA-1s. A request that is not signed by NetEase gets 401. Reject reasons are
 * distinct responseCodes (documented in the README).
 */

import { type Context, Hono } from "hono";
import type { Config } from "../config.ts";
import { LIMITS, NIM, TIMING } from "../constants.ts";
import { errors } from "../errors.ts";
import { addLogFields } from "../middleware.ts";
import { verifyCallback } from "../nim/callback-auth.ts";
import { checkDynamicToken, type DynamicTokenFailure } from "../nim/dynamic-token.ts";
import type { LoginCallbackDecision } from "../responses.ts";
import type { AppEnv } from "../runtime.ts";
import { readLimitedBody } from "./json-body.ts";

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

/** NetEase's login auth types: 0 static token, 1 dynamic token, 2 third-party callback. */
const STATIC_TOKEN_AUTH = 0;
const KNOWN_AUTH_TYPES = new Set([0, 1, 2]);

/** Routes under /v1/nim/login-callback. */
export const loginCallbackRoutes = new Hono<AppEnv>();

loginCallbackRoutes.post("/", async (c) => {
  const { config, store } = c.get("runtime");
  const raw = await readLimitedBody(c.req.raw, LIMITS.maxBodyBytes);
  const rejection = await verifyCallback(
    {
      appKey: c.req.header("AppKey"),
      curTime: c.req.header("CurTime"),
      md5: c.req.header("MD5"),
      checkSum: c.req.header("CheckSum"),
    },
    raw,
    {
      appKey: config.appKey,
      appSecrets: [config.appSecret, ...(config.previousAppSecret ? [config.previousAppSecret] : [])],
      now: Date.now(),
    },
  );
  if (rejection) throw errors.unauthorized("Unauthorized.", undefined, `callback signature: ${rejection}`);

  let event: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder().decode(raw));
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new TypeError("not an object");
    event = parsed as Record<string, unknown>;
  } catch {
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.malformedEvent }, "body is not a JSON object");
  }
  const eventType = eventTypeOf(event.eventType);
  if (eventType === undefined) {
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.malformedEvent }, "no valid eventType");
  }
  // One URL receives every enabled callback (messages, teams, …); only logins are ours to veto.
  if (!NIM.loginEventTypes.includes(eventType)) return decide(c, { errCode: 0 }, "not a login event");

  const accid = event.fromAccount;
  if (typeof accid !== "string" || !NIM.accidPattern.test(accid)) {
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.malformedEvent }, "no valid fromAccount");
  }
  addLogFields(c, { accid, eventType });
  // Proof first, and it is required: under third-party-callback authentication (authType 2) NetEase
  // verifies nothing itself, so allowing a login without a valid dynamic token would let anyone who
  // knows an accid log in as that user.
  const authType = event.authType === undefined ? undefined : Number(event.authType);
  if (authType !== undefined && !KNOWN_AUTH_TYPES.has(authType)) {
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.malformedEvent }, "unknown authType");
  }
  if (authType === STATIC_TOKEN_AUTH) {
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.badToken }, "static-token login");
  }
  if (typeof event.token !== "string" || event.token === "") {
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.noToken }, "no token");
  }

  // The token before the account: a bad credential gets the same answer whatever the account's
  // state, so a signed request cannot be used to learn which accids exist or are blocked.
  const { failure, curTime } = await checkToken(config, accid, event.token);
  if (failure !== undefined) {
    const code = TOO_OLD.has(failure) ? LOGIN_REJECT.expiredToken : LOGIN_REJECT.badToken;
    return decide(c, { errCode: 1, responseCode: code }, `token ${failure}`);
  }

  const uid = await store.uidForAccid(accid);
  const record = uid === null ? null : await store.get(uid);
  if (!record) return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.unknownAccount }, "unknown accid");
  if (record.accid !== accid)
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.superseded }, "accid was rotated away");
  if (record.status !== "active")
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.blocked }, "account blocked");
  // Signed before the uid's last revocation ("sign out everywhere"): every earlier IM token is dead.
  // Both times are this service's own clock (it signed the token and committed the revocation).
  if (record.revokedBefore !== undefined && curTime! < record.revokedBefore)
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.revoked }, "token signed before a revocation");
  return decide(c, { errCode: 0 }, "allowed");
});

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
 * (`curTime`, ms) when it is valid. The token must
 * fit the issuing policy (ttl within TOKEN_TTL_MIN..TOKEN_TTL_MAX, curTime no older than the largest
 * ttl plus the skew): the signature alone cannot tell a real token from a re-split of its digits.
 * The previous app secret counts only until its deadline (see `Config.previousAppSecretTokensUntil`).
 */
async function checkToken(
  config: Config,
  accid: string,
  token: string,
): Promise<{ failure: DynamicTokenFailure; curTime?: undefined } | { failure?: undefined; curTime: number }> {
  const now = Date.now();
  const secrets = [config.appSecret];
  if (config.previousAppSecret && now < config.previousAppSecretTokensUntil) secrets.push(config.previousAppSecret);
  const policy = {
    ttlMin: config.ttl.min,
    ttlMax: config.ttl.max,
    maxAgeMs: config.ttl.max * 1000 + TIMING.callbackTokenSkewMs,
  };
  let reason: DynamicTokenFailure | undefined;
  for (const appSecret of secrets) {
    const check = await checkDynamicToken(token, {
      appKey: config.appKey,
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

function decide(c: Context<AppEnv>, decision: LoginCallbackDecision, reason: string): Response {
  const verdict = decision.errCode === 0 ? "allow" : "reject";
  addLogFields(c, { decision: verdict, reason });
  // An allow carries no responseCode: NetEase takes errCode 0 as 200.
  const responseCode = String(decision.responseCode ?? 200);
  c.get("runtime").metrics.record("login_callback", [responseCode, verdict], Date.now() - c.get("startedAt"));
  return c.json(decision, 200, { "Cache-Control": "no-store" });
}
