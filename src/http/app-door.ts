/**
 * The Hono app's door: every request the token door does not take. The app (`app.ts`) is imported
 * on the first such request, not when the Worker starts (src/index.ts says why). A failed import is
 * our fault: the request gets 500 `internal_error` in the frame (request id, security headers, the
 * log line naming the module), and the next request imports again rather than failing for the life
 * of the isolate.
 */

import { loadOnce } from "../core/lazy.ts";
import type { LogFields } from "../core/log.ts";
import type { Env } from "../env.ts";
import { errorAnswer, finishAnswer, logAnswer, requestIdFor } from "./frame.ts";

type App = typeof import("./app.ts")["app"];

const loadApp = loadOnce(async () => (await import("./app.ts")).app);

/** The app, once loaded. */
let app: App | undefined;

/** Answers `request` with the Hono app, importing it on first use. */
export function answerWithApp(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
  return app ? app.fetch(request, env, ctx) : firstAnswer(request, env, ctx);
}

async function firstAnswer(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> {
  const startedAt = Date.now();
  try {
    app ??= await loadApp();
  } catch (error) {
    const fields: LogFields = { event: "module_load_failed", module: "http/app" };
    const answer = errorAnswer(error, fields);
    const requestId = requestIdFor(request.headers.get("X-Request-Id"));
    finishAnswer(answer.headers, requestId, undefined, undefined);
    const path = new URL(request.url).pathname;
    logAnswer({ requestId, method: request.method, route: path, path, startedAt, fields }, answer.status);
    return answer;
  }
  return app.fetch(request, env, ctx);
}
