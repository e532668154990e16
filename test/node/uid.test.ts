/**
 * The token path's uid check (src/core/uid.ts) is written out for speed; it must accept exactly what the
 * contract's `uidSchema` accepts, which the admin API and the OpenAPI document use.
 */

import fc from "fast-check";
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { uidSchema } from "../../src/contract/requests.ts";
import { LIMITS } from "../../src/core/constants.ts";
import { isValidUid } from "../../src/core/uid.ts";

const schema = (value: unknown) => v.is(uidSchema(), value);

describe("isValidUid", () => {
  it("agrees with uidSchema on any string: controls, lone surrogates, astral text, every length", () => {
    const units = fc.oneof(
      fc.string({ unit: "grapheme", maxLength: 120 }),
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.string({
        unit: fc.constantFrom("a", ".", "数", "😀", "\u0085", "\u0000", "\ud800", "\udc00"),
        maxLength: 130,
      }),
    );
    fc.assert(
      fc.property(units, (uid) => {
        expect(isValidUid(uid), JSON.stringify(uid)).toBe(schema(uid));
      }),
      { numRuns: 20_000 },
    );
  });

  it("agrees at the byte limit and on the edge cases", () => {
    const max = LIMITS.maxUidBytes;
    const cases: unknown[] = [
      "",
      ".",
      "..",
      "...",
      " .",
      "a".repeat(max),
      "a".repeat(max + 1),
      "数".repeat(Math.floor(max / 3)),
      "数".repeat(Math.floor(max / 3) + 1),
      "😀".repeat(max / 4),
      `${"😀".repeat(max / 4)}a`,
      `${"a".repeat(max - 2)}é`,
      `${"a".repeat(max - 1)}é`,
      "a\u007f",
      "a\u009f",
      "a\u00a0",
      "\ud83d",
      "\ude00x",
      undefined,
      null,
      42,
      ["a"],
      { toString: () => "a" },
    ];
    for (const uid of cases) expect(isValidUid(uid), JSON.stringify(uid)).toBe(schema(uid));
    // The cases do reach both answers, and the long path.
    expect(cases.filter((uid) => isValidUid(uid))).toHaveLength(7);
  });
});
