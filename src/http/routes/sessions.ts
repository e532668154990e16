/**
 * POST /v1/sessions/revoke: "sign out everywhere" for the session's own user.
 *
 * The same session check and per-uid limit as the token endpoints. Every app session of the uid
 * signed in to before now (by its issuer's sign-in time, so a refreshed token of such a session too)
 * stops getting tokens, the login callback refuses every IM token signed before now, and live IM
 * sessions are kicked at NetEase.
 * The account itself stays usable: a new sign-in gets tokens again. A session that is itself
 * revoked cannot revoke again (or a leaked old session could sign the user out at will).
 *
 * The revocation is committed by the uid's object and kept in this isolate's cache, so this
 * location refuses the old sessions at once; other locations see it as KV and their caches catch up
 * (docs/security.md states the worst case).
 */

import { Hono, type MiddlewareHandler } from "hono";
import { emptyRequestSchema } from "../../contract/requests.ts";
import type { SessionRevokeResponse } from "../../contract/responses.ts";
import { DEFAULT_APP } from "../../core/constants.ts";
import { logLine } from "../../core/log.ts";
import type { AppRuntime } from "../../runtime.ts";
import { jsonBody } from "../body-check.ts";
import type { AppEnv } from "../context.ts";
import { addLogFields } from "../frame.ts";
import { sessionAccount } from "../issuing.ts";
import { countTokenRequest } from "../limits.ts";
import { requireSession, type SessionEnv } from "../session-auth.ts";

/** Routes under /v1/sessions (and /v1/apps/{app}/sessions). */
export const sessionRoutes = new Hono<AppEnv>();

/** The app the session uses (the one the path names, or by the apps' rules), counted as the token paths count. */
function sessionApp(): MiddlewareHandler<SessionEnv & { Variables: { app: AppRuntime } }> {
  return async function sessionApp(c, next) {
    const runtime = c.get("runtime");
    const app = runtime.appFor({ issuer: c.get("sessionIssuer"), claims: c.get("sessionClaims") }, c.req.param("app"));
    if (app.config.name !== DEFAULT_APP) addLogFields(c, { app: app.config.name });
    await countTokenRequest(runtime, app, c.get("uid"));
    c.set("app", app);
    await next();
  };
}

sessionRoutes.post("/revoke", requireSession(), sessionApp(), jsonBody(emptyRequestSchema), async (c) => {
  const app = c.get("app");
  const uid = c.get("uid");
  // Provisions a uid seen for the first time, as the token path would: its IM account then exists
  // for the kick, and the revocation has a record to live in.
  await sessionAccount(
    app,
    { uid, signedInAt: c.get("sessionSignedInAt") },
    { request: c.req.raw, waitUntil: (work) => c.executionCtx.waitUntil(work) },
  );
  // No request id: the caller's X-Request-Id is theirs to choose, so it must never reach the object's
  // replay table, which operators' ids share (a user could otherwise plant an id an operator will
  // send, or turn a later sign-out into a replay of an old one). Signing out twice simply revokes twice.
  const { value } = await app.accountObjects.revoke(uid, true, { operator: "user" });
  addLogFields(c, { accid: value.record.accid, kick: value.kick });
  logLine("info", {
    event: "sessions_revoked",
    requestId: c.get("requestId"),
    who: "user",
    uid,
    accid: value.record.accid,
    kick: value.kick,
  });
  const body: SessionRevokeResponse = { revokedBefore: value.record.revokedBefore! };
  return c.json(body, 200, { "Cache-Control": "no-store" });
});
