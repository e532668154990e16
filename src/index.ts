/**
 * nim-token-worker: assembles the Hono app. Behaviour lives in the modules this file wires together.
 *
 * Order matters: the frame first (request id, runtime, CORS, security headers and access log for
 * every answer); `/` and `/healthz` answer even when misconfigured, so they are mounted before the
 * check that refuses everything else with 500 `misconfigured`. Bodies are limited and validated on
 * the routes that read them, after their authentication.
 */

import { Hono } from "hono";
import { methodNotAllowed } from "hono/method-not-allowed";
import { limitAuthFailures } from "./abuse.ts";
import type { Env } from "./config.ts";
import { frame, onError, onMethodNotAllowed, onNotFound } from "./middleware.ts";
import { adminRoutes } from "./routes/admin.ts";
import { consoleRoutes } from "./routes/console.ts";
import { healthRoutes } from "./routes/health.ts";
import { homeRoutes } from "./routes/home.ts";
import { loginCallbackRoutes } from "./routes/login-callback.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { readyRoutes } from "./routes/ready.ts";
import { rtcTokenRoutes } from "./routes/rtc-token.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { tokenRoutes } from "./routes/token.ts";
import { type AppEnv, requireConfigured } from "./runtime.ts";
import { answerAtTokenDoor, tokenDoorFor } from "./token-door.ts";

const app = new Hono<AppEnv>({ strict: false });

app.use(frame());
app.use(methodNotAllowed({ app, onMethodNotAllowed }));

app.route("/", homeRoutes);
app.route("/healthz", healthRoutes);
app.route("/readyz", readyRoutes);
app.use(requireConfigured());

// Failed authentication is counted per client IP on every route that authenticates.
for (const path of ["/v1/token", "/v1/rtc/token", "/v1/nim/login-callback", "/admin/v1/*"]) {
  app.use(path, limitAuthFailures());
}

app.route("/v1/token", tokenRoutes);
app.route("/v1/rtc/token", rtcTokenRoutes);
app.route("/v1/sessions", sessionRoutes);
app.route("/v1/nim/login-callback", loginCallbackRoutes);
app.route("/admin/v1", adminRoutes);
app.route("/admin", consoleRoutes);
app.route("/openapi.json", openApiRoutes);

app.onError(onError);
app.notFound(onNotFound);

/**
 * The Worker's entry: a POST to a token endpoint goes through the token door (`token-door.ts`: the
 * same handlers and rules without Hono's per-request machinery), everything else through Hono.
 */
export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const handler = tokenDoorFor(request);
    return handler ? answerAtTokenDoor(handler, request, env, ctx) : app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;

/** The per-uid account objects (wrangler.toml binds the class as ACCOUNT_OBJECTS). */
export { AccountObject } from "./account-object/object.ts";
export { CreatePacer } from "./pacing/create-pacer.ts";
