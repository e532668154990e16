/**
 * POST /v1/nim/login-callback: NetEase's third-party login callback, as an HTTP adapter. A request
 * not signed by NetEase gets 401; a signed one gets NetEase's JSON with the decision of
 * nim/login-policy.ts, whose reject reasons are distinct responseCodes (docs/login-callback.md).
 */

import { Hono } from "hono";
import { LIMITS } from "../../core/constants.ts";
import { verifyCallback } from "../../nim/callback-auth.ts";
import { decideLogin } from "../../nim/login-policy.ts";
import type { AppEnv } from "../context.ts";
import { errors } from "../errors.ts";
import { addLogFields } from "../frame.ts";
import { readLimitedBody } from "../json-body.ts";

/** Routes under /v1/nim/login-callback. */
export const loginCallbackRoutes = new Hono<AppEnv>();

loginCallbackRoutes.post("/", async (c) => {
  const { metrics } = c.get("runtime");
  const { config, store } = c.get("runtime").app();
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

  const { decision, reason, accid, eventType } = await decideLogin(
    new TextDecoder().decode(raw),
    config,
    async (accid) => {
      const uid = await store.uidForAccid(accid);
      return uid === null ? null : store.get(uid);
    },
  );
  const verdict = decision.errCode === 0 ? "allow" : "reject";
  if (accid !== undefined) addLogFields(c, { accid, eventType });
  addLogFields(c, { decision: verdict, reason });
  // An allow carries no responseCode: NetEase takes errCode 0 as 200.
  const responseCode = String(decision.responseCode ?? 200);
  metrics.record("login_callback", [responseCode, verdict], Date.now() - c.get("startedAt"));
  return c.json(decision, 200, { "Cache-Control": "no-store" });
});
