/**
 * POST /v1/rtc/token: app session in, NERTC (audio/video) token out, signed with the same app key and
 * secret as the IM token, so an IM app with calls needs no second token server.
 *
 * The same session check, per-uid limit, CORS and errors as /v1/token. The user is identified by a
 * numeric RTC uid that is fixed for life (derived in accounts/object/derive.ts); a user who never asked for an IM
 * token gets their account, and IM registration, created here exactly as /v1/token would, so the two
 * endpoints always agree on who the user is. A blocked account gets no RTC token either.
 *
 * The channel policy (rtc/channel-policy.ts) is decided first, from the session alone, so a refused
 * channel provisions nothing. With NERTC_PERM_SECRET the answer also carries a permission key for
 * the granted privileges, whose lifetime the policy sets apart from the token's.
 */

import type { RtcTokenResponse } from "../../contract/responses.ts";
import { DomainError } from "../../core/errors.ts";
import { decideChannel } from "../../rtc/channel-policy.ts";
import { signRtcPermissionKey } from "../../rtc/permission-key.ts";
import { signRtcToken } from "../../rtc/token.ts";
import { rtcTokenBody } from "../body-check.ts";
import { activeAccount, countedSession, issuedTimes, type TokenCall } from "../issuing.ts";
import { readJsonObject } from "../json-body.ts";

/** Issues a NERTC token (and permission key) for the call's session user in the channel it names. */
export async function issueRtcToken(call: TokenCall): Promise<RtcTokenResponse> {
  const { request, fields } = call;
  const { session, app } = await countedSession(call);
  const { config, lookup } = app;
  const { channelName, ttl = config.rtcTtl.default } = rtcTokenBody(config, await readJsonObject(request));
  const grant = decideChannel(config.channelPolicy, session.uid, channelName, session.claims);
  if (!grant.allowed) throw new DomainError("channel_refused", { detail: grant.reason });
  const rtcUid = await lookup.rtcUid(session.uid, await activeAccount(app, session, call));
  fields.rtcUid = rtcUid;
  fields.ttl = ttl;
  const { appKey } = config;
  const appSecret = await config.appSecret.read();
  const curTime = Date.now();
  const { token } = await signRtcToken({ appKey, uid: rtcUid, channelName, curTime, ttl, appSecret });
  let body: RtcTokenResponse = { uid: rtcUid, channelName, token, appKey, ...issuedTimes(curTime, ttl) };
  if (config.rtcPermSecret !== undefined) {
    const { privilege, keyTtl } = grant;
    // The key counts in whole seconds; its expiry is stated from the second it was signed in.
    const keyTime = Math.floor(curTime / 1000);
    const { permKey } = await signRtcPermissionKey({
      appKey,
      uid: rtcUid,
      channelName,
      curTime: keyTime,
      ttl: keyTtl,
      privilege,
      permSecret: await config.rtcPermSecret.read(),
    });
    fields.privilege = privilege;
    fields.keyTtl = keyTtl;
    body = { ...body, permKey, privilege, permKeyTtl: keyTtl, permKeyExpiresAt: (keyTime + keyTtl) * 1000 };
  }
  app.metrics.recordSampled("token_issued", ["rtc", ""], Date.now() - call.startedAt);
  return body;
}
