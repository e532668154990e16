/**
 * POST /v1/token: app session in, NetEase IM dynamic token out.
 *
 * Authentication comes before the body is read, so an unauthenticated caller learns nothing about
 * what the endpoint accepts. The warm path is: JWT check (key imported once), account from the
 * isolate cache, one SHA-1. Nothing is written and nothing is fetched.
 */

import { Hono } from "hono";
import { limitTokenRequests } from "../abuse.ts";
import { addLogFields } from "../middleware.ts";
import { signDynamicToken } from "../nim/dynamic-token.ts";
import type { TokenResponse } from "../responses.ts";
import type { AppEnv } from "../runtime.ts";
import { activeAccount, issuedTimes } from "./issuing.ts";
import { jsonBody } from "./json-body.ts";
import { requireSession } from "./session-auth.ts";

/** Routes under /v1/token. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post(
  "/",
  requireSession(),
  limitTokenRequests(),
  jsonBody((c) => c.get("runtime").tokenRequestSchema),
  async (c) => {
    const { config, metrics } = c.get("runtime");
    const ttl = c.req.valid("json").ttl ?? config.ttl.default;
    const { accid } = await activeAccount(c);
    addLogFields(c, { accid, ttl });
    const { appKey, appSecret } = config;
    const curTime = Date.now();
    const { token } = await signDynamicToken({ appKey, accid, curTime, ttl, appSecret });
    const body: TokenResponse = { accid, token, appKey, ...issuedTimes(curTime, ttl) };
    metrics.record("token_issued", ["im", ""], Date.now() - c.get("startedAt"));
    return c.json(body, 200, { "Cache-Control": "no-store" });
  },
);
