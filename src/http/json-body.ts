/**
 * JSON request bodies: size limit, content type, parsing and schema validation, declared on the route
 * that reads the body (after its authentication), with the schema from `contract/requests.ts`.
 *
 * Why not Hono's `validator("json")` as is: for a body sent with any other content type it silently
 * validates `{}` instead, so `curl -d '{"kick":false}'` (a form content type) would block *and kick*;
 * and it refuses an empty body sent as JSON. The rules here: an empty body is `{}` whatever its type;
 * a non-empty body must be `application/json` (415 otherwise, also when the type is missing); the
 * parsed value must match the schema (400 naming the rule). The validated value is stored the way
 * Hono's validator stores it, so handlers read it with `c.req.valid("json")`.
 */

import type { Context, MiddlewareHandler } from "hono";
import * as v from "valibot";
import { BODY_NOT_OBJECT, describeIssues } from "../contract/requests.ts";
import { LIMITS } from "../core/constants.ts";
import type { AppEnv } from "./context.ts";
import { errors } from "./errors.ts";

const EMPTY = new Uint8Array(0);

/**
 * The request's body, refused with 413 when it is over `maxBytes`. A declared Content-Length is
 * judged before anything is read; a body streamed without one is counted while it arrives, and the
 * read stops at the first byte over the limit. (Hono's `bodyLimit` has the same rule, but it needs
 * a Hono context, and the token endpoints answer outside Hono: see `src/http/token-door.ts`.)
 */
export async function readLimitedBody(request: Request, maxBytes: number): Promise<Uint8Array> {
  const { body, headers } = request;
  if (body === null) return EMPTY;
  const declared = headers.get("Content-Length");
  if (declared !== null && !headers.has("Transfer-Encoding")) {
    if (Number.parseInt(declared, 10) > maxBytes) throw errors.payloadTooLarge(maxBytes);
    return new Uint8Array(await request.arrayBuffer());
  }
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw errors.payloadTooLarge(maxBytes);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const whole = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    whole.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return whole;
}

/** The media type of a request (lowercase, no parameters), or "" when none was sent. */
export function mediaType(request: Request): string {
  return (request.headers.get("Content-Type") ?? "").split(";")[0]!.trim().toLowerCase();
}

/** Throws 415 unless `request`'s media type is one of `types`. */
export function requireMediaType(request: Request, types: readonly string[]): void {
  if (!types.includes(mediaType(request))) throw errors.unsupportedMediaType(types);
}

const decoder = new TextDecoder();

/** The body as text, within `maxBytes`. Decoded by hand: workerd warns when .text() meets a non-text type. */
export async function readBodyText(request: Request, maxBytes: number): Promise<string> {
  return decoder.decode(await readLimitedBody(request, maxBytes));
}

/**
 * Reads, parses and validates a JSON body against `schema`: an empty body is `{}` whatever its type,
 * a non-empty one must be `application/json` (415) holding a JSON object (400) that `schema` accepts
 * (400 naming the rule); over `maxBytes` it is 413.
 */
export async function parseJsonBody<S extends v.GenericSchema>(
  request: Request,
  schema: S,
  maxBytes: number = LIMITS.maxBodyBytes,
): Promise<v.InferOutput<S>> {
  let value: unknown = {};
  // No body at all (the common token request) needs no read or parse.
  const text = request.body === null ? "" : await readBodyText(request, maxBytes);
  if (text.trim() !== "") {
    requireMediaType(request, ["application/json"]);
    try {
      value = JSON.parse(text);
    } catch {
      throw errors.invalidRequest("The body is not valid JSON.");
    }
    if (typeof value !== "object" || value === null || Array.isArray(value))
      throw errors.invalidRequest(BODY_NOT_OBJECT);
  }
  const result = v.safeParse(schema, value);
  if (!result.success) throw errors.invalidRequest(describeIssues(schema, result.issues));
  return result.output;
}

type Validated<S extends v.GenericSchema> = {
  in: { json: v.InferInput<S> };
  out: { json: v.InferOutput<S> };
};

/**
 * Middleware form of `parseJsonBody` for Hono routes: the validated value is stored the way Hono's
 * validator stores it, so handlers read it with `c.req.valid("json")`. `schemaFor(c)` is a function,
 * so a schema built per runtime can be used.
 */
export function jsonBody<S extends v.GenericSchema>(
  schemaFor: (c: Context<AppEnv>) => S,
  maxBytes: number = LIMITS.maxBodyBytes,
): MiddlewareHandler<AppEnv, string, Validated<S>> {
  return async function jsonBody(c, next) {
    c.req.addValidatedData("json", (await parseJsonBody(c.req.raw, schemaFor(c), maxBytes)) as object);
    await next();
  };
}
