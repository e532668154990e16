/**
 * Cross-cutting request handling: request ids (Hono's `requestId`), the access log, and CORS.
 * Clients see a stable error code and a generic message; the log line gets the detail, the request
 * id that ties the two together, and never a secret, token or raw JWT.
 */

import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from "hono";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { LIMITS } from "./constants.ts";
import { describeError, errorResponse, errors as standardErrors } from "./errors.ts";
import { type LogFields, logLine } from "./log.ts";
import type { AppEnv } from "./runtime.ts";

/** The caller's `X-Request-Id` when well-formed (Hono's rule: word characters, `-` and `=`), else a new UUID. */
export const requestIds = () => requestId({ limitLength: LIMITS.maxRequestIdLength });

/**
 * The security headers that matter when a browser meets a JSON API answer: no sniffing, HTTPS only,
 * no cross-origin embedding of the JSON. Hono's secureHeaders sets these same values; its other
 * defaults (framing, referrer, COOP, Origin-Agent-Cluster, …) guard HTML documents, and with all of
 * them off its generic middleware still cost 1.3 % of a warm token request in a workerd CPU profile,
 * and 2 KiB of the bundle every isolate compiles. So the three are set here, as constants.
 */
const API_SECURITY_HEADERS = [
  ["X-Content-Type-Options", "nosniff"],
  ["Strict-Transport-Security", "max-age=15552000; includeSubDomains"],
  ["Cross-Origin-Resource-Policy", "same-origin"],
] as const;

/** Sets API_SECURITY_HEADERS on every answer, error answers included. */
export function apiSecurityHeaders(): MiddlewareHandler<AppEnv> {
  return async function apiSecurityHeaders(c, next) {
    await next();
    const { headers } = c.res;
    for (const [name, value] of API_SECURITY_HEADERS) headers.set(name, value);
  };
}

/** Adds fields to this request's access-log line. */
export function addLogFields(c: { get(key: "logFields"): LogFields }, fields: LogFields): void {
  Object.assign(c.get("logFields"), fields);
}

/**
 * Writes one access-log line per request when the response is ready, except for successful answers
 * on `quietPaths`. Why: with observability on, Workers Logs already records every invocation (path,
 * status, duration); a line of our own adds value where there is something to say (a failure and
 * its detail, a login decision, an admin change), and on the token path every 2xx line would double
 * the log volume (billed per event) and cost CPU on the hottest path for no information.
 */
export function accessLog(quietPaths: readonly string[] = []): MiddlewareHandler<AppEnv> {
  const quiet = new Set(quietPaths);
  return async function accessLog(c, next) {
    const started = Date.now();
    c.set("logFields", {});
    c.set("startedAt", started);
    await next();
    // Hono's requestId sets the header before the route runs; an answer built by the error handler
    // is a new Response without it.
    c.res.headers.set("X-Request-Id", c.get("requestId"));
    if (c.res.status < 400 && quiet.has(c.req.path)) return;
    logLine(c.res.status >= 500 ? "error" : "info", {
      requestId: c.get("requestId"),
      method: c.req.method,
      route: c.req.routePath,
      status: c.res.status,
      ...c.get("logFields"),
      latencyMs: Date.now() - started,
    });
  };
}

const corsForAllowedOrigin = cors({
  origin: (origin) => origin, // only reached for an allowed origin, see corsFromAllowlist
  allowMethods: ["GET", "POST", "PUT"],
  allowHeaders: ["Authorization", "Content-Type", "X-Request-Id"],
  // WWW-Authenticate: a browser app can read why a 401 happened.
  exposeHeaders: ["X-Request-Id", "Retry-After", "WWW-Authenticate"],
  maxAge: 600,
});

/**
 * CORS from ALLOWED_ORIGINS: exact-match origins only, never a wildcard, no credentials mode (the
 * session travels in the Authorization header). A request from any other origin gets no CORS headers
 * at all, and its preflight is not answered (405). `Vary: Origin` whenever an allowlist is set, so
 * caches never mix answers for different origins. Misconfigured: no CORS (every route answers 500).
 */
export function corsFromAllowlist(): MiddlewareHandler<AppEnv> {
  return async function corsFromAllowlist(c, next) {
    const allowed = c.get("configError") ? undefined : c.get("runtime").config.allowedOrigins;
    if (!allowed || allowed.size === 0) return next();
    const origin = c.req.header("Origin");
    if (origin !== undefined && allowed.has(origin)) return corsForAllowedOrigin(c, next);
    await next();
    c.header("Vary", "Origin", { append: true });
  };
}

/** Hono's error handler: the answer from the error table; the code and detail to the access log. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const { code, message, headers, detail } = describeError(error);
  addLogFields(c, { error: code, ...(detail ? { detail } : {}) });
  return errorResponse(code, message, headers);
};

/** 404 `not_found` for unknown paths. */
export const onNotFound: NotFoundHandler<AppEnv> = (c) => onError(standardErrors.notFound(), c);

/** The 405 handler for Hono's methodNotAllowed middleware. */
export function onMethodNotAllowed(c: Context<AppEnv>, allowed: string[]): Response | Promise<Response> {
  return onError(standardErrors.methodNotAllowed(allowed.join(", ")), c);
}
