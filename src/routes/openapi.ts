/** GET /openapi.json: the OpenAPI 3.1 document, built once per isolate from the live ttl range. */

import { Hono } from "hono";
import type { Config } from "../config.ts";
import { buildOpenApiDocument } from "../openapi.ts";
import type { AppEnv } from "../runtime.ts";

/** Routes under /openapi.json. */
export const openApiRoutes = new Hono<AppEnv>();

const documents = new WeakMap<Config, string>();

openApiRoutes.get("/", (c) => {
  const { config } = c.var.runtime;
  let document = documents.get(config);
  if (!document) {
    document = JSON.stringify(buildOpenApiDocument(config.ttl, config.rtcTtl));
    documents.set(config, document);
  }
  return c.body(document, 200, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "public, max-age=300",
  });
});
