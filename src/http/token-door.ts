/**
 * The token door: the Worker's entry answers `POST /v1/token` and `POST /v1/rtc/token` (and both under
 * `/v1/apps/{app}/`) here, without
 * Hono's router, context and middleware chain, with the same handlers and the same rules.
 *
 * Why: these two endpoints are nearly all of the traffic, and a workerd CPU profile under warm load
 * put Hono's per-request machinery (routing through a trie, the context, dispatch through ten
 * layers, building the answer) and the middleware around it at a fifth of a warm request, more than
 * the JWT check. Here a request takes one function: the frame (`frame.ts`: request id, CORS,
 * security headers, access log), the configuration check, the handler (`routes/token.ts`,
 * `routes/rtc-token.ts`: session, per-uid limit, body, account, signature), the error table, and
 * the per-network limit on failed authentication (`limits.ts`). Hono's app mounts the same handlers at the
 * same paths, behind the same rules, and answers what the door does not take: another method (405,
 * an allowed origin's preflight), a query string or a trailing slash. test/worker/token-door.test.ts
 * holds the two doors to the same answers.
 */

import { ConfigError } from "../config.ts";
import type { LogFields } from "../core/log.ts";
import type { Env } from "../env.ts";
import { type Runtime, runtimeFor } from "../runtime.ts";
import { allowedOriginsOf, errorAnswer, finishAnswer, frameHeaders, logAnswer, requestIdFor } from "./frame.ts";
import { TOKEN_ANSWER_HEADERS, type TokenCall } from "./issuing.ts";
import { countAuthFailure } from "./limits.ts";
import { issueImToken } from "./routes/token.ts";

/** A token endpoint's handler: the call in, the 200's body out (or a thrown error). */
export type TokenHandler = (call: TokenCall) => Promise<object>;

/**
 * NERTC's handler, loaded with what only it uses (permission keys, the channel policy, Valibot for its
 * body) on the first NERTC request: many isolates only ever issue IM tokens (src/index.ts). It loads
 * before the session check, once per isolate: what a stranger can cause is what every isolate's
 * start compiled before it was split off.
 */
let rtcHandler: TokenHandler | undefined;
const issueRtcToken: TokenHandler = (call) =>
  // Once loaded, called directly: an `import()` per request would be work on the warm path.
  rtcHandler
    ? rtcHandler(call)
    : import("./routes/rtc-token.ts").then((loaded) => {
        rtcHandler = loaded.issueRtcToken;
        return rtcHandler(call);
      });

/** The door's paths, exactly as sent (no query, no trailing slash: those go to Hono). */
const HANDLERS = new Map<string, TokenHandler>([
  ["/v1/token", issueImToken],
  ["/v1/rtc/token", issueRtcToken],
]);

/** The same endpoints for a named app: `/v1/apps/{app}/token`, `/v1/apps/{app}/rtc/token` (config.ts APP_NAME). */
const APP_PATH = /^\/v1\/apps\/([a-z0-9-]{1,32})(\/token|\/rtc\/token)$/;

/** The routes of the named-app paths, as Hono's app names them (the access log's `route`). */
const APP_ROUTES = { im: "/v1/apps/:app/token", rtc: "/v1/apps/:app/rtc/token" } as const;

/** The handler for a door path and the app it names (undefined: the apps' rules choose), or undefined. */
function doorOf(path: string): { handler: TokenHandler; appName: string | undefined } | undefined {
  const handler = HANDLERS.get(path);
  if (handler) return { handler, appName: undefined };
  const named = path.startsWith("/v1/apps/") ? APP_PATH.exec(path) : null;
  return named ? { handler: HANDLERS.get(`/v1${named[2]}`)!, appName: named[1] } : undefined;
}

/** The path of an absolute request URL, query included (no URL parsing: `https://host/path?query`). */
function pathOf(url: string): string {
  return url.slice(url.indexOf("/", url.indexOf("//") + 2));
}

/** The handler the door answers `request` with: a POST to one of its paths; undefined for anything else. */
export function tokenDoorFor(request: Request): TokenHandler | undefined {
  return request.method === "POST" ? doorOf(pathOf(request.url))?.handler : undefined;
}

/**
 * The answer to a request refused or failed: the error table's (its code and detail to `fields`), and
 * a 401 counted against the client's IP, which becomes a 429 once the IP is over its limit.
 */
async function refusal(
  error: unknown,
  request: Request,
  runtime: Runtime | ConfigError | undefined,
  fields: LogFields,
): Promise<Response> {
  const answer = errorAnswer(error, fields);
  if (runtime === undefined || runtime instanceof ConfigError) return answer;
  try {
    return await countAuthFailure(runtime, request, answer, fields);
  } catch (failure) {
    return errorAnswer(failure, fields);
  }
}

/** Answers `request` with `handler`, framed as Hono's app frames every other answer. */
export async function answerAtTokenDoor(
  handler: TokenHandler,
  request: Request,
  env: Env,
  ctx: ExecutionContext,
): Promise<Response> {
  const startedAt = Date.now();
  const { headers } = request;
  const requestId = requestIdFor(headers.get("X-Request-Id"));
  const fields: LogFields = {};
  const origin = headers.get("Origin");
  const path = pathOf(request.url);
  let runtime: Runtime | ConfigError | undefined;
  let answer: Response;
  try {
    runtime = await runtimeFor(env);
    if (runtime instanceof ConfigError) throw runtime;
    const appName = HANDLERS.has(path) ? undefined : doorOf(path)?.appName;
    const waitUntil = (work: Promise<unknown>) => ctx.waitUntil(work);
    const body = await handler({ request, runtime, appName, fields, startedAt, waitUntil });
    // All headers at once: each later `headers.set` would be another call into the runtime.
    const answerHeaders = Object.assign(
      frameHeaders(requestId, origin, allowedOriginsOf(runtime)),
      TOKEN_ANSWER_HEADERS,
    );
    answer = new Response(JSON.stringify(body), { headers: answerHeaders });
  } catch (error) {
    answer = await refusal(error, request, runtime, fields);
    finishAnswer(answer.headers, requestId, origin, allowedOriginsOf(runtime));
  }
  // A named app's path is logged by its route, as Hono names it: one route, whatever the app.
  const route = HANDLERS.has(path) ? path : path.endsWith("/rtc/token") ? APP_ROUTES.rtc : APP_ROUTES.im;
  logAnswer({ requestId, method: "POST", route, path, startedAt, fields }, answer.status);
  return answer;
}
