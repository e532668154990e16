/**
 * The Hono app: every route but the token door's (see `token-door.ts`). Behaviour lives in the
 * modules this file wires together.
 *
 * Order matters: the frame first (request id, runtime, CORS, security headers and access log for
 * every answer); the per-IP limit on failed authentication next, around every route, so no route that
 * authenticates can be left out of it (a 401 is a failed authentication wherever it comes from;
 * test/worker/hardening.test.ts sends a bad credential to every route the app lists); `/`,
 * `/healthz` and `/readyz` answer even when misconfigured, so they are mounted before the check that
 * refuses everything else with 500 `misconfigured`. Bodies are limited and validated on the routes
 * that read them, after their authentication.
 */

import { Hono } from "hono";
import { methodNotAllowed } from "hono/method-not-allowed";
import { frame, onError, onMethodNotAllowed, onNotFound } from "./app-frame.ts";
import { type AppEnv, requireConfigured } from "./context.ts";
import { limitAuthFailures } from "./limits.ts";
import { adminRoutes } from "./routes/admin.ts";
import { chatroomRoutes } from "./routes/chatroom.ts";
import { consoleRoutes } from "./routes/console.ts";
import { healthRoutes } from "./routes/health.ts";
import { homeRoutes } from "./routes/home.ts";
import { loginCallbackRoutes } from "./routes/login-callback.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { readyRoutes } from "./routes/ready.ts";
import { sessionRoutes } from "./routes/sessions.ts";
import { rtcTokenRoutes, tokenRoutes } from "./routes/token-routes.ts";

/** The app. */
export const app = new Hono<AppEnv>({ strict: false });

app.use(frame());
app.use(methodNotAllowed({ app, onMethodNotAllowed }));
app.use(limitAuthFailures());

app.route("/", homeRoutes);
app.route("/healthz", healthRoutes);
app.route("/readyz", readyRoutes);
app.use(requireConfigured());

app.route("/v1/token", tokenRoutes);
app.route("/v1/rtc/token", rtcTokenRoutes);
app.route("/v1/sessions", sessionRoutes);
app.route("/v1/chatroom", chatroomRoutes);
// The same four for a named app (docs/apps.md); the paths above serve the home app, or the apps' rules.
app.route("/v1/apps/:app/token", tokenRoutes);
app.route("/v1/apps/:app/rtc/token", rtcTokenRoutes);
app.route("/v1/apps/:app/sessions", sessionRoutes);
app.route("/v1/apps/:app/chatroom", chatroomRoutes);
app.route("/v1/nim/login-callback", loginCallbackRoutes);
app.route("/admin/v1", adminRoutes);
app.route("/admin", consoleRoutes);
app.route("/openapi.json", openApiRoutes);

app.onError(onError);
app.notFound(onNotFound);
