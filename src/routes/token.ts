/**
 * POST /v1/token: app session in, NetEase IM dynamic token out.
 *
 * Authentication comes before body validation, so an unauthenticated caller learns nothing about
 * what the endpoint accepts. The warm path is: JWT check (key imported once), account from the
 * isolate cache, one SHA-1. Nothing is written and nothing is fetched.
 */

import { Hono, type Context } from "hono";
import { AccountStore } from "../accounts/store.ts";
import { TIMING } from "../constants.ts";
import type { TokenRequest, TokenResponse } from "../contract.ts";
import { ApiError, errors } from "../errors.ts";
import { signDynamicToken } from "../nim/dynamic-token.ts";
import type { AppEnv, Runtime } from "../runtime.ts";
import { bearerToken } from "../session/verify.ts";
import { requireRuntime } from "./runtime-middleware.ts";

/** Routes under /v1/token. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post("/", async (c) => {
  const runtime = requireRuntime(c);
  const uid = await runtime.verifier.verify(bearerToken(c.req.header("Authorization")));
  const ttl = parseTtl(await readTokenRequest(c), runtime);
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

/** Reads the optional JSON body. Empty means defaults; anything else must be a JSON object. */
async function readTokenRequest(c: Context<AppEnv>): Promise<TokenRequest> {
  // Decoded by hand: workerd warns when .text() is used on a body whose type is not textual.
  const text = new TextDecoder().decode(await c.req.arrayBuffer());
  if (text.trim() === "") return {};
  const type = c.req.header("Content-Type");
  if (type !== undefined && !/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError(415, "unsupported_media_type", "Send the body as application/json.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw errors.invalidRequest("The body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw errors.invalidRequest("The body must be a JSON object.");
  }
  const unknown = Object.keys(value).filter((key) => key !== "ttl");
  if (unknown.length > 0) throw errors.invalidRequest(`Unknown field(s): ${unknown.slice(0, 5).join(", ")}.`);
  return value as TokenRequest;
}

function parseTtl(request: TokenRequest, runtime: Runtime): number {
  const { min, max, default: fallback } = runtime.config.ttl;
  if (request.ttl === undefined) return fallback;
  if (!Number.isInteger(request.ttl) || request.ttl < min || request.ttl > max) {
    throw errors.invalidRequest(`ttl must be a whole number of seconds from ${min} to ${max}.`);
  }
  return request.ttl;
}
