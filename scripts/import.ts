/**
 * `npm run -s import -- <file> [--app NAME] [--out PATH] [--url URL]`: imports a file of stock
 * accounts (uid → accid) through the Worker's file imports (`POST /admin/v1/imports`), follows each
 * import to its end, and writes every row's outcome to one results file.
 *
 * The file is read a line at a time, never whole, and sent in pieces of at most PIECE_BYTES, each
 * cut at a line boundary and imported on its own, one after another: Cloudflare's edge refuses
 * request bodies over 100 MB on the Free and Pro plans. A CSV goes as NDJSON, a line for a line, so
 * the Worker's line numbers stay the file's. The Worker numbers each piece's rows from the piece's
 * own first line; the results file numbers them by the file's lines (a CSV's header is line 1).
 */

import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import { createInterface } from "node:readline";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { ReadableStream as NodeReadableStream } from "node:stream/web";
import { parseArgs } from "node:util";
import type { ImportStatus } from "../src/contract/responses.ts";
import { parseDevVars } from "./dev-vars.ts";

/**
 * The most bytes one request carries: under the 100 MB the edge takes on the Free and Pro plans,
 * with room to spare. `IMPORT_PIECE_BYTES` overrides it (the tests cut tiny pieces).
 */
export const PIECE_BYTES = 90_000_000;

/** How often an import is polled, in ms; `IMPORT_POLL_MS` overrides it. */
export const POLL_MS = 2000;

const DEFAULT_URL = "http://127.0.0.1:8787";

export const USAGE = `usage: npm run -s import -- <file> [--app NAME] [--out PATH] [--url URL]

Imports stock accounts (uid → accid) through the Worker's admin API, and writes each row's outcome.
<file> is .csv (header uid,accid), .ndjson or .jsonl (a {"uid","accid"} object a line), or .json
(one array, sent in one request: at most ${PIECE_BYTES / 1_000_000} MB).

  --app NAME   the NetEase app to import into (several apps, NIM_APPS); default: the home app
  --out PATH   where the results go, a JSON line per row; default: <file>.results.ndjson
  --url URL    the Worker; default: $W, else ${DEFAULT_URL} (npm start)

The admin token comes from ADMIN_TOKEN, else from ./.dev.vars (which npm start writes).
Exit status: 0 every row was handled (the results say which were invalid or in conflict),
1 an import failed or the admin API refused, 2 nothing was sent.`;

/** Ends the command with one line on stderr; exit 2 when nothing was sent, else 1. */
class Stop extends Error {
  readonly exitCode: 1 | 2;
  constructor(message: string, exitCode: 1 | 2) {
    super(message);
    this.exitCode = exitCode;
  }
}

/** An error answer of the admin API. */
class HttpError extends Error {
  readonly status: number;
  constructor(status: number, error: string, message: string) {
    super(`${status} ${error}: ${message}`);
    this.status = status;
  }
}

// ---- the file ----

/** How a file is read, by its extension. */
export type FileFormat = "csv" | "ndjson" | "json";

/** The format of `path`, or undefined for an extension this command does not read. */
export function formatOf(path: string): FileFormat | undefined {
  const extension = extname(path).toLowerCase();
  if (extension === ".csv") return "csv";
  if (extension === ".ndjson" || extension === ".jsonl") return "ndjson";
  return extension === ".json" ? "json" : undefined;
}

/**
 * Splits one CSV line into its fields (RFC 4180 quoting: a field in double quotes may hold commas,
 * and "" for a quote). Undefined when a quote is left open: a quoted field may not span lines here,
 * since each row must keep a line of its own (and so its line number).
 */
export function parseCsvLine(line: string): string[] | undefined {
  const fields: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      fields.push(field);
      field = "";
    } else field += ch;
  }
  if (quoted) return undefined;
  fields.push(field);
  return fields;
}

/** Whether a CSV's first line is the header `uid,accid` (in any case, spaces around the names allowed). */
export function isCsvHeader(line: string): boolean {
  const names = parseCsvLine(line)?.map((name) => name.trim().toLowerCase());
  return names?.length === 2 && names[0] === "uid" && names[1] === "accid";
}

/**
 * The NDJSON line a CSV data line becomes: `{"uid","accid"}` from its two fields, as they are (the
 * Worker checks them). Any other line (a wrong number of fields, an open quote) goes as the JSON
 * string of the line itself, which the Worker reports as an invalid row under its line number,
 * rather than one bad line stopping the whole import here.
 */
export function csvLineToNdjson(line: string): string {
  const fields = parseCsvLine(line);
  if (fields?.length !== 2) return JSON.stringify(line);
  const [uid, accid] = fields;
  return JSON.stringify({ uid, accid });
}

/** A line as it is sent (without its newline), and its line number in the file (from 1). */
export interface SentLine {
  text: string;
  line: number;
}

const isBlank = (text: string) => text.trim() === "";

/**
 * The file's lines (`raw`, in order from line 1) as the Worker is to get them: NDJSON as it is, CSV
 * converted after its header is checked. One line sent per line read, blank ones included (the
 * Worker skips them), so that a piece's line n is the file's line n + the lines before the piece.
 * Throws `Stop` when a CSV's header is not `uid,accid`.
 */
export async function* sentLines(
  raw: AsyncIterable<string> | Iterable<string>,
  format: "csv" | "ndjson",
): AsyncGenerator<SentLine> {
  let line = 0;
  for await (const read of raw) {
    line += 1;
    // A UTF-8 byte order mark (spreadsheets write one) is not part of the first row.
    const text = line === 1 ? read.replace(/^\uFEFF/, "") : read;
    if (format === "ndjson") yield { text, line };
    else if (line > 1) yield { text: isBlank(text) ? "" : csvLineToNdjson(text), line };
    else if (!isCsvHeader(text)) throw new Stop("line 1: the header must be exactly uid,accid", 2);
  }
}

/** One piece of the file, imported on its own. */
export interface Piece {
  /** The file's line number of the piece's first line: the Worker's line n is the file's line n + from - 1. */
  from: number;
  /** The file's line number of its last line, once `chunks` has been read through. */
  to: number;
  /** Its bytes: whole lines, each ending in "\n", at most the piece size in all. */
  chunks: AsyncIterable<Uint8Array>;
}

/** A batch of lines worth one write to the request. */
const CHUNK_BYTES = 64 * 1024;

/**
 * Cuts `lines` into pieces of at most `limit` bytes, each cut at a line boundary, without holding
 * more than a line of lookahead and a chunk: a piece's bytes are read from `lines` as the request
 * sends them. Read each piece's chunks through before asking for the next piece (what is left
 * unread is skipped). A piece never starts with a blank line, so none is only blank lines (the
 * Worker refuses a file without rows). Throws `Stop` at a line longer than a whole piece.
 */
export async function* cutPieces(
  lines: AsyncIterable<SentLine> | Iterable<SentLine>,
  limit: number,
): AsyncGenerator<Piece> {
  const source = new Lookahead(lines);
  for (;;) {
    let first = await source.peek();
    while (first && isBlank(first.text)) {
      source.take();
      first = await source.peek();
    }
    if (!first) return;
    if (Buffer.byteLength(first.text) + 1 > limit) {
      throw new Stop(`line ${first.line} is longer than a piece may be (${limit} bytes)`, 1);
    }
    const piece: Piece = {
      from: first.line,
      to: first.line,
      chunks: pieceChunks(source, limit, (line) => (piece.to = line)),
    };
    yield piece;
    for await (const _ of piece.chunks); // What the caller left unread, so the next piece starts after it.
  }
}

/** The lines of one piece from `source`, in chunks, until the next line would go over `limit`. */
async function* pieceChunks(
  source: Lookahead<SentLine>,
  limit: number,
  onLine: (line: number) => void,
): AsyncGenerator<Uint8Array> {
  let bytes = 0;
  let chunk = "";
  let chunkBytes = 0;
  for (let next = await source.peek(); next; next = await source.peek()) {
    const size = Buffer.byteLength(next.text) + 1;
    if (bytes + size > limit) break;
    source.take();
    onLine(next.line);
    bytes += size;
    chunk += `${next.text}\n`;
    chunkBytes += size;
    if (chunkBytes >= CHUNK_BYTES) {
      yield Buffer.from(chunk);
      chunk = "";
      chunkBytes = 0;
    }
  }
  if (chunk) yield Buffer.from(chunk);
}

/** An async iterator with one item of lookahead. */
class Lookahead<T> {
  readonly #iterator: AsyncIterator<T> | Iterator<T>;
  #next: IteratorResult<T> | undefined;

  constructor(items: AsyncIterable<T> | Iterable<T>) {
    this.#iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  }

  /** The next item, left in place; undefined at the end. */
  async peek(): Promise<T | undefined> {
    this.#next ??= await this.#iterator.next();
    return this.#next.done ? undefined : this.#next.value;
  }

  /** Moves past the item `peek` gave. */
  take(): void {
    this.#next = undefined;
  }
}

/** The pieces of the file at `path`: a JSON array whole, the line formats cut by `cutPieces`. */
async function* piecesOf(path: string, format: FileFormat, limit: number): AsyncGenerator<Piece> {
  if (format === "json") {
    // An array cannot be cut without parsing it: it goes in one request (parseOptions checked its size).
    yield { from: 1, to: 1, chunks: createReadStream(path) };
    return;
  }
  const raw = createInterface({ input: createReadStream(path), crlfDelay: Number.POSITIVE_INFINITY });
  yield* cutPieces(sentLines(raw, format), limit);
}

// ---- the results ----

/** One row of an import's results, as far as this command reads it. */
interface ResultRow {
  line?: unknown;
}

/**
 * A line of an import's results with its `line` moved by `shift` (the file's lines before the
 * piece), so that it counts the file's lines rather than the piece's. Other fields stay as they are.
 */
export function shiftResultLine(text: string, shift: number): string {
  let row: ResultRow;
  try {
    row = JSON.parse(text) as ResultRow;
  } catch {
    return text; // Not the Worker's JSON: kept as it came rather than lost.
  }
  if (typeof row.line === "number") row.line += shift;
  return JSON.stringify(row);
}

/** The results file: emptied by the first piece's results, appended to by the next ones'. */
class ResultsFile {
  readonly path: string;
  #started = false;

  constructor(path: string) {
    this.path = path;
  }

  /** Appends an import's results (NDJSON), each `line` moved by `shift`. */
  async append(body: NodeReadableStream<Uint8Array>, shift: number): Promise<void> {
    const flags = this.#started ? "a" : "w";
    this.#started = true;
    await pipeline(
      Readable.fromWeb(body),
      async function* (input: Readable) {
        for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY })) {
          if (!isBlank(line)) yield `${shiftResultLine(line, shift)}\n`;
        }
      },
      createWriteStream(this.path, { flags }),
    );
  }
}

// ---- the admin API ----

/** The import's outcome counts, as `GET /imports/{id}` gives them. */
export type ImportCounts = ImportStatus["counts"];

/** What `GET /imports/{id}` answers, as far as this command reads it. */
export type ImportView = Pick<
  ImportStatus,
  "id" | "status" | "rows" | "counts" | "rowsPerSecond" | "secondsLeft" | "error"
>;

/** Statuses an import does not leave (`unknown`: its run is no longer kept, unfinished). */
const ENDED: readonly ImportView["status"][] = ["complete", "errored", "cancelled", "unknown"];

/** How many times a poll is tried before the command gives up on the Worker. */
const POLL_TRIES = 5;

/** The import endpoints of one app, under one admin token. */
class ImportsApi {
  /** `…/admin/v1/imports` or `…/admin/v1/apps/NAME/imports`. */
  readonly base: string;
  readonly #token: string;
  readonly #retryMs: number;

  constructor(url: string, app: string | undefined, token: string, retryMs: number) {
    const appPath = app === undefined ? "" : `/apps/${encodeURIComponent(app)}`;
    this.base = `${url}/admin/v1${appPath}/imports`;
    this.#token = token;
    this.#retryMs = retryMs;
  }

  /** Starts an import of `body`; its id. */
  async start(body: AsyncIterable<Uint8Array>, contentType: string): Promise<string> {
    const response = await this.#fetch("", {
      method: "POST",
      headers: { "Content-Type": contentType },
      body: NodeReadableStream.from(body) as ReadableStream<Uint8Array>,
      // A stream body is sent as it is read (chunked), never held whole.
      duplex: "half",
    });
    return ((await response.json()) as { id: string }).id;
  }

  /** The import as it stands. A poll is only a read, so one lost to a network blip or a 5xx is tried again. */
  async status(id: string): Promise<ImportView> {
    for (let attempt = 1; ; attempt++) {
      try {
        return (await (await this.#fetch(`/${id}`)).json()) as ImportView;
      } catch (error) {
        const transient = !(error instanceof HttpError) || error.status >= 500;
        if (!transient || attempt === POLL_TRIES) throw error;
        console.error(`import: ${messageOf(error)}; asking again`);
        await sleep(this.#retryMs * attempt);
      }
    }
  }

  /** The import's results so far, as NDJSON. */
  async results(id: string): Promise<NodeReadableStream<Uint8Array>> {
    const response = await this.#fetch(`/${id}/results`);
    if (!response.body) throw new Error(`the results of ${id} came without a body`);
    return response.body as NodeReadableStream<Uint8Array>;
  }

  async #fetch(path: string, init: RequestInit & { duplex?: "half" } = {}): Promise<Response> {
    let response: Response;
    try {
      response = await fetch(`${this.base}${path}`, {
        ...init,
        headers: { ...init.headers, Authorization: `Bearer ${this.#token}` },
      });
    } catch (error) {
      const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
      throw new Error(`cannot reach ${this.base}: ${messageOf(cause)}`);
    }
    if (!response.ok) throw await httpError(response);
    return response;
  }
}

/** An error answer as an HttpError: the Worker's `{error, message}`, or the status line for anything else (the edge's pages). */
async function httpError(response: Response): Promise<HttpError> {
  const text = await response.text().catch(() => "");
  try {
    const body = JSON.parse(text) as { error?: unknown; message?: unknown };
    if (typeof body.error === "string") return new HttpError(response.status, body.error, String(body.message ?? ""));
  } catch {
    // Not JSON: below.
  }
  return new HttpError(response.status, response.statusText || "error", text.slice(0, 200).trim());
}

// ---- the command ----

/** What the command was asked to do. */
export interface Options {
  file: string;
  format: FileFormat;
  app: string | undefined;
  out: string;
  url: string;
  token: string;
  pieceBytes: number;
  pollMs: number;
}

/**
 * Reads the command line and the environment: what to do, or "help" for --help. Throws `Stop`
 * (exit 2) for anything amiss.
 */
export function parseOptions(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Options | "help" {
  let parsed: ReturnType<typeof parseCommandLine>;
  try {
    parsed = parseCommandLine(argv);
  } catch (error) {
    throw new Stop(messageOf(error), 2);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  const [file, ...extra] = positionals;
  if (file === undefined) throw new Stop(USAGE.split("\n")[0]!, 2);
  if (extra.length > 0) throw new Stop(`one file at a time (also given: ${extra.join(" ")})`, 2);
  if (!existsSync(file)) throw new Stop(`no such file: ${file}`, 2);
  const format = formatOf(file);
  if (!format) throw new Stop(`${file}: import a .csv, .ndjson, .jsonl or .json file`, 2);
  const pieceBytes = wholeNumber(env, "IMPORT_PIECE_BYTES", PIECE_BYTES);
  const size = statSync(file).size;
  if (format === "json" && size > pieceBytes) {
    throw new Stop(
      `${file} is ${size} bytes, more than one request may carry (${pieceBytes}); a JSON array goes in one piece, so write it as NDJSON (a {"uid","accid"} object a line, .ndjson) and import that`,
      2,
    );
  }
  const token = adminToken(env, cwd);
  if (!token) throw new Stop("set ADMIN_TOKEN (the admin API's token)", 2);
  return {
    file,
    format,
    app: values.app,
    out: values.out ?? `${file}.results.ndjson`,
    url: workerUrl(values.url ?? (env.W || DEFAULT_URL)),
    token,
    pieceBytes,
    pollMs: wholeNumber(env, "IMPORT_POLL_MS", POLL_MS),
  };
}

function parseCommandLine(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      app: { type: "string" },
      out: { type: "string" },
      url: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
}

/** The admin token: ADMIN_TOKEN, else the ADMIN_TOKEN line of ./.dev.vars (what `npm start` gives the Worker). */
function adminToken(env: NodeJS.ProcessEnv, cwd: string): string | undefined {
  const given = env.ADMIN_TOKEN?.trim();
  if (given) return given;
  const devVars = join(cwd, ".dev.vars");
  if (!existsSync(devVars)) return undefined;
  return parseDevVars(readFileSync(devVars, "utf8")).ADMIN_TOKEN?.trim() || undefined;
}

/** The Worker's origin (and any path prefix), without a trailing slash. */
function workerUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Stop(`not a URL: ${text}`, 2);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new Stop(`not an http(s) URL: ${text}`, 2);
  return url.href.replace(/\/+$/, "");
}

/** A positive whole number from the environment, or `fallback` when it is unset. */
function wholeNumber(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Stop(`${name} must be a whole number above 0`, 2);
  return value;
}

/** The progress line for one poll. */
export function progressLine(view: ImportView): string {
  const { counts } = view;
  const outcomes = `bound ${counts.bound}, unchanged ${counts.unchanged}, conflict ${counts.conflict}, invalid ${counts.invalid}, failed ${counts.failed}`;
  const pace = [
    view.rowsPerSecond > 0 ? `${Math.round(view.rowsPerSecond)} rows/s` : "",
    view.secondsLeft === null ? "" : `about ${duration(view.secondsLeft)} left`,
    view.status === "paused" || view.status === "pausing" ? "waiting for it to be resumed" : "",
  ].filter(Boolean);
  return `${view.id} ${view.status} ${counts.done}/${view.rows} rows (${outcomes})${pace.length ? ` ${pace.join(", ")}` : ""}`;
}

/** `seconds` in the unit a reader takes in at a glance. */
function duration(seconds: number): string {
  if (seconds < 120) return `${seconds} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

/** What the imports did, summed over the pieces. */
export interface Total {
  rows: number;
  counts: ImportCounts;
  ids: string[];
}

/** The summary line: rows, outcomes, imports and where the results are. */
export function summaryLine(total: Total, out: string): string {
  const { counts } = total;
  return `${total.rows} rows: bound ${counts.bound}, unchanged ${counts.unchanged}, conflict ${counts.conflict}, invalid ${counts.invalid}, failed ${counts.failed} (imports ${total.ids.join(", ")}); results in ${out}`;
}

/** Polls an import until it ends, a progress line each time. */
async function follow(api: ImportsApi, id: string, pollMs: number): Promise<ImportView> {
  for (;;) {
    await sleep(pollMs);
    const view = await api.status(id);
    console.error(progressLine(view));
    if (ENDED.includes(view.status)) return view;
  }
}

/** Counts of nothing. */
const noCounts = (): ImportCounts => ({ done: 0, bound: 0, unchanged: 0, conflict: 0, invalid: 0, failed: 0 });

/** Adds one import's ending to the total. */
function addTo(total: Total, view: ImportView): void {
  total.rows += view.rows;
  for (const key of Object.keys(total.counts) as (keyof ImportCounts)[]) total.counts[key] += view.counts[key];
}

/** The import under way, for the interrupt message. */
let current: { id: string; base: string } | undefined;

/** How one piece ended: refused (nothing imported), or its import's last view. */
type PieceEnd = { refused: HttpError } | { view: ImportView };

/**
 * Sends one piece, follows its import to its end and appends its results. An error answer to the
 * upload is the piece refused; any other failure throws.
 */
async function importPiece(api: ImportsApi, piece: Piece, options: Options, results: ResultsFile): Promise<PieceEnd> {
  const contentType = options.format === "json" ? "application/json" : "application/x-ndjson";
  let id: string;
  try {
    id = await api.start(piece.chunks, contentType);
  } catch (error) {
    if (error instanceof HttpError) return { refused: error };
    throw error;
  }
  current = { id, base: api.base };
  const lines = options.format === "json" ? "" : ` (lines ${piece.from} to ${piece.to} of ${options.file})`;
  console.error(`${id} queued${lines}`);
  const view = await follow(api, id, options.pollMs);
  await results.append(await api.results(id), shiftOf(piece, options.format));
  current = undefined;
  return { view };
}

/** What to add to the Worker's line numbers for a piece: the file's lines before it (none for an array, whose numbers count elements). */
function shiftOf(piece: Piece, format: FileFormat): number {
  return format === "json" ? 0 : piece.from - 1;
}

/** Imports the file piece by piece, one after another; the exit code. */
async function run(options: Options): Promise<number> {
  const api = new ImportsApi(options.url, options.app, options.token, options.pollMs);
  const results = new ResultsFile(options.out);
  const total: Total = { rows: 0, counts: noCounts(), ids: [] };
  for await (const piece of piecesOf(options.file, options.format, options.pieceBytes)) {
    const end = await importPiece(api, piece, options, results);
    if ("refused" in end) {
      console.error(`import: ${withFileLine(end.refused.message, shiftOf(piece, options.format), options.file)}`);
      if (total.ids.length > 0) {
        console.error(
          `import: nothing from line ${piece.from} of ${options.file} on was imported; the lines before it were`,
        );
        console.log(summaryLine(total, options.out));
      }
      return 1;
    }
    const { view } = end;
    total.ids.push(view.id);
    addTo(total, view);
    if (view.status !== "complete") {
      const reason = view.error ? `: ${view.error}` : "";
      console.error(`import: ${view.id} ${view.status}${reason}; the results so far are in ${options.out}`);
      console.log(summaryLine(total, options.out));
      return 1;
    }
  }
  if (total.ids.length === 0) throw new Stop(`${options.file} has no rows`, 2);
  console.log(summaryLine(total, options.out));
  return 0;
}

/** A 400's "line N" of the piece, followed by the file's line it is. */
function withFileLine(message: string, shift: number, file: string): string {
  const match = /\bline (\d+)\b/.exec(message);
  return match && shift > 0 ? `${message} (line ${Number(match[1]) + shift} of ${file})` : message;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Runs the command; the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<number> {
  try {
    const options = parseOptions(argv, env, cwd);
    if (options !== "help") return await run(options);
    console.log(USAGE);
    return 0;
  } catch (error) {
    console.error(`import: ${messageOf(error)}`);
    return error instanceof Stop ? error.exitCode : 1;
  }
}

if (import.meta.main) {
  // The Worker goes on without this command: say so, and how to stop it there.
  process.once("SIGINT", () => {
    if (current) {
      console.error(
        `\nimport: ${current.id} goes on in the Worker; cancel it with POST ${current.base}/${current.id}/cancel`,
      );
    }
    process.exit(130);
  });
  process.exit(await main(process.argv.slice(2), process.env, process.cwd()));
}
