/** GET /openapi.json: the OpenAPI 3.1 document, with the live ttl ranges, made once per isolate. */

import { Hono } from "hono";
import type { AppConfig } from "../../config.ts";
import OPENAPI_JSON from "../../contract/openapi.generated.txt";
import { servedOpenApiJson } from "../../contract/served.ts";
import type { AppEnv } from "../context.ts";

/** Routes under /openapi.json. */
export const openApiRoutes = new Hono<AppEnv>();

const documents = new WeakMap<AppConfig, string>();

openApiRoutes.get("/", (c) => {
  const { config } = c.get("runtime").app();
  let document = documents.get(config);
  if (!document) {
    document = servedOpenApiJson(OPENAPI_JSON, config.ttl, config.rtcTtl);
    documents.set(config, document);
  }
  return c.body(document, 200, {
    "Content-Type": "application/json; charset=utf-8",
    "Cache-Control": "public, max-age=300",
  });
});
