/**
 * nim-token-worker: assembles the Hono app. Behaviour lives in the modules this file wires together.
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import { limitAuthFailures } from "./abuse.ts";
import { LIMITS } from "./constants.ts";
import { errors } from "./errors.ts";
import { corsFromAllowlist, onError, onMethodNotAllowed, onNotFound, requestContext } from "./middleware.ts";
import { adminRoutes } from "./routes/admin.ts";
import { healthRoutes } from "./routes/health.ts";
import { loginCallbackRoutes } from "./routes/login-callback.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { tokenRoutes } from "./routes/token.ts";
import type { AppEnv } from "./runtime.ts";

const app = new Hono<AppEnv>({ strict: false });

app.use(requestContext());
app.use(corsFromAllowlist());
app.use(methodNotAllowed({ app, onMethodNotAllowed }));
app.use(secureHeaders());
const limitBody = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw errors.payloadTooLarge(maxSize);
    },
  });
// Account imports carry up to 400 rows; every other body is small.
const IMPORT_PATH = "/admin/v1/accounts/import";
const importBodies = limitBody(LIMITS.maxImportBodyBytes);
const smallBodies = limitBody(LIMITS.maxBodyBytes);
app.use((c, next) => (c.req.path === IMPORT_PATH ? importBodies(c, next) : smallBodies(c, next)));

// Failed authentication is counted per client IP on every route that authenticates.
for (const path of ["/v1/token", "/v1/nim/login-callback", "/admin/v1/*"]) app.use(path, limitAuthFailures());

app.route("/v1/token", tokenRoutes);
app.route("/healthz", healthRoutes);
app.route("/v1/nim/login-callback", loginCallbackRoutes);
app.route("/admin/v1", adminRoutes);
app.route("/openapi.json", openApiRoutes);

app.onError(onError);
app.notFound(onNotFound);

export default app;
