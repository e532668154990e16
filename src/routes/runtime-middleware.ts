/** Resolves the per-isolate Runtime for a request, turning bad settings into 500 `misconfigured`. */

import type { Context } from "hono";
import { ConfigError } from "../config.ts";
import { errors } from "../errors.ts";
import { type AppEnv, type Runtime, runtimeFor } from "../runtime.ts";

/** The Runtime for this request's Env, or throws 500 `misconfigured` (the log names the settings). */
export function requireRuntime(c: Context<AppEnv>): Runtime {
  try {
    return runtimeFor(c.env);
  } catch (error) {
    if (error instanceof ConfigError) throw errors.misconfigured(error.message);
    throw error;
  }
}
