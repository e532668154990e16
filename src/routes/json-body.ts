/** Reading small JSON request bodies: one place for the content-type, JSON and shape rules. */

import type { Context } from "hono";
import { ApiError, errors } from "../errors.ts";
import type { AppEnv } from "../runtime.ts";

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
 * Reads an optional JSON object body. An empty body gives `{}`; anything else must be a JSON object
 * with no keys outside `allowed`.
 */
export async function readJsonObject(c: Context<AppEnv>, allowed: readonly string[]): Promise<Record<string, unknown>> {
  const text = await readBodyText(c);
  if (text.trim() === "") return {};
  requireContentType(c, ["application/json"]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw errors.invalidRequest("The body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw errors.invalidRequest("The body must be a JSON object.");
  }
  const unknown = Object.keys(value).filter((key) => !allowed.includes(key));
  if (unknown.length > 0) throw errors.invalidRequest(`Unknown field(s): ${unknown.slice(0, 5).join(", ")}.`);
  return value as Record<string, unknown>;
}
