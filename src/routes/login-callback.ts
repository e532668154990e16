/**
 * POST /v1/nim/login-callback: NetEase's third-party login callback.
 *
 * A login is allowed only with proof: a dynamic token that is valid now for that `fromAccount`
 * (signed with NIM_APP_SECRET or, during a rotation, NIM_APP_SECRET_PREVIOUS), for the uid's current
 * accid, of an active account. NetEase's block already stops a blocked accid by itself; what this adds
 * is refusing rotated-away or unbound accids and any login without a valid dynamic token (under auth
 * type 2 NetEase verifies nothing itself). `eventType` and `authType` may arrive as strings or numbers.
 *
 * NetEase waits about 2 seconds, so this path makes no upstream call: two KV reads (accid → uid →
 * record) and one or two SHA-1s. A request that is not signed by NetEase gets 401. Reject reasons are
 * distinct responseCodes (documented in the README).
 */

import { type Context, Hono } from "hono";
import { LIMITS, NIM, TIMING } from "../constants.ts";
import type { LoginCallbackDecision } from "../contract.ts";
import { errors } from "../errors.ts";
import { addLogFields } from "../middleware.ts";
import { verifyCallback } from "../nim/callback-auth.ts";
import { checkDynamicToken } from "../nim/dynamic-token.ts";
import type { AppEnv } from "../runtime.ts";
import { limitBody } from "./json-body.ts";

/** responseCode values for rejected logins (NetEase allows 20000–20099). */
export const LOGIN_REJECT = {
  unknownAccount: 20001,
  blocked: 20002,
  superseded: 20003,
  badToken: 20004,
  expiredToken: 20005,
  malformedEvent: 20006,
  noToken: 20007,
} as const;

/** NetEase's login auth types: 0 static token, 1 dynamic token, 2 third-party callback. */
const STATIC_TOKEN_AUTH = 0;
const KNOWN_AUTH_TYPES = new Set([0, 1, 2]);

/** Routes under /v1/nim/login-callback. */
export const loginCallbackRoutes = new Hono<AppEnv>();

loginCallbackRoutes.post("/", limitBody(LIMITS.maxBodyBytes), async (c) => {
  const { config, store } = c.var.runtime;
  const raw = await c.req.arrayBuffer();
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
  // Other callback types may be routed here too; they are not ours to veto.
  if (Number(event.eventType) !== NIM.loginEventType) return decide(c, { errCode: 0 }, "not a login event");

  const accid = event.fromAccount;
  if (typeof accid !== "string" || !NIM.accidPattern.test(accid)) {
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.malformedEvent }, "no valid fromAccount");
  }
  addLogFields(c, { accid });
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

  const uid = await store.uidForAccid(accid);
  const record = uid === null ? null : await store.get(uid);
  if (!record) return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.unknownAccount }, "unknown accid");
  if (record.accid !== accid)
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.superseded }, "accid was rotated away");
  if (record.status !== "active")
    return decide(c, { errCode: 1, responseCode: LOGIN_REJECT.blocked }, "account blocked");

  // A token signed with either secret is valid during an app-secret rotation.
  let reason: string | undefined;
  for (const appSecret of [config.appSecret, config.previousAppSecret]) {
    if (!appSecret) continue;
    const now = Date.now();
    const check = await checkDynamicToken(event.token, {
      appKey: config.appKey,
      accid,
      appSecret,
      now,
      skewMs: TIMING.callbackTokenSkewMs,
    });
    if (check.ok) return decide(c, { errCode: 0 }, "allowed");
    // An expiry reported under the right secret beats "bad signature" under the other one.
    if (reason === undefined || check.reason !== "bad_signature") reason = check.reason;
  }
  const code = reason === "expired" || reason === "not_yet_valid" ? LOGIN_REJECT.expiredToken : LOGIN_REJECT.badToken;
  return decide(c, { errCode: 1, responseCode: code }, `token ${reason}`);
});

function decide(c: Context<AppEnv>, decision: LoginCallbackDecision, reason: string): Response {
  addLogFields(c, { decision: decision.errCode === 0 ? "allow" : "reject", reason });
  return c.json(decision, 200, { "Cache-Control": "no-store" });
}
