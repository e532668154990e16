/** Reading small JSON request bodies: one place for the content-type, JSON and shape rules. */

import type { Context } from "hono";
import { ApiError, errors } from "../errors.ts";
import type { AppEnv } from "../runtime.ts";
import { type Schema, validate } from "../schema.ts";

/** The raw body as text. Decoded by hand: workerd warns when .text() meets a non-text type. */
export async function readBodyText(c: Context<AppEnv>): Promise<string> {
  return new TextDecoder().decode(await c.req.arrayBuffer());
}

/** Throws 415 unless the request's Content-Type (when given) is one of `types`. */
export function requireContentType(c: Context<AppEnv>, types: readonly string[]): void {
  const type = c.req.header("Content-Type");
  if (type === undefined) return;
  const essence = type.split(";")[0]!.trim().toLowerCase();
  if (!types.includes(essence)) {
    throw new ApiError(415, "unsupported_media_type", `Send the body as ${types.join(" or ")}.`);
  }
}

/**
 * Reads an optional JSON body and validates it against `schema` (see schema.ts). An empty body is
 * `{}`. Problems are 400 `invalid_request` whose message names the rule.
 */
export async function readJsonBody<T>(c: Context<AppEnv>, schema: Schema): Promise<T> {
  const text = await readBodyText(c);
  if (text.trim() === "") return validated<T>(schema, {});
  requireContentType(c, ["application/json"]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw errors.invalidRequest("The body is not valid JSON.");
  }
  if (schema.type === "object" && (typeof value !== "object" || value === null || Array.isArray(value))) {
    throw errors.invalidRequest("The body must be a JSON object.");
  }
  return validated<T>(schema, value);
}

function validated<T>(schema: Schema, value: unknown): T {
  const problem = validate(schema, value, "body");
  if (problem) throw errors.invalidRequest(problem);
  return value as T;
}
