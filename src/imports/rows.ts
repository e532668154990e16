/**
 * Finding the rows of an import file without holding the file: NDJSON (a row per non-blank line) or
 * one JSON array (a row per element), fed a piece at a time.
 *
 * The upload (`upload.ts`) runs it over the whole file as it streams to R2: it refuses a file whose
 * framing is broken (400, naming the line) and notes where every `IMPORT.rowsPerStep`-th row starts.
 * Each step of the import (`workflow.ts`) then reads just its byte range back and runs it again from
 * that row, so both agree on every row and its line. What a row says (its uid and accid) is checked
 * per row later, as the one-request import does: a bad row is reported, not the whole file.
 *
 * JSON's structure is ASCII, so the bytes are scanned as they are and only a row's own bytes are
 * decoded (UTF-8). A row is at most `IMPORT.maxRowBytes`: a uid and an accid fit many times over,
 * and the bound keeps a step's read, and the memory a row takes, small.
 */

import { IMPORT } from "../core/constants.ts";

/** The two layouts an import file may have, by its media type. */
export type ImportFormat = "ndjson" | "json";

/** Broken framing: the file cannot be split into rows. `line` is where it broke (from 1). */
export class FramingError extends Error {
  override readonly name = "FramingError";
  readonly line: number;
  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

/**
 * A row found: its place in the file (from 0), the line of its first byte, the byte offset it starts
 * at, and its bytes (valid during the call only).
 */
export interface FramedRow {
  index: number;
  line: number;
  offset: number;
  bytes: Uint8Array;
}

/**
 * The number a row is reported under, as the one-request import reports it: its line in NDJSON, its
 * place in a JSON array (several elements may share a line), both from 1.
 */
export function rowNumber(format: ImportFormat, row: { index: number; line: number }): number {
  return format === "json" ? row.index + 1 : row.line;
}

/** Where a scan starts: at the file's start, or at a row a previous scan found. */
export interface FrameStart {
  offset: number;
  line: number;
  /** The place of the row there (0 at the file's start). */
  index: number;
  /** At the first byte of a row (not the file's start: a JSON array's `[` is behind). */
  atRow: boolean;
}

const NEWLINE = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const SPACE = 0x20;
const TAB = 0x09;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

const isSpace = (byte: number) => byte === SPACE || byte === NEWLINE || byte === CARRIAGE_RETURN || byte === TAB;

/** What a JSON array scan expects next, outside a row. */
type Expect = "open" | "first" | "row" | "separator" | "end";

/**
 * Splits bytes into rows as they come (`push`), calling `onRow` for each; `finish` says the input
 * ended. Throws `FramingError` where the framing breaks.
 */
export class RowFramer {
  readonly #format: ImportFormat;
  readonly #onRow: (row: FramedRow) => void;
  /** The absolute offset and line of the next byte pushed. */
  #offset: number;
  #line: number;
  #expect: Expect;
  /** The row being read: its bytes so far, where it started, and (JSON) its nesting. */
  readonly #row = new Uint8Array(IMPORT.maxRowBytes);
  #rowLength = 0;
  #rowOffset = -1;
  #rowLine = 0;
  #depth = 0;
  #inString = false;
  #escaped = false;
  /** A JSON row that is a bare number or literal: it ends at the byte after it. */
  #bare = false;
  #rows = 0;

  constructor(format: ImportFormat, onRow: (row: FramedRow) => void, start: FrameStart = START) {
    this.#format = format;
    this.#onRow = onRow;
    this.#offset = start.offset;
    this.#line = start.line;
    this.#rows = start.index;
    this.#expect = start.atRow ? "row" : "open";
  }

  /** Rows found so far, counting from the start's place (during `onRow`, the row's own place). */
  get rows(): number {
    return this.#rows;
  }

  /** Scans the next piece of the input. */
  push(bytes: Uint8Array): void {
    if (this.#offset === 0 && this.#expect === "open" && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
      // A UTF-8 byte order mark, as some editors and spreadsheets write: not part of the first row.
      this.#offset = 3;
      bytes = bytes.subarray(3);
    }
    if (this.#format === "ndjson") this.#pushLines(bytes);
    else for (let i = 0; i < bytes.length; i++) this.#pushJson(bytes[i]!);
  }

  /**
   * The input ended. `whole`: it was the whole file, so a JSON array must be closed; otherwise it
   * was a step's range, which ends between rows (after a comma) or after the array.
   */
  finish(whole: boolean): void {
    if (this.#format === "ndjson") {
      if (this.#rowOffset >= 0) this.#endLine();
      return;
    }
    if (this.#bare) this.#endRow();
    if (this.#rowOffset >= 0) throw new FramingError("the row is not closed", this.#rowLine);
    if (whole && this.#expect !== "end") {
      throw new FramingError(
        this.#expect === "open" ? "the body is empty; send a JSON array" : "the JSON array is not closed",
        this.#line,
      );
    }
  }

  #pushLines(bytes: Uint8Array): void {
    let from = 0;
    while (from < bytes.length) {
      const newline = bytes.indexOf(NEWLINE, from);
      const to = newline < 0 ? bytes.length : newline;
      if (this.#rowOffset < 0) {
        // #offset is where bytes[from] lies in the file.
        this.#rowOffset = this.#offset;
        this.#rowLine = this.#line;
      }
      this.#append(bytes.subarray(from, to));
      if (newline < 0) {
        this.#offset += bytes.length - from;
        return;
      }
      this.#offset += newline + 1 - from;
      this.#endLine();
      this.#line += 1;
      from = newline + 1;
    }
  }

  #append(bytes: Uint8Array): void {
    if (this.#rowLength + bytes.length > IMPORT.maxRowBytes) {
      throw new FramingError(`a row is longer than ${IMPORT.maxRowBytes} bytes`, this.#rowLine);
    }
    this.#row.set(bytes, this.#rowLength);
    this.#rowLength += bytes.length;
  }

  /** A line ended: a row unless blank (a trailing `\r` is not part of it). */
  #endLine(): void {
    let length = this.#rowLength;
    if (length > 0 && this.#row[length - 1] === CARRIAGE_RETURN) length -= 1;
    let blank = true;
    for (let i = 0; i < length && blank; i++) blank = isSpace(this.#row[i]!);
    if (!blank) this.#emit(length);
    this.#rowLength = 0;
    this.#rowOffset = -1;
  }

  #emit(length: number): void {
    this.#onRow({
      index: this.#rows,
      line: this.#rowLine,
      offset: this.#rowOffset,
      bytes: this.#row.subarray(0, length),
    });
    this.#rows += 1;
  }

  #pushJson(byte: number): void {
    if (this.#rowOffset >= 0) {
      if (this.#bare && (isSpace(byte) || byte === COMMA || byte === CLOSE_BRACKET)) {
        this.#endRow();
        this.#outside(byte);
      } else this.#inRow(byte);
    } else this.#outside(byte);
    this.#offset += 1;
    if (byte === NEWLINE) this.#line += 1;
  }

  /** A byte between rows. */
  #outside(byte: number): void {
    if (isSpace(byte)) return;
    switch (this.#expect) {
      case "open":
        if (byte !== OPEN_BRACKET) throw new FramingError("the body must be a JSON array", this.#line);
        this.#expect = "first";
        return;
      case "first":
        if (byte === CLOSE_BRACKET) {
          this.#expect = "end";
          return;
        }
        break;
      case "row":
        if (byte === CLOSE_BRACKET || byte === COMMA) throw new FramingError("a row is missing", this.#line);
        break;
      case "separator":
        if (byte === COMMA) this.#expect = "row";
        else if (byte === CLOSE_BRACKET) this.#expect = "end";
        else throw new FramingError("expected , or ] after a row", this.#line);
        return;
      case "end":
        throw new FramingError("text after the closing ]", this.#line);
    }
    this.#rowOffset = this.#offset;
    this.#rowLine = this.#line;
    this.#bare = byte !== OPEN_BRACE && byte !== OPEN_BRACKET && byte !== QUOTE;
    this.#inRow(byte);
  }

  /** A byte of a row: its end is the bracket that closes its first, or the quote that closes its string. */
  #inRow(byte: number): void {
    if (this.#rowLength === IMPORT.maxRowBytes) {
      throw new FramingError(`a row is longer than ${IMPORT.maxRowBytes} bytes`, this.#rowLine);
    }
    this.#row[this.#rowLength++] = byte;
    if (this.#bare) return;
    if (this.#inString) {
      if (this.#escaped) this.#escaped = false;
      else if (byte === BACKSLASH) this.#escaped = true;
      else if (byte === QUOTE) {
        this.#inString = false;
        if (this.#depth === 0) this.#endRow();
      }
      return;
    }
    if (byte === QUOTE) this.#inString = true;
    else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) this.#depth += 1;
    else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      this.#depth -= 1;
      if (this.#depth === 0) this.#endRow();
    }
  }

  #endRow(): void {
    this.#emit(this.#rowLength);
    this.#rowLength = 0;
    this.#rowOffset = -1;
    this.#depth = 0;
    this.#bare = false;
    this.#expect = "separator";
  }
}

const START: FrameStart = { offset: 0, line: 1, index: 0, atRow: false };

const decoder = new TextDecoder();

/** A row's value: its JSON, or its text when it is not JSON (reported as an invalid row, as the one-request import does). */
export function rowValue(bytes: Uint8Array): unknown {
  const text = decoder.decode(bytes);
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
