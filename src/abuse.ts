/**
 * Abuse limits, on Cloudflare's Rate Limiting binding (configured in wrangler.toml, simulated
 * locally by Miniflare): per uid on token issuance, and per client IP on failed authentication
 * (session, admin and NetEase-callback 401s). Over a limit the answer is 429 `rate_limited` with
 * Retry-After. Counting is per Cloudflare location and approximate, as the binding documents; it
 * stops floods, it is not an exact quota.
 *
 * The failure limit slows only requests that fail: a request with valid credentials (a valid session,
 * the admin token, a correctly signed NetEase callback) is never refused by it, however many failures
 * came from its IP. Mobile carriers put many users behind one address (CGNAT), and expired sessions
 * are failures too, so refusing the address would lock out honest users, and NetEase's own callbacks,
 * because of one noisy client. Volumetric abuse belongs to Cloudflare's WAF rate-limiting rules in
 * front of the Worker (see the README). Bindings are optional; without them nothing is limited.
 */

import type { Context, MiddlewareHandler } from "hono";
import { DomainError, describeError, errorResponse } from "./errors.ts";
import { addLogFields } from "./middleware.ts";
import type { AppEnv } from "./runtime.ts";

/** Counts one token request for the session's uid; 429 when the uid is over its limit. */
export function limitTokenRequests(): MiddlewareHandler<AppEnv & { Variables: { uid: string } }> {
  return async function limitTokenRequests(c, next) {
    const limiter = c.get("runtime").config.rateLimiters.tokenRequests;
    if (limiter && !(await limiter.limit({ key: `uid:${c.get("uid")}` })).success) {
      throw new DomainError("rate_limited", { detail: "token requests per uid" });
    }
    await next();
  };
}

/** The caller's IP as Cloudflare reports it (absent locally, where all callers share one bucket). */
export function clientIp(c: Context<AppEnv>): string {
  return c.req.header("CF-Connecting-IP") ?? "unknown";
}

/** Counts the 401s this route answers per client IP; over the limit, a failing request's 401 becomes a 429. */
export function limitAuthFailures(): MiddlewareHandler<AppEnv> {
  return async function limitAuthFailures(c, next) {
    const limiter = c.get("runtime").config.rateLimiters.authFailures;
    if (!limiter) return next();
    await next();
    if (c.res.status !== 401) return;
    const { success } = await limiter.limit({ key: `ip:${clientIp(c)}` });
    if (success) return;
    const { code, message, headers } = describeError(new DomainError("rate_limited"));
    addLogFields(c, { error: code });
    // Replacing c.res copies the old headers over (CORS, security headers); the 401's challenge
    // does not belong on a 429.
    c.res.headers.delete("WWW-Authenticate");
    c.res = errorResponse(code, message, headers);
  };
}
