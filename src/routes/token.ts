/**
 * POST /v1/token: app session in, NetEase IM dynamic token out.
 *
 * Authentication comes before the body is read, so an unauthenticated caller learns nothing about
 * what the endpoint accepts. The warm path is: JWT check (key imported once), account from the
 * isolate cache, one SHA-1. Nothing is written and nothing is fetched.
 */

import { Hono } from "hono";
import { limitTokenRequests } from "../abuse.ts";
import { TIMING } from "../constants.ts";
import type { TokenResponse } from "../contract.ts";
import { DomainError } from "../errors.ts";
import { addLogFields } from "../middleware.ts";
import { signDynamicToken } from "../nim/dynamic-token.ts";
import type { AppEnv } from "../runtime.ts";
import { jsonBody } from "./json-body.ts";
import { requireSession } from "./session-auth.ts";

/** Routes under /v1/token. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post(
  "/",
  requireSession(),
  limitTokenRequests(),
  jsonBody((c) => c.var.runtime.tokenRequestSchema),
  async (c) => {
    const { config, accounts } = c.var.runtime;
    const ttl = c.req.valid("json").ttl ?? config.ttl.default;
    const account = await accounts.account(c.var.uid, (work) => c.executionCtx.waitUntil(work));
    addLogFields(c, { accid: account.accid, ttl });
    if (account.status === "blocked") throw new DomainError("account_blocked");
    const { appKey, appSecret } = config;
    const curTime = Date.now();
    const { token } = await signDynamicToken({ appKey, accid: account.accid, curTime, ttl, appSecret });
    const body: TokenResponse = {
      accid: account.accid,
      token,
      appKey,
      curTime,
      ttl,
      expiresAt: curTime + ttl * 1000,
      serverTime: Date.now(),
      refreshAfter: curTime + Math.round(ttl * 1000 * TIMING.refreshFraction),
    };
    return c.json(body, 200, { "Cache-Control": "no-store" });
  },
);
