/**
 * The token endpoints in Hono's app: what the token door (`token-door.ts`) passes on (another method,
 * a query string, a trailing slash) reaches the same handlers here, answered as the door answers.
 * Apart from the handlers (`token.ts`, `rtc-token.ts`) because the door imports those, and no module
 * the door imports may load Hono (src/index.ts says why).
 */

import { type Context, type Handler, Hono } from "hono";
import type { AppEnv } from "../context.ts";
import { TOKEN_ANSWER_HEADERS, type TokenCall } from "../issuing.ts";
import { issueRtcToken } from "./rtc-token.ts";
import { issueImToken } from "./token.ts";

/** The TokenCall of a request Hono routed (its frame set the fields and the start time). */
function tokenCall(c: Context<AppEnv>): TokenCall {
  return {
    request: c.req.raw,
    runtime: c.get("runtime"),
    appName: c.req.param("app"),
    fields: c.get("logFields"),
    startedAt: c.get("startedAt"),
    waitUntil: (work) => c.executionCtx.waitUntil(work),
  };
}

/** Hono's handler for a token endpoint: `handler` on the request's TokenCall, its body answered as the door answers it. */
export function honoTokenRoute(handler: (call: TokenCall) => Promise<object>): Handler<AppEnv> {
  return async (c) => c.json(await handler(tokenCall(c)), 200, TOKEN_ANSWER_HEADERS);
}

/** Routes under /v1/token, for what the token door passes on to Hono. */
export const tokenRoutes = new Hono<AppEnv>();

tokenRoutes.post("/", honoTokenRoute(issueImToken));

/** Routes under /v1/rtc/token, for what the token door passes on to Hono. */
export const rtcTokenRoutes = new Hono<AppEnv>();

rtcTokenRoutes.post("/", honoTokenRoute(issueRtcToken));
