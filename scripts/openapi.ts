/**
 * `npm run openapi`: writes src/contract/openapi.generated.txt, the OpenAPI document as JSON text, built by
 * src/contract/openapi.ts for the default ttl ranges. The Worker serves that text (with the live ttl ranges
 * written in, `src/contract/served.ts`) instead of building the document itself: the builder and its
 * JSON Schema converter were 20 KiB of the bundle that V8 compiled at every isolate start, for a
 * route hardly anyone calls. The text is a Text module, loaded as a string: as a string literal in
 * the bundle its 51 KiB still cost a tenth of the start-up's compile time. `npm run openapi --
 * --check` exits 1 when the file is stale; test/node/openapi.test.ts fails then too.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { buildOpenApiDocument } from "../src/contract/openapi.ts";
import { DEFAULT_TTLS, LIMITS } from "../src/core/constants.ts";

/** The file the Worker imports: a Text module (wrangler's default rule for *.txt), never parsed as JavaScript. */
export const GENERATED_PATH = fileURLToPath(new URL("../src/contract/openapi.generated.txt", import.meta.url));

/** The text of src/contract/openapi.generated.txt: the document as the builder makes it today, for the default ttl ranges. */
export function generatedText(): string {
  const ttl = { min: DEFAULT_TTLS.min, max: DEFAULT_TTLS.imMax, default: DEFAULT_TTLS.im };
  const rtcTtl = { min: DEFAULT_TTLS.min, max: LIMITS.maxRtcTtlSeconds, default: DEFAULT_TTLS.rtc };
  return JSON.stringify(buildOpenApiDocument(ttl, rtcTtl));
}

if (import.meta.main) {
  const text = generatedText();
  const current = (() => {
    try {
      return readFileSync(GENERATED_PATH, "utf8");
    } catch {
      return "";
    }
  })();
  if (process.argv.includes("--check")) {
    if (current !== text) {
      console.error("src/contract/openapi.generated.txt is stale: run `npm run openapi`.");
      process.exit(1);
    }
  } else if (current !== text) {
    writeFileSync(GENERATED_PATH, text);
    console.log("wrote src/contract/openapi.generated.txt");
  }
}
