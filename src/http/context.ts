/**
 * The Hono app's context: its environment type, and the check that refuses every route behind it
 * while the settings are unusable. The runtime itself (runtime.ts) knows nothing of Hono.
 */

import type { MiddlewareHandler } from "hono";
import type { RequestIdVariables } from "hono/request-id";
import type { ConfigError } from "../config.ts";
import type { LogFields } from "../core/log.ts";
import type { Env } from "../env.ts";
import type { Runtime } from "../runtime.ts";

/**
 * Hono's environment type for this app. Read its variables with `c.get("name")`, never `c.var`:
 * Hono's `c.var` copies every variable into a new object on each access, which a workerd CPU profile
 * put at a measurable share of a warm token request (lint/no-context-var.grit refuses it).
 */
export interface AppEnv {
  Bindings: Env;
  Variables: RequestIdVariables & {
    /**
     * The runtime. Set by the frame (`frame.ts`) for every route behind `requireConfigured`; only
     * `/healthz`, mounted in front of that check, can run without it (and reads `configError`).
     */
    runtime: Runtime;
    /** Why the settings are unusable, when they are. */
    configError: ConfigError | undefined;
    /** Fields the access log adds to its line (never secrets or tokens). Mutated in place. */
    logFields: LogFields;
    /** When the request arrived (ms), for latencies in metrics. */
    startedAt: number;
    /** Who makes an admin request (an Access email or "admin token"); set by the admin routes only. */
    operator: string;
  };
}

/** Refuses every route behind it with 500 `misconfigured` (the log names the settings) when the settings are unusable. */
export function requireConfigured(): MiddlewareHandler<AppEnv> {
  return async function requireConfigured(c, next) {
    const problem = c.get("configError");
    if (problem) throw problem;
    await next();
  };
}
