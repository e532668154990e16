/**
 * The import file's framing (src/imports/rows.ts), pure: known answers for NDJSON and JSON arrays,
 * the refusals with their lines, and the property the Workflow relies on: a step that scans from a
 * start the upload noted finds exactly the rows (and lines) the upload's scan found there, however
 * the upload's bytes were cut into pieces.
 */

import { describe, expect, it } from "vitest";
import { IMPORT } from "../../src/core/constants.ts";
import {
  type FramedRow,
  FramingError,
  type ImportFormat,
  RowFramer,
  rowNumber,
  rowValue,
} from "../../src/imports/rows.ts";

const encoder = new TextEncoder();

interface Found {
  index: number;
  line: number;
  offset: number;
  text: string;
}

/** Scans `text` cut into pieces of `piece` bytes; the rows found. */
function scan(format: ImportFormat, text: string, piece = Number.POSITIVE_INFINITY): Found[] {
  const bytes = encoder.encode(text);
  const found: Found[] = [];
  const framer = new RowFramer(format, (row: FramedRow) =>
    found.push({ index: row.index, line: row.line, offset: row.offset, text: new TextDecoder().decode(row.bytes) }),
  );
  for (let from = 0; from < bytes.length; from += piece) framer.push(bytes.subarray(from, from + piece));
  framer.finish(true);
  return found;
}

/** Scans `text` from a row the whole scan found, to `end`, as a step does. */
function scanFrom(format: ImportFormat, text: string, start: Found, end: number): Found[] {
  const bytes = encoder.encode(text);
  const found: Found[] = [];
  const framer = new RowFramer(
    format,
    (row) =>
      found.push({ index: row.index, line: row.line, offset: row.offset, text: new TextDecoder().decode(row.bytes) }),
    { offset: start.offset, line: start.line, index: start.index, atRow: true },
  );
  framer.push(bytes.subarray(start.offset, end));
  framer.finish(false);
  return found;
}

function refusal(format: ImportFormat, text: string): string {
  try {
    scan(format, text);
  } catch (error) {
    if (error instanceof FramingError) return error.message;
    throw error;
  }
  return "accepted";
}

describe("NDJSON rows", () => {
  it("finds each non-blank line, with its line and offset (a trailing \\r is not part of it)", () => {
    const text = '{"uid":"a","accid":"x"}\r\n\n  \n{"uid":"b","accid":"y"}\nnot json';
    expect(scan("ndjson", text)).toEqual([
      { index: 0, line: 1, offset: 0, text: '{"uid":"a","accid":"x"}' },
      { index: 1, line: 4, offset: 29, text: '{"uid":"b","accid":"y"}' },
      { index: 2, line: 5, offset: 53, text: "not json" },
    ]);
    expect(text.slice(29, 29 + 23)).toBe('{"uid":"b","accid":"y"}');
  });

  it("skips a UTF-8 byte order mark before the first row", () => {
    expect(scan("ndjson", '\uFEFF{"uid":"a"}\n')).toEqual([{ index: 0, line: 1, offset: 3, text: '{"uid":"a"}' }]);
    expect(scan("json", "\uFEFF[1]").map((row) => row.text)).toEqual(["1"]);
  });

  it("refuses a line longer than the bound, naming it", () => {
    expect(refusal("ndjson", `{}\n${"x".repeat(IMPORT.maxRowBytes + 1)}\n`)).toBe(
      `line 2: a row is longer than ${IMPORT.maxRowBytes} bytes`,
    );
    expect(refusal("ndjson", `${"x".repeat(IMPORT.maxRowBytes)}\n`)).toBe("accepted");
  });
});

describe("JSON array rows", () => {
  it("finds each element, objects spread over lines and strings with brackets included", () => {
    const text = '[\n {"uid": "a]}", "accid": "x"},\n {\n  "uid": "b\\"",\n  "accid": "y"\n }, 5, "s", null\n]\n';
    const rows = scan("json", text);
    expect(rows.map(({ index, line, text }) => ({ index, line, text }))).toEqual([
      { index: 0, line: 2, text: '{"uid": "a]}", "accid": "x"}' },
      { index: 1, line: 3, text: '{\n  "uid": "b\\"",\n  "accid": "y"\n }' },
      { index: 2, line: 6, text: "5" },
      { index: 3, line: 6, text: '"s"' },
      { index: 4, line: 6, text: "null" },
    ]);
    for (const row of rows) expect(text.slice(row.offset, row.offset + row.text.length)).toBe(row.text);
    // Several elements share line 6: a row is reported under its place in the array.
    expect(rows.map((row) => rowNumber("json", row))).toEqual([1, 2, 3, 4, 5]);
    expect(rowValue(encoder.encode(rows[1]!.text))).toEqual({ uid: 'b"', accid: "y" });
    expect(rowValue(encoder.encode("not json"))).toBe("not json");
  });

  it("takes an empty array, and refuses broken framing naming the line", () => {
    expect(scan("json", " [ ] ")).toEqual([]);
    expect(refusal("json", '{"uid":"a"}')).toBe("line 1: the body must be a JSON array");
    expect(refusal("json", "")).toBe("line 1: the body is empty; send a JSON array");
    expect(refusal("json", '[{"uid":"a"},]')).toBe("line 1: a row is missing");
    expect(refusal("json", '[{"uid":"a"},,{}]')).toBe("line 1: a row is missing");
    expect(refusal("json", '[\n{"uid":"a"} {"uid":"b"}]')).toBe("line 2: expected , or ] after a row");
    expect(refusal("json", '[{"uid":"a"}]\nx')).toBe("line 2: text after the closing ]");
    expect(refusal("json", '[{"uid":"a"}')).toBe("line 1: the JSON array is not closed");
    expect(refusal("json", '[\n{"uid":"a"')).toBe("line 2: the row is not closed");
    expect(refusal("json", `[${JSON.stringify({ uid: "u".repeat(IMPORT.maxRowBytes) })}]`)).toBe(
      `line 1: a row is longer than ${IMPORT.maxRowBytes} bytes`,
    );
  });
});

describe("a step's scan agrees with the upload's", () => {
  /** A file of `n` rows in `format`, with blank lines, multi-byte text and rows spread over lines. */
  function file(format: ImportFormat, n: number): string {
    const rows = Array.from({ length: n }, (_, i) =>
      i % 7 === 3
        ? `{\n  "uid": "ü-${i}",\n  "accid": "acc_${i}"\n}`
        : JSON.stringify({ uid: `u-${i}`, accid: `acc_${i}` }),
    );
    if (format === "ndjson")
      return rows
        .map((row, i) => (i % 5 === 0 ? `\n${row.replaceAll("\n", "")}` : row.replaceAll("\n", "")))
        .join("\n");
    return `[\n${rows.join(",\n")}\n]\n`;
  }

  for (const format of ["ndjson", "json"] as const) {
    it(`${format}: every piece size, every start`, () => {
      const text = file(format, 60);
      const whole = scan(format, text);
      expect(whole).toHaveLength(60);
      for (const piece of [1, 2, 7, 64, 1000]) expect(scan(format, text, piece)).toEqual(whole);
      const size = encoder.encode(text).length;
      // Steps of 9 rows: each scans from its first row to the next step's first row.
      for (let first = 0; first < whole.length; first += 9) {
        const end = whole[first + 9]?.offset ?? size;
        expect(scanFrom(format, text, whole[first]!, end)).toEqual(whole.slice(first, first + 9));
      }
    });
  }
});
