/**
 * POST /v1/rtc/token: app session in, NERTC (audio/video) token out, signed with the same app key and
 * secret as the IM token, so an IM app with calls needs no second token server.
 *
 * The same session check, per-uid limit, CORS and errors as /v1/token. The user is identified by a
 * numeric RTC uid that is fixed for life (see accounts/rtc-uid.ts); a user who never asked for an IM
 * token gets their account, and IM registration, created here exactly as /v1/token would, so the two
 * endpoints always agree on who the user is. A blocked account gets no RTC token either.
 */

import { Hono } from "hono";
import { limitTokenRequests } from "../abuse.ts";
import type { RtcTokenResponse } from "../contract.ts";
import { addLogFields } from "../middleware.ts";
import { signRtcToken } from "../nim/rtc-token.ts";
import type { AppEnv } from "../runtime.ts";
import { activeAccount, issuedTimes } from "./issuing.ts";
import { jsonBody } from "./json-body.ts";
import { requireSession } from "./session-auth.ts";

/** Routes under /v1/rtc/token. */
export const rtcTokenRoutes = new Hono<AppEnv>();

rtcTokenRoutes.post(
  "/",
  requireSession(),
  limitTokenRequests(),
  jsonBody((c) => c.var.runtime.rtcTokenRequestSchema),
  async (c) => {
    const { config, lookup } = c.var.runtime;
    const { channelName, ttl = config.rtcTtl.default } = c.req.valid("json");
    const rtcUid = await lookup.rtcUid(c.var.uid, await activeAccount(c));
    addLogFields(c, { rtcUid, ttl });
    const { appKey, appSecret } = config;
    const curTime = Date.now();
    const { token } = await signRtcToken({ appKey, uid: rtcUid, channelName, curTime, ttl, appSecret });
    const body: RtcTokenResponse = { uid: rtcUid, channelName, token, appKey, ...issuedTimes(curTime, ttl) };
    return c.json(body, 200, { "Cache-Control": "no-store" });
  },
);
