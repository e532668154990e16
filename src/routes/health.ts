/**
 * GET /healthz: 200 when the service is configured, 503 listing the names (never the values) of the
 * settings that are missing or invalid. Does no I/O, so it is safe to poll.
 */

import { Hono } from "hono";
import { ConfigError } from "../config.ts";
import { type AppEnv, runtimeFor } from "../runtime.ts";

/** Routes under /healthz. */
export const healthRoutes = new Hono<AppEnv>();

healthRoutes.get("/", (c) => {
  const missing: string[] = [];
  const invalid: string[] = [];
  try {
    runtimeFor(c.env);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const p of error.problems) (p.problem === "missing" ? missing : invalid).push(p.name);
  }
  const headers = { "Cache-Control": "no-store" };
  if (missing.length === 0 && invalid.length === 0) return c.json({ status: "ok" }, 200, headers);
  return c.json({ status: "misconfigured", missing, invalid }, 503, headers);
});
