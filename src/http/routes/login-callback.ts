/**
 * POST /v1/nim/login-callback: NetEase's third-party login callback, as an HTTP adapter. A request
 * not signed by NetEase gets 401; a signed one gets NetEase's JSON with the decision of
 * nim/login-policy.ts, whose reject reasons are distinct responseCodes (docs/login-callback.md).
 *
 * One URL serves every app: NetEase names the app in its `AppKey` header, and the request is checked
 * with that app's secret and decided on that app's accounts. An app key this deployment does not
 * serve is checked against the home app's, and so refused as any bad signature is.
 */

import { Hono } from "hono";
import { DEFAULT_APP, LIMITS } from "../../core/constants.ts";
import { verifyCallback } from "../../nim/callback-auth.ts";
import { decideLogin } from "../../nim/login-policy.ts";
import type { AppEnv } from "../context.ts";
import { errors } from "../errors.ts";
import { addLogFields } from "../frame.ts";
import { readLimitedBody } from "../json-body.ts";

/** Routes under /v1/nim/login-callback. */
export const loginCallbackRoutes = new Hono<AppEnv>();

loginCallbackRoutes.post("/", async (c) => {
  const runtime = c.get("runtime");
  const appKey = c.req.header("AppKey");
  const { config, store, metrics } = (appKey !== undefined && runtime.appWithKey(appKey)) || runtime.app();
  const raw = await readLimitedBody(c.req.raw, LIMITS.maxBodyBytes);
  const [appSecret, previousAppSecret] = await Promise.all([config.appSecret.read(), config.previousAppSecret?.read()]);
  const rejection = await verifyCallback(
    {
      appKey,
      curTime: c.req.header("CurTime"),
      md5: c.req.header("MD5"),
      checkSum: c.req.header("CheckSum"),
    },
    raw,
    {
      appKey: config.appKey,
      appSecrets: [appSecret, ...(previousAppSecret ? [previousAppSecret] : [])],
      now: Date.now(),
    },
  );
  if (rejection) throw errors.unauthorized("Unauthorized.", undefined, `callback signature: ${rejection}`);

  const { decision, reason, accid, eventType } = await decideLogin(
    new TextDecoder().decode(raw),
    { ...config, appSecret, previousAppSecret },
    async (accid) => {
      const uid = await store.uidForAccid(accid);
      return uid === null ? null : store.get(uid);
    },
  );
  const verdict = decision.errCode === 0 ? "allow" : "reject";
  if (accid !== undefined) addLogFields(c, { accid, eventType });
  if (config.name !== DEFAULT_APP) addLogFields(c, { app: config.name });
  addLogFields(c, { decision: verdict, reason });
  // An allow carries no responseCode: NetEase takes errCode 0 as 200.
  const responseCode = String(decision.responseCode ?? 200);
  // An allowed login comes with nearly every IM login: sampled. A rejection is always written.
  const latencyMs = Date.now() - c.get("startedAt");
  if (verdict === "allow") metrics.recordSampled("login_callback", [responseCode, verdict], latencyMs);
  else metrics.record("login_callback", [responseCode, verdict], latencyMs);
  return c.json(decision, 200, { "Cache-Control": "no-store" });
});
