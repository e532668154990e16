/**
 * Cross-cutting request handling, as plain functions over Request and Response so that both doors
 * use the same rules: Hono's app (through the `frame` middleware in `app-frame.ts`) and the token door
 * (`token-door.ts`), which answers the two token endpoints without Hono's router and middleware
 * chain. Every answer gets a request id, the security headers and, for an allowed origin, CORS; the
 * access log gets one line per answer worth a line. Clients see a stable error code and a generic
 * message; the log line gets the detail, the request id that ties the two together, and never a
 * secret, token or raw JWT.
 */

import { ConfigError } from "../config.ts";
import { LIMITS } from "../core/constants.ts";
import { type LogFields, logLine } from "../core/log.ts";
import type { Runtime } from "../runtime.ts";
import { describeError, errorResponse } from "./errors.ts";

/** The header that carries a request's id, both ways. */
export const REQUEST_ID = "X-Request-Id";
/** Characters a caller's request id may not hold (Hono's requestId rule: word characters, `-` and `=`). */
const NOT_REQUEST_ID = /[^\w\-=]/;

/** The caller's `X-Request-Id` when well-formed and at most LIMITS.maxRequestIdLength long, else a new UUID. */
export function requestIdFor(header: string | null | undefined): string {
  return !header || header.length > LIMITS.maxRequestIdLength || NOT_REQUEST_ID.test(header)
    ? crypto.randomUUID()
    : header;
}

/** What CORS lets an allowed origin's scripts do and read. */
export const CORS = {
  allowMethods: ["GET", "POST", "PUT"],
  allowHeaders: ["Authorization", "Content-Type", REQUEST_ID],
  // WWW-Authenticate: a browser app can read why a 401 happened.
  exposeHeaders: [REQUEST_ID, "Retry-After", "WWW-Authenticate"],
  maxAge: 600,
} as const;
const EXPOSED = CORS.exposeHeaders.join(",");

/** The origins CORS allows, or undefined when none (no allowlist, or unusable settings). */
export function allowedOriginsOf(runtime: Runtime | ConfigError | undefined): ReadonlySet<string> | undefined {
  if (runtime === undefined || runtime instanceof ConfigError) return undefined;
  const allowed = runtime.config.allowedOrigins;
  return allowed && allowed.size > 0 ? allowed : undefined;
}

/**
 * What every answer carries, error answers included: its request id; the security headers that
 * matter when a browser meets a JSON API answer (no sniffing, HTTPS only, no cross-origin embedding
 * of the JSON: Hono's secureHeaders sets these same values, but its other defaults guard HTML
 * documents, and its generic middleware took a measurable share of a warm token request in a workerd CPU
 * profile); and CORS from ALLOWED_ORIGINS: exact-match origins only, never a wildcard, no
 * credentials mode (the session travels in the Authorization header). An allowed origin gets its own
 * origin back and the exposed headers; any other origin gets no CORS headers at all (and its
 * preflight is not answered: 405). `Vary: Origin` whenever an allowlist is set, so caches never mix
 * answers for different origins. These are Hono's `cors` rules for a request that is not a
 * preflight, kept here because the token door answers outside Hono.
 */
export function frameHeaders(
  requestId: string,
  origin: string | null | undefined,
  allowed: ReadonlySet<string> | undefined,
): Record<string, string> {
  // An object literal, not a loop over a list: it is built on every answer, the token's included.
  const headers: Record<string, string> = {
    [REQUEST_ID]: requestId,
    "X-Content-Type-Options": "nosniff",
    "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
    "Cross-Origin-Resource-Policy": "same-origin",
  };
  if (!allowed) return headers;
  if (origin && allowed.has(origin)) {
    headers["Access-Control-Allow-Origin"] = origin;
    headers["Access-Control-Expose-Headers"] = EXPOSED;
  }
  headers.Vary = "Origin";
  return headers;
}

/** Sets `frameHeaders` on an answer already built (`Vary` is added to, not replaced). */
export function finishAnswer(
  headers: Headers,
  requestId: string,
  origin: string | null | undefined,
  allowed: ReadonlySet<string> | undefined,
): void {
  for (const [name, value] of Object.entries(frameHeaders(requestId, origin, allowed))) {
    if (name === "Vary") headers.append(name, value);
    else headers.set(name, value);
  }
}

/**
 * Paths whose successful answers write no access-log line. Why: with observability on, Workers Logs
 * already records every invocation (path, status, duration); a line of our own adds value where
 * there is something to say (a failure and its detail, a login decision, an admin change), and on
 * the token path every 2xx line would double the log volume (billed per event) and cost CPU on the
 * hottest path for no information.
 */
const QUIET_PATHS: ReadonlySet<string> = new Set([
  "/v1/token",
  "/v1/rtc/token",
  // The same for a named app, by route (the path holds the app's name).
  "/v1/apps/:app/token",
  "/v1/apps/:app/rtc/token",
  "/",
  "/healthz",
  "/readyz",
  "/openapi.json",
]);

/** One request as the access log sees it. */
export interface LoggedRequest {
  requestId: string;
  method: string;
  /** The route that answered (see `routeOf`; the path itself at the token door). */
  route: string;
  path: string;
  startedAt: number;
  /** Fields the handlers added (never secrets or tokens). */
  fields: LogFields;
}

/** Writes the request's access-log line, unless it is a success on a quiet path (or route). */
export function logAnswer(request: LoggedRequest, status: number): void {
  if (status < 400 && (QUIET_PATHS.has(request.path) || QUIET_PATHS.has(request.route))) return;
  logLine(status >= 500 ? "error" : "info", {
    requestId: request.requestId,
    method: request.method,
    route: request.route,
    status,
    ...request.fields,
    latencyMs: Date.now() - request.startedAt,
  });
}

/** Adds fields to this request's access-log line. */
export function addLogFields(c: { get(key: "logFields"): LogFields }, fields: LogFields): void {
  Object.assign(c.get("logFields"), fields);
}

/** The answer to `error`, from the error table; its code and detail go to `fields`, the access log's. */
export function errorAnswer(error: unknown, fields: LogFields): Response {
  const { code, message, headers, detail } = describeError(error);
  fields.error = code;
  if (detail) fields.detail = detail;
  return errorResponse(code, message, headers);
}
