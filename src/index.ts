/**
 * nim-token-worker: assembles the Hono app. Behaviour lives in the modules this file wires together.
 *
 * Order matters: request id and access log first (every answer gets both), then the runtime; CORS
 * and security headers; `/` and `/healthz` answer even when misconfigured, so they are mounted before the
 * check that refuses everything else with 500 `misconfigured`. Bodies are limited and validated on
 * the routes that read them, after their authentication.
 */

import { Hono } from "hono";
import { methodNotAllowed } from "hono/method-not-allowed";
import { limitAuthFailures } from "./abuse.ts";
import {
  accessLog,
  apiSecurityHeaders,
  corsFromAllowlist,
  onError,
  onMethodNotAllowed,
  onNotFound,
  requestIds,
} from "./middleware.ts";
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
import { type AppEnv, attachRuntime, requireConfigured } from "./runtime.ts";

const app = new Hono<AppEnv>({ strict: false });

app.use(requestIds());
// Successful token answers write no line of their own: Workers Logs records each invocation.
app.use(accessLog(["/v1/token", "/v1/rtc/token", "/", "/healthz", "/readyz", "/openapi.json"]));
app.use(attachRuntime());
app.use(corsFromAllowlist());
app.use(methodNotAllowed({ app, onMethodNotAllowed }));
app.use(apiSecurityHeaders());

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

export default app;

/** The per-uid account objects (wrangler.toml binds the class as ACCOUNT_OBJECTS). */
export { AccountObject } from "./account-object/object.ts";
export { CreatePacer } from "./pacing/create-pacer.ts";
