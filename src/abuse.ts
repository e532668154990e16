/**
 * Abuse limits, on Cloudflare's Rate Limiting binding (configured in wrangler.toml, simulated
 * locally by Miniflare): per uid on token issuance, and per client IP on failed authentication
 * (session, admin and NetEase-callback 401s). Over a limit the answer is 429 `rate_limited` with
 * Retry-After. Counting is per Cloudflare location and approximate, as the binding documents; it
 * stops floods, it is not an exact quota.
 *
 * The Rate Limiting API only counts (`limit()` increments), so an IP that went over the failure limit
 * is also remembered in this isolate until its period ends: its later requests are refused before
 * any verification work is done. Bindings are optional; without them nothing is limited.
 */

import type { Context, MiddlewareHandler } from "hono";
import { TIMING } from "./constants.ts";
import { DomainError, describeError, errorResponse } from "./errors.ts";
import { addLogFields } from "./middleware.ts";
import type { AppEnv } from "./runtime.ts";

/** Counts one token request for the session's uid; 429 when the uid is over its limit. */
export function limitTokenRequests(): MiddlewareHandler<AppEnv & { Variables: { uid: string } }> {
  return async function limitTokenRequests(c, next) {
    const limiter = c.var.runtime.config.limits.tokenRequests;
    if (limiter && !(await limiter.limit({ key: `uid:${c.var.uid}` })).success) {
      throw new DomainError("rate_limited", "token requests per uid");
    }
    await next();
  };
}

/** The caller's IP as Cloudflare reports it (absent locally, where all callers share one bucket). */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? "unknown";
}

const MAX_REMEMBERED = 10_000;
const blockedUntil = new Map<string, number>();

/**
 * Counts the 401s this route answers per client IP; over the limit, the 401 becomes a 429 and the IP
 * is refused up front for the rest of the period.
 */
export function limitAuthFailures(): MiddlewareHandler<AppEnv> {
  return async function limitAuthFailures(c, next) {
    const limiter = c.var.runtime.config.limits.authFailures;
    if (!limiter) return next();
    const ip = clientIp(c);
    const until = blockedUntil.get(ip);
    if (until !== undefined) {
      if (until > Date.now()) throw new DomainError("rate_limited", "auth failures per IP (remembered)");
      blockedUntil.delete(ip);
    }
    await next();
    if (c.res.status !== 401) return;
    const { success } = await limiter.limit({ key: `ip:${ip}` });
    if (success) return;
    if (blockedUntil.size >= MAX_REMEMBERED) blockedUntil.clear();
    blockedUntil.set(ip, Date.now() + TIMING.rateLimitPeriodSeconds * 1000);
    const { code, message, headers } = describeError(new DomainError("rate_limited"));
    addLogFields(c, { error: code });
    // Replacing c.res copies the old headers over (CORS, security headers); the 401's challenge
    // does not belong on a 429.
    c.res.headers.delete("WWW-Authenticate");
    c.res = errorResponse(code, message, headers);
  };
}
