import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/openapi.ts";

describe("OpenAPI document", () => {
  it("validates as OpenAPI 3.1", async () => {
    const validator = new Validator();
    const result = await validator.validate(buildOpenApiDocument({ min: 60, max: 3600, default: 600 }));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("publishes the configured ttl range", () => {
    const doc = buildOpenApiDocument({ min: 30, max: 900, default: 300 }) as {
      components: { schemas: { TokenRequest: { properties: { ttl: { minimum: number; maximum: number } } } } };
    };
    expect(doc.components.schemas.TokenRequest.properties.ttl).toMatchObject({ minimum: 30, maximum: 900 });
  });
});
