/**
 * The frame (`frame.ts`) as Hono middleware and handlers, for every request the Hono app answers.
 * Apart from `frame.ts` because the token door uses the frame without Hono, and no module the token
 * door imports may import Hono at run time (src/index.ts says why).
 */

import type { Context, ErrorHandler, MiddlewareHandler, NotFoundHandler } from "hono";
import { cors } from "hono/cors";
import { matchedRoutes, routePath } from "hono/route";
import { ConfigError } from "../config.ts";
import type { LogFields } from "../core/log.ts";
import { type Runtime, runtimeFor } from "../runtime.ts";
import type { AppEnv } from "./context.ts";
import { errors as standardErrors } from "./errors.ts";
import { allowedOriginsOf, CORS, errorAnswer, finishAnswer, logAnswer, REQUEST_ID, requestIdFor } from "./frame.ts";

/** Hono's CORS middleware, for an allowed origin's preflight only (see `finishAnswer` for the rest). */
const corsPreflight = cors({
  origin: (origin) => origin, // only reached for an allowed origin, see frame()
  allowMethods: [...CORS.allowMethods],
  allowHeaders: [...CORS.allowHeaders],
  exposeHeaders: [...CORS.exposeHeaders],
  maxAge: CORS.maxAge,
});

/**
 * The route a request reached, as the access log names it: the endpoint's path when one matched
 * (`/admin/v1/accounts/:uid/block`, also when a check in front of it answered), else the path of the
 * layer that answered (`/*` for an unknown path).
 */
function routeOf(c: Context<AppEnv>): string {
  return matchedRoutes(c).findLast((route) => route.method !== "ALL")?.path ?? routePath(c);
}

/**
 * The frame of every request Hono answers, in one middleware (one layer of dispatch instead of
 * four): the request id, the access-log fields and start time, the isolate's runtime (or the
 * configuration problem) on the context; an allowed origin's preflight answered by Hono's `cors`;
 * and once the answer is ready, `finishAnswer` and `logAnswer`.
 */
export function frame(): MiddlewareHandler<AppEnv> {
  return async function frame(c, next) {
    const startedAt = Date.now();
    const requestId = requestIdFor(c.req.header(REQUEST_ID));
    const fields: LogFields = {};
    c.set("requestId", requestId);
    c.set("logFields", fields);
    c.set("startedAt", startedAt);
    let runtime: Runtime | ConfigError | undefined;
    let failure: unknown;
    try {
      runtime = await runtimeFor(c.env);
    } catch (error) {
      // Not the settings' answer (a module that failed to load): a 500, framed and logged as any.
      failure = error;
    }
    if (runtime instanceof ConfigError) c.set("configError", runtime);
    else if (runtime) c.set("runtime", runtime);
    const allowed = allowedOriginsOf(runtime);
    const origin = c.req.header("Origin");
    if (!runtime) {
      c.res = errorAnswer(failure, fields);
      finishAnswer(c.res.headers, requestId, origin, undefined);
    } else if (c.req.method === "OPTIONS" && origin !== undefined && allowed?.has(origin)) {
      const preflight = await corsPreflight(c, next);
      if (preflight) c.res = preflight;
      // The preflight carries Hono's CORS headers; the rest of the frame's are set here.
      finishAnswer(c.res.headers, requestId, undefined, undefined);
    } else {
      await next();
      finishAnswer(c.res.headers, requestId, origin, allowed);
    }
    const { method, path } = c.req;
    logAnswer({ requestId, method, route: routeOf(c), path, startedAt, fields }, c.res.status);
  };
}

/** Hono's error handler: `errorAnswer`. */
export const onError: ErrorHandler<AppEnv> = (error, c) => errorAnswer(error, c.get("logFields"));

/** 404 `not_found` for unknown paths. */
export const onNotFound: NotFoundHandler<AppEnv> = (c) => onError(standardErrors.notFound(), c);

/** The 405 handler for Hono's methodNotAllowed middleware. */
export function onMethodNotAllowed(c: Context<AppEnv>, allowed: string[]): Response | Promise<Response> {
  return onError(standardErrors.methodNotAllowed(allowed.join(", ")), c);
}
