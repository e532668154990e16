/**
 * JSON request bodies: size limit, content type and parsing, on the route that reads the body (after
 * its authentication). Checking a body against its schema from `contract/requests.ts` is
 * `body-check.ts`'s, a module of its own so that an isolate does not compile Valibot before a request
 * sends a body (the common token request sends none).
 *
 * Why not Hono's `validator("json")` as is: for a body sent with any other content type it silently
 * validates `{}` instead, so `curl -d '{"kick":false}'` (a form content type) would block *and kick*;
 * and it refuses an empty body sent as JSON. The rules here: an empty or blank body is no body
 * (`readJsonObject` answers undefined, which the schemas read as `{}`) whatever its type; a non-empty
 * body must be `application/json` (415 otherwise, also when the type is missing) holding a JSON
 * object (400).
 */

import { BODY_NOT_OBJECT } from "../contract/errors.ts";
import { LIMITS } from "../core/constants.ts";
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
    // `Content-Length: 0` (how most clients send a POST without a body): nothing to wait for.
    if (declared === "0") return EMPTY;
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
 * The JSON object in `request`'s body, or undefined for no body or a blank one (often sent as
 * `Content-Length: 0`), which every body schema here reads as `{}`. 413 over `maxBytes`; 415 for a
 * body that is not `application/json`; 400 `invalid_request` for one that is not a JSON object.
 */
export async function readJsonObject(
  request: Request,
  maxBytes: number = LIMITS.maxBodyBytes,
): Promise<object | undefined> {
  // No body at all needs no read.
  const text = request.body === null ? "" : await readBodyText(request, maxBytes);
  if (text.trim() === "") return undefined;
  requireMediaType(request, ["application/json"]);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw errors.invalidRequest("The body is not valid JSON.");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw errors.invalidRequest(BODY_NOT_OBJECT);
  return value;
}
