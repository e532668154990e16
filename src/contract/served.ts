/**
 * The OpenAPI document as GET /openapi.json serves it: the text built ahead of time by
 * `npm run openapi` (src/contract/openapi.generated.txt, a Text module), with the live ttl ranges written in.
 * Only the two token requests' ttl fields depend on configuration; test/node/openapi.test.ts checks
 * that the result is, byte for byte, what the builder (src/contract/openapi.ts) makes for any range.
 */

import { ttlDefaultNote, ttlRule } from "./requests.ts";

/** A configured ttl range (seconds). */
export interface TtlRange {
  min: number;
  max: number;
  default: number;
}

interface RequestSchema {
  description: string;
  properties: { ttl: { minimum: number; maximum: number; description: string } };
}

/** Writes a range into one token request's schema; its keys keep their order, so the text matches the builder's. */
function writeRange(schema: RequestSchema, range: TtlRange): void {
  schema.properties.ttl.minimum = range.min;
  schema.properties.ttl.maximum = range.max;
  schema.properties.ttl.description = ttlRule(range);
  schema.description = ttlDefaultNote(range.default);
}

/** The served document's JSON text: `generated` with these ttl ranges (IM login tokens, NERTC tokens). */
export function servedOpenApiJson(generated: string, ttl: TtlRange, rtcTtl: TtlRange): string {
  const document = JSON.parse(generated) as {
    components: { schemas: { TokenRequest: RequestSchema; RtcTokenRequest: RequestSchema } };
  };
  writeRange(document.components.schemas.TokenRequest, ttl);
  writeRange(document.components.schemas.RtcTokenRequest, rtcTtl);
  return JSON.stringify(document);
}
