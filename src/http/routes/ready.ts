/**
 * GET /readyz: the readiness checks (readiness.ts) for anyone: the status and the kinds of check that
 * failed (`keys`, never an issuer's name or a fetch's failure). /healthz stays the cheap, I/O-free
 * liveness check.
 */

import { Hono } from "hono";
import { readinessOf } from "../../readiness.ts";
import type { AppEnv } from "../context.ts";

/** Routes under /readyz. */
export const readyRoutes = new Hono<AppEnv>();

readyRoutes.get("/", async (c) => {
  const headers = { "Cache-Control": "no-store" };
  // /healthz names the settings at fault.
  if (c.get("configError")) return c.json({ status: "not_ready", failed: ["config"] }, 503, headers);
  const { status, failed } = await readinessOf(c.get("runtime"));
  // The kinds of check that failed: not the issuers' or apps' names, nor what a fetch or NetEase answered.
  const kinds = [...new Set(failed.map((name) => name.replace(/:.*$/, "")))];
  return c.json({ status, failed: kinds }, failed.length ? 503 : 200, headers);
});
