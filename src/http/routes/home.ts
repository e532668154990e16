/**
 * GET /: a small JSON index, so whoever opens the Worker's URL finds what it is and where its API is
 * described. No I/O, answered even when misconfigured (like /healthz).
 */

import { Hono } from "hono";
import type { ServiceIndex } from "../../contract/responses.ts";
import { SERVICE } from "../../core/constants.ts";
import type { AppEnv } from "../context.ts";

/** Routes under /. */
export const homeRoutes = new Hono<AppEnv>();

const INDEX: ServiceIndex = {
  ...SERVICE,
  links: { openapi: "/openapi.json", health: "/healthz", ready: "/readyz" },
};

homeRoutes.get("/", (c) => c.json(INDEX, 200, { "Cache-Control": "no-store" }));
