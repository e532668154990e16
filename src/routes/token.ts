/**
 * POST /v1/token: app session in, NetEase IM dynamic token out.
 *
 * Authentication comes before body validation, so an unauthenticated caller learns nothing about
 * what the endpoint accepts. The warm path is: JWT check (key imported once), account from the
 * isolate cache, one SHA-1. Nothing is written and nothing is fetched.
 */

import { Hono } from "hono";
import { limitTokenRequests } from "../abuse.ts";
import { AccountStore } from "../accounts/store.ts";
import { TIMING } from "../constants.ts";
import type { TokenRequest, TokenResponse } from "../contract.ts";
import { ApiError } from "../errors.ts";
import { signDynamicToken } from "../nim/dynamic-token.ts";
import type { AppEnv } from "../runtime.ts";
import { bearerToken } from "../session/verify.ts";
import { readJsonBody } from "./json-body.ts";
import { requireRuntime } from "./runtime-middleware.ts";

/** Routes under /v1/token. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post("/", async (c) => {
  const runtime = requireRuntime(c);
  const uid = await runtime.verifier.verify(bearerToken(c.req.header("Authorization")));
  await limitTokenRequests(c.env.TOKEN_RATE_LIMITER, uid);
  const request = await readJsonBody<TokenRequest>(c, runtime.tokenRequestSchema);
  const ttl = request.ttl ?? runtime.config.ttl.default;
  // parseConfig has checked that the ACCOUNTS binding exists.
  const account = await runtime.provisioner.account(uid, new AccountStore(c.env.ACCOUNTS!));
  c.set("logFields", { ...c.get("logFields"), accid: account.accid, ttl });
  if (account.status === "blocked") {
    throw new ApiError(403, "account_blocked", "This account is blocked from IM login.");
  }
  const { appKey, appSecret } = runtime.config;
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
});
