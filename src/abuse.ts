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
import { ApiError, errorResponse } from "./errors.ts";
import type { AppEnv } from "./runtime.ts";

/** The 429 answer. */
export function rateLimited(): ApiError {
  return new ApiError(429, "rate_limited", "Too many requests; retry later.", {
    headers: { "Retry-After": String(TIMING.rateLimitPeriodSeconds) },
  });
}

/** Counts one token request for `uid`; throws 429 when the uid is over its limit. */
export async function limitTokenRequests(limiter: RateLimit | undefined, uid: string): Promise<void> {
  if (!limiter) return;
  const { success } = await limiter.limit({ key: `uid:${uid}` });
  if (!success) throw rateLimited();
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
    const limiter = c.env.AUTH_FAILURE_RATE_LIMITER;
    if (!limiter) return next();
    const ip = clientIp(c);
    const until = blockedUntil.get(ip);
    if (until !== undefined) {
      if (until > Date.now()) throw rateLimited();
      blockedUntil.delete(ip);
    }
    await next();
    if (c.res.status !== 401) return;
    const { success } = await limiter.limit({ key: `ip:${ip}` });
    if (success) return;
    if (blockedUntil.size >= MAX_REMEMBERED) blockedUntil.clear();
    blockedUntil.set(ip, Date.now() + TIMING.rateLimitPeriodSeconds * 1000);
    c.set("logFields", { ...c.get("logFields"), error: "rate_limited" });
    // Replacing c.res copies the old headers over (CORS, security headers); the 401's challenge
    // does not belong on a 429.
    c.res.headers.delete("WWW-Authenticate");
    c.res = errorResponse(rateLimited());
  };
}
