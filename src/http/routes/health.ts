/**
 * GET /healthz: 200 when the service is configured, 503 listing the names (never the values) of the
 * settings that are missing or invalid. Does no I/O, so it is safe to poll. Mounted in front of
 * `requireConfigured`, so it answers even when the settings are unusable.
 */

import { Hono } from "hono";
import type { Health } from "../../contract/responses.ts";
import type { AppEnv } from "../context.ts";

/** Routes under /healthz. */
export const healthRoutes = new Hono<AppEnv>();

healthRoutes.get("/", (c) => {
  const headers = { "Cache-Control": "no-store" };
  const problem = c.get("configError");
  if (!problem) return c.json({ status: "ok" } satisfies Health, 200, headers);
  // Each setting named once, however many of its rules it breaks (the log lists every rule).
  const named = (kind: "missing" | "invalid") => [
    ...new Set(problem.problems.filter((p) => p.problem === kind).map((p) => p.name)),
  ];
  return c.json(
    { status: "misconfigured", missing: named("missing"), invalid: named("invalid") } satisfies Health,
    503,
    headers,
  );
});
