/**
 * nim-token-worker: assembles the Hono app. Behaviour lives in the modules this file wires together.
 *
 * Order matters: request id and access log first (every answer gets both), then the runtime; CORS
 * and security headers; `/healthz` answers even when misconfigured, so it is mounted before the
 * check that refuses everything else with 500 `misconfigured`. Bodies are limited and validated on
 * the routes that read them, after their authentication.
 */

import { Hono } from "hono";
import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import { limitAuthFailures } from "./abuse.ts";
import { accessLog, corsFromAllowlist, onError, onMethodNotAllowed, onNotFound, requestIds } from "./middleware.ts";
import { adminRoutes } from "./routes/admin.ts";
import { healthRoutes } from "./routes/health.ts";
import { loginCallbackRoutes } from "./routes/login-callback.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { tokenRoutes } from "./routes/token.ts";
import { type AppEnv, attachRuntime, requireConfigured } from "./runtime.ts";

const app = new Hono<AppEnv>({ strict: false });

app.use(requestIds());
app.use(accessLog());
app.use(attachRuntime());
app.use(corsFromAllowlist());
app.use(methodNotAllowed({ app, onMethodNotAllowed }));
app.use(secureHeaders());

app.route("/healthz", healthRoutes);
app.use(requireConfigured());

// Failed authentication is counted per client IP on every route that authenticates.
for (const path of ["/v1/token", "/v1/nim/login-callback", "/admin/v1/*"]) app.use(path, limitAuthFailures());

app.route("/v1/token", tokenRoutes);
app.route("/v1/nim/login-callback", loginCallbackRoutes);
app.route("/admin/v1", adminRoutes);
app.route("/openapi.json", openApiRoutes);

app.onError(onError);
app.notFound(onNotFound);

export default app;
