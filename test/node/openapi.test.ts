import { readFileSync } from "node:fs";
import { Validator } from "@seriousme/openapi-schema-validator";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../src/contract/openapi.ts";
import { servedOpenApiJson } from "../../src/contract/served.ts";

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

describe("the document the Worker serves (built ahead of time)", () => {
  it("is the builder's document, so src/contract/openapi.generated.txt is not stale (`npm run openapi`)", async () => {
    const { generatedText, GENERATED_PATH } = await import("../../scripts/openapi.ts");
    expect(readFileSync(GENERATED_PATH, "utf8")).toBe(generatedText());
  });

  it("writes in any ttl ranges exactly as the builder would", () => {
    const generated = readFileSync(new URL("../../src/contract/openapi.generated.txt", import.meta.url), "utf8");
    const range = fc
      .tuple(
        fc.integer({ min: 1, max: 86_399 }),
        fc.integer({ min: 1, max: 86_399 }),
        fc.integer({ min: 1, max: 86_399 }),
      )
      .map((values) => {
        const [min, def, max] = values.sort((a, b) => a - b) as [number, number, number];
        return { min, max, default: def };
      });
    fc.assert(
      fc.property(range, range, (ttl, rtcTtl) => {
        expect(servedOpenApiJson(generated, ttl, rtcTtl)).toBe(JSON.stringify(buildOpenApiDocument(ttl, rtcTtl)));
      }),
      { numRuns: 50 },
    );
  });
});
