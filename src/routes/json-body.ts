/**
 * JSON request bodies: size limit, content type, parsing and schema validation, declared on the route
 * that reads the body (after its authentication), with the schema from `contract.ts`.
 *
 * Why not Hono's `validator("json")` as is: for a body sent with any other content type it silently
 * validates `{}` instead, so `curl -d '{"kick":false}'` (a form content type) would block *and kick*;
 * and it refuses an empty body sent as JSON. The rules here: an empty body is `{}` whatever its type;
 * a non-empty body must be `application/json` (415 otherwise, also when the type is missing); the
 * parsed value must match the schema (400 naming the rule). The validated value is stored the way
 * Hono's validator stores it, so handlers read it with `c.req.valid("json")`.
 */

import type { Context, MiddlewareHandler } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as v from "valibot";
import { LIMITS } from "../constants.ts";
import { BODY_NOT_OBJECT, describeIssues } from "../contract.ts";
import { errors } from "../errors.ts";
import type { AppEnv } from "../runtime.ts";

/** Hono's body limit with our 413 answer. */
export const limitBody = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw errors.payloadTooLarge(maxSize);
    },
  });

/** The media type of the request (lowercase, no parameters), or "" when none was sent. */
export function mediaType(c: Context<AppEnv>): string {
  return (c.req.header("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Throws 415 unless the request's media type is one of `types`. */
export function requireMediaType(c: Context<AppEnv>, types: readonly string[]): void {
  if (!types.includes(mediaType(c))) throw errors.unsupportedMediaType(types);
}

const decoder = new TextDecoder();

/** The raw body as text. Decoded by hand: workerd warns when .text() meets a non-text type. */
export async function readBodyText(c: Context<AppEnv>): Promise<string> {
  return decoder.decode(await c.req.arrayBuffer());
}

type Validated<S extends v.GenericSchema> = {
  in: { json: v.InferInput<S> };
  out: { json: v.InferOutput<S> };
};

/**
 * Middleware that limits, parses and validates a JSON body against the schema `schemaFor(c)` returns
 * (a function, so a schema built per runtime, like the ttl range, can be used).
 */
export function jsonBody<S extends v.GenericSchema>(
  schemaFor: (c: Context<AppEnv>) => S,
  maxBytes: number = LIMITS.maxBodyBytes,
): MiddlewareHandler<AppEnv, string, Validated<S>> {
  const limit = limitBody(maxBytes);
  return async function jsonBody(c, next) {
    let value: unknown = {};
    // No body at all (the common token request) needs no limit, read or parse.
    let text = "";
    if (c.req.raw.body !== null) {
      // Read inside the limit: a body without Content-Length is counted while it streams, and the
      // limit's error surfaces from that read, where the middleware turns it into 413.
      await limit(c, async () => {
        text = await readBodyText(c);
      });
    }
    if (text.trim() !== "") {
      requireMediaType(c, ["application/json"]);
      try {
        value = JSON.parse(text);
      } catch {
        throw errors.invalidRequest("The body is not valid JSON.");
      }
      if (typeof value !== "object" || value === null || Array.isArray(value))
        throw errors.invalidRequest(BODY_NOT_OBJECT);
    }
    const schema = schemaFor(c);
    const result = v.safeParse(schema, value);
    if (!result.success) throw errors.invalidRequest(describeIssues(schema, result.issues));
    c.req.addValidatedData("json", result.output as object);
    await next();
  };
}
