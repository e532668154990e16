/**
 * A JSON body checked against its schema from `contract/requests.ts` (400 `invalid_request` naming
 * the rule), as a function and as Hono middleware; and the token endpoints' bodies, whose schemas
 * depend on each app's ttl ranges. Reading the body is `json-body.ts`'s.
 *
 * A module of its own, loaded on first use: Valibot is most of what it compiles, and the common token
 * request sends no body (src/index.ts says why an isolate starts with as little as it can).
 */

import type { Context, MiddlewareHandler } from "hono";
import * as v from "valibot";
import type { AppConfig } from "../apps/settings.ts";
import { describeIssues, rtcTokenRequestSchema, tokenRequestSchema } from "../contract/requests.ts";
import { LIMITS } from "../core/constants.ts";
import type { AppEnv } from "./context.ts";
import { errors } from "./errors.ts";
import { readJsonObject } from "./json-body.ts";

/** A body's object (`readJsonObject`'s; undefined is `{}`) checked by `schema`: 400 `invalid_request` naming the first issue. */
export function checkJsonBody<S extends v.GenericSchema>(body: object | undefined, schema: S): v.InferOutput<S> {
  const result = v.safeParse(schema, body ?? {});
  if (!result.success) throw errors.invalidRequest(describeIssues(schema, result.issues));
  return result.output;
}

/** `readJsonObject`, then `checkJsonBody`. */
export async function parseJsonBody<S extends v.GenericSchema>(
  request: Request,
  schema: S,
  maxBytes: number = LIMITS.maxBodyBytes,
): Promise<v.InferOutput<S>> {
  return checkJsonBody(await readJsonObject(request, maxBytes), schema);
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

/** Each app's token body schemas, built on first use: by the ttl range they check, frozen with its settings. */
const schemas = new WeakMap<object, v.GenericSchema>();

/** The schema `build` makes for `range`, built once. */
function schemaFor<S extends v.GenericSchema>(range: object, build: () => S): S {
  let schema = schemas.get(range) as S | undefined;
  if (!schema) {
    schema = build();
    schemas.set(range, schema);
  }
  return schema;
}

/** A `POST /v1/token` body (`readJsonObject`'s) checked for `app`'s ttl range. */
export function imTokenBody(app: Pick<AppConfig, "ttl">, body: object | undefined) {
  return checkJsonBody(
    body,
    schemaFor(app.ttl, () => tokenRequestSchema(app.ttl)),
  );
}

/** A `POST /v1/rtc/token` body (`readJsonObject`'s) checked for `app`'s RTC ttl range. */
export function rtcTokenBody(app: Pick<AppConfig, "rtcTtl">, body: object | undefined) {
  return checkJsonBody(
    body,
    schemaFor(app.rtcTtl, () => rtcTokenRequestSchema(app.rtcTtl)),
  );
}
