/**
 * Cross-cutting request handling: request ids, the access log, and turning every thrown error into
 * the one JSON error shape. Clients see the stable code and a generic message; the log line gets the
 * detail (which check failed, what NetEase answered), the request id that ties the two together,
 * and never a secret, token or raw JWT.
 */

import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from "hono";
import { cors } from "hono/cors";
import { HTTPException } from "hono/http-exception";
import { ApiError, errorResponse, errors, internalError } from "./errors.ts";
import { logLine } from "./log.ts";
import { type AppEnv, runtimeFor } from "./runtime.ts";

const REQUEST_ID = /^[A-Za-z0-9._-]{8,128}$/;

/**
 * Gives every request an id (the caller's `X-Request-Id` if well-formed, else a new UUID), echoes it
 * on the response, and writes one access-log line when the response is ready.
 */
export function requestContext(): MiddlewareHandler<AppEnv> {
  return async function requestContext(c, next) {
    const started = Date.now();
    const offered = c.req.header("X-Request-Id");
    const requestId = offered && REQUEST_ID.test(offered) ? offered : crypto.randomUUID();
    c.set("requestId", requestId);
    c.set("logFields", {});
    await next();
    c.res.headers.set("X-Request-Id", requestId);
    logLine(c.res.status >= 500 ? "error" : "info", {
      requestId,
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
  exposeHeaders: ["X-Request-Id", "Retry-After"],
  maxAge: 600,
});

/**
 * CORS from ALLOWED_ORIGINS: exact-match origins only, never a wildcard, no credentials mode (the
 * session travels in the Authorization header). A request from any other origin gets no CORS headers
 * at all, and its preflight is not answered (405). `Vary: Origin` whenever an allowlist is set, so
 * caches never mix answers for different origins.
 */
export function corsFromAllowlist(): MiddlewareHandler<AppEnv> {
  return async function corsFromAllowlist(c, next) {
    let allowed: ReadonlySet<string>;
    try {
      allowed = runtimeFor(c.env).config.allowedOrigins;
    } catch {
      return next(); // misconfigured: the route answers 500 anyway
    }
    if (allowed.size === 0) return next();
    const origin = c.req.header("Origin");
    if (origin !== undefined && allowed.has(origin)) return corsForAllowedOrigin(c, next);
    await next();
    c.header("Vary", "Origin", { append: true });
  };
}

/** Maps any thrown error to the JSON error response; unexpected errors become 500 `internal_error`. */
export const onError: ErrorHandler<AppEnv> = (error, c) => {
  const apiError = toApiError(error);
  c.set("logFields", {
    ...c.get("logFields"),
    error: apiError.code,
    ...(apiError.options.detail ? { detail: apiError.options.detail } : {}),
  });
  return errorResponse(apiError);
};

/** 404 `not_found` for unknown paths. */
export const onNotFound: NotFoundHandler<AppEnv> = (c) => onError(errors.notFound(), c);

/** The 405 handler for Hono's methodNotAllowed middleware. */
export function onMethodNotAllowed(c: Context<AppEnv>, allowed: string[]): Response | Promise<Response> {
  return onError(errors.methodNotAllowed(allowed.join(", ")), c);
}

function toApiError(error: unknown): ApiError {
  if (error instanceof ApiError) return error;
  if (error instanceof HTTPException) return internalError(`HTTPException ${error.status}`);
  // An unexpected exception's message could hold anything; log only its type.
  return internalError(`unhandled ${error instanceof Error ? error.name : typeof error}`);
}
