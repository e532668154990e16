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

import type { MiddlewareHandler } from "hono";
import { DomainError, describeError, errorResponse } from "./errors.ts";
import type { LogFields } from "./log.ts";
import type { AppEnv, Runtime } from "./runtime.ts";

/** Counts one token request for `uid`; throws 429 `rate_limited` when the uid is over its limit. */
export async function countTokenRequest(runtime: Runtime, uid: string): Promise<void> {
  const limiter = runtime.config.rateLimiters.tokenRequests;
  if (limiter && !(await limiter.limit({ key: `uid:${uid}` })).success) {
    throw new DomainError("rate_limited", { detail: "token requests per uid" });
  }
}

/** Middleware form of `countTokenRequest`, after `requireSession`. */
export function limitTokenRequests(): MiddlewareHandler<AppEnv & { Variables: { uid: string } }> {
  return async function limitTokenRequests(c, next) {
    await countTokenRequest(c.get("runtime"), c.get("uid"));
    await next();
  };
}

/** The caller's IP as Cloudflare reports it (absent locally, where all callers share one bucket). */
export function clientIpOf(request: Request): string {
  return request.headers.get("CF-Connecting-IP") ?? "unknown";
}

/**
 * Counts `answer` against its client IP when it is a 401, and returns the answer to send: the
 * same one, or a 429 `rate_limited` once the IP is over its limit of failures (its code goes to
 * `fields`, the access log's).
 */
export async function countAuthFailure(
  runtime: Runtime,
  request: Request,
  answer: Response,
  fields: LogFields,
): Promise<Response> {
  const limiter = runtime.config.rateLimiters.authFailures;
  if (!limiter || answer.status !== 401) return answer;
  const { success } = await limiter.limit({ key: `ip:${clientIpOf(request)}` });
  if (success) return answer;
  const { code, message, headers } = describeError(new DomainError("rate_limited"));
  fields.error = code;
  return errorResponse(code, message, headers);
}

/** Counts the 401s this route answers per client IP; over the limit, a failing request's 401 becomes a 429. */
export function limitAuthFailures(): MiddlewareHandler<AppEnv> {
  return async function limitAuthFailures(c, next) {
    const runtime = c.get("runtime");
    if (!runtime.config.rateLimiters.authFailures) return next();
    await next();
    const answer = await countAuthFailure(runtime, c.req.raw, c.res, c.get("logFields"));
    if (answer === c.res) return;
    // Replacing c.res copies the old headers over (CORS, security headers); the 401's challenge
    // does not belong on a 429.
    c.res.headers.delete("WWW-Authenticate");
    c.res = answer;
  };
}
