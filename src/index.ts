/**
 * nim-token-worker: assembles the Hono app. Behaviour lives in the modules this file wires together.
 */

import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { methodNotAllowed } from "hono/method-not-allowed";
import { secureHeaders } from "hono/secure-headers";
import { LIMITS } from "./constants.ts";
import { errors } from "./errors.ts";
import { onError, onMethodNotAllowed, onNotFound, requestContext } from "./middleware.ts";
import { healthRoutes } from "./routes/health.ts";
import { tokenRoutes } from "./routes/token.ts";
import type { AppEnv } from "./runtime.ts";

const app = new Hono<AppEnv>({ strict: false });

app.use(requestContext());
app.use(methodNotAllowed({ app, onMethodNotAllowed }));
app.use(secureHeaders());
app.use(
  bodyLimit({
    maxSize: LIMITS.maxBodyBytes,
    onError: () => {
      throw errors.payloadTooLarge(LIMITS.maxBodyBytes);
    },
  }),
);

app.route("/v1/token", tokenRoutes);
app.route("/healthz", healthRoutes);

app.onError(onError);
app.notFound(onNotFound);

export default app;
