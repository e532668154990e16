/**
 * POST /v1/token: app session in, NetEase IM dynamic token out.
 *
 * Authentication comes before the body is read, so an unauthenticated caller learns nothing about
 * what the endpoint accepts. The warm path is: JWT check (key imported once), account from the
 * isolate cache, one SHA-1. Nothing is written and nothing is fetched.
 *
 * The handler takes a `TokenCall`, not a Hono context: the Worker's entry answers this endpoint
 * through the token door (`token-door.ts`), and Hono's route (`token-routes.ts`) serves what the door passes on.
 */

import type { TokenResponse } from "../../contract/responses.ts";
import { signDynamicToken } from "../../nim/dynamic-token.ts";
import { activeAccount, countedSession, issuedTimes, type TokenCall } from "../issuing.ts";
import { readJsonObject } from "../json-body.ts";

/** Issues an IM dynamic token for the call's session user: session, per-uid limit, body, account, token. */
export async function issueImToken(call: TokenCall): Promise<TokenResponse> {
  const { request, fields } = call;
  const { session, app } = await countedSession(call);
  const { config } = app;
  // No body or a blank one (most requests) is `{}`, which the schema always takes: nothing to check,
  // and the checker (Valibot) is not loaded (src/index.ts).
  const sent = await readJsonObject(request);
  const ttl =
    (sent === undefined ? undefined : (await import("../body-check.ts")).imTokenBody(config, sent).ttl) ??
    config.ttl.default;
  const { accid } = await activeAccount(app, session, call);
  fields.accid = accid;
  fields.ttl = ttl;
  const { appKey } = config;
  const appSecret = await config.appSecret.read();
  const curTime = Date.now();
  const { token } = await signDynamicToken({ appKey, accid, curTime, ttl, appSecret });
  const body: TokenResponse = { accid, token, appKey, ...issuedTimes(curTime, ttl) };
  app.metrics.recordSampled("token_issued", ["im", ""], Date.now() - call.startedAt);
  return body;
}
