/**
 * The import client (scripts/import.ts) against a fake admin API: the three import endpoints in
 * memory, recording what each request carried. The client runs as `npm run -s import` runs it, in
 * a child process; spawned asynchronously, since the fake answers from this process's event loop.
 */

import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { text } from "node:stream/consumers";
import { afterEach, describe, expect, it } from "vitest";
import {
  csvLineToNdjson,
  cutPieces,
  isCsvHeader,
  PIECE_BYTES,
  parseCsvLine,
  progressLine,
  type SentLine,
  sentLines,
  shiftResultLine,
  USAGE,
} from "../../scripts/import.ts";

const TOKEN = "test-admin-token";

/** One row's outcome, as the Worker's results give it. */
interface ResultRow {
  line: number;
  outcome: string;
  uid?: string;
  accid?: string;
  message?: string;
}

/** A request the fake got. */
interface Seen {
  method: string;
  path: string;
  authorization: string | undefined;
  contentType: string | undefined;
  body: string;
}

/** An import the fake holds. */
interface FakeImport {
  id: string;
  rows: ResultRow[];
  polls: number;
  /** It ends errored on its second poll, half done. */
  errors: boolean;
}

/** How the fake misbehaves: which POST (from 1) it refuses with a 400, which import errors. */
interface FakeModes {
  refusePost?: number;
  errorImport?: number;
}

/** The rows of an uploaded body, each bound or invalid, numbered as the Worker numbers them. */
function rowsOf(body: string, contentType: string | undefined): ResultRow[] {
  const outcome = (value: unknown, line: number): ResultRow => {
    const row = value as { uid?: unknown; accid?: unknown } | null;
    return typeof row?.uid === "string" && typeof row.accid === "string"
      ? { line, outcome: "bound", uid: row.uid, accid: row.accid }
      : { line, outcome: "invalid", message: "a row must be an object with uid and accid" };
  };
  if (contentType === "application/json") return (JSON.parse(body) as unknown[]).map((v, i) => outcome(v, i + 1));
  return body.split("\n").flatMap((text, i) => (text.trim() ? [outcome(JSON.parse(text), i + 1)] : []));
}

function countsOf(rows: ResultRow[]) {
  const count = (outcome: string) => rows.filter((row) => row.outcome === outcome).length;
  return {
    done: rows.length,
    bound: count("bound"),
    unchanged: 0,
    conflict: 0,
    invalid: count("invalid"),
    failed: 0,
  };
}

/** The request's body as text (Node's own reader, `node:stream/consumers`). */
const read = (request: IncomingMessage): Promise<string> => text(request);

function answer(response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { "Content-Type": "application/json", ...headers }).end(JSON.stringify(body));
}

const ROUTE = /^\/admin\/v1(?:\/apps\/[^/]+)?\/imports(?:\/(imp_\d+)(\/results)?)?$/;

/** Starts the fake admin API on a free port of 127.0.0.1. */
async function startFake(modes: FakeModes = {}) {
  const seen: Seen[] = [];
  const imports = new Map<string, FakeImport>();
  const server = createServer(async (request, response) => {
    const path = request.url ?? "/";
    const body = await read(request);
    const contentType = request.headers["content-type"];
    seen.push({ method: request.method ?? "", path, authorization: request.headers.authorization, contentType, body });
    const match = ROUTE.exec(path);
    const found = match?.[1] === undefined ? undefined : imports.get(match[1]);
    if (!match) return answer(response, 404, { error: "not_found", message: "No such route." });
    if (request.method === "POST" && !match[1]) {
      const posts = seen.filter((s) => s.method === "POST").length;
      if (posts === modes.refusePost) {
        return answer(response, 400, {
          error: "invalid_request",
          message: "The file cannot be read: line 2: a row is longer than 1024 bytes.",
        });
      }
      const id = `imp_${imports.size + 1}`;
      const rows = rowsOf(body, contentType);
      imports.set(id, { id, rows, polls: 0, errors: imports.size + 1 === modes.errorImport });
      const started = { id, app: "default", status: "queued", rows: rows.length, bytes: Buffer.byteLength(body) };
      return answer(response, 202, started, { Location: `${path}/${id}` });
    }
    if (request.method !== "GET" || !found) return answer(response, 404, { error: "not_found", message: "No import." });
    // Half the rows are done at the first poll; all of them (or half, erroring) at the second.
    const done = found.rows.slice(0, found.polls === 0 || found.errors ? Math.ceil(found.rows.length / 2) : undefined);
    if (match[2]) {
      response.writeHead(200, { "Content-Type": "application/x-ndjson" });
      return response.end(done.map((row) => `${JSON.stringify(row)}\n`).join(""));
    }
    found.polls += 1;
    const status = found.polls === 1 ? "running" : found.errors ? "errored" : "complete";
    return answer(response, 200, {
      id: found.id,
      app: "default",
      status,
      rows: found.rows.length,
      counts: countsOf(done),
      operator: "admin token",
      rowsPerSecond: status === "running" ? 1050 : 0,
      secondsLeft: status === "running" ? 84 : null,
      ...(status === "errored" ? { error: "NetEase kept failing" } : {}),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    posts: () => seen.filter((s) => s.method === "POST"),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let fake: Awaited<ReturnType<typeof startFake>> | undefined;
afterEach(async () => {
  await fake?.close();
  fake = undefined;
});

/** A fresh directory holding `files`. */
function dirWith(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "import-client-"));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** Runs the client in `cwd` with only the given environment (none of the developer's). */
function runImport(cwd: string, args: string[], env: Record<string, string>) {
  const script = join(import.meta.dirname, "../../scripts/import.ts");
  return new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args], { cwd, env: { PATH: process.env.PATH ?? "", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (status) => resolve({ status, stdout, stderr }));
  });
}

/** The environment of a run against the fake, cutting pieces of `pieceBytes`. */
const envFor = (url: string, pieceBytes: number) => ({
  ADMIN_TOKEN: TOKEN,
  W: url,
  IMPORT_PIECE_BYTES: String(pieceBytes),
  IMPORT_POLL_MS: "20",
});

/** The rows of a results file. */
const resultsIn = (path: string) =>
  readFileSync(path, "utf8")
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as ResultRow);

/** NDJSON whose line n holds uid `u<n>`, with the blank lines listed. */
function numberedNdjson(lines: number, blank: number[]): string {
  const text = (n: number) => (blank.includes(n) ? "" : JSON.stringify({ uid: `u${n}`, accid: `a${n}` }));
  return Array.from({ length: lines }, (_, i) => `${text(i + 1)}\n`).join("");
}

describe("the import command", () => {
  it("sends a CSV as NDJSON in pieces, and numbers the results by the CSV's own lines", async () => {
    fake = await startFake();
    const csv = [
      "UID , AccId",
      "u2,acc2",
      '"u,3",acc3',
      '"say ""4""",acc4',
      "",
      "u6,acc6",
      "just-one-field",
      ...Array.from({ length: 13 }, (_, i) => `u${i + 8},acc${i + 8}`),
    ].join("\r\n");
    const dir = dirWith({ "stock.csv": `${csv}\r\n` });
    const run = await runImport(dir, ["stock.csv"], envFor(fake.url, 100));
    expect(run.stderr).not.toMatch(/^import:/m);
    expect(run.status).toBe(0);

    const posts = fake.posts();
    expect(posts.length).toBeGreaterThan(3);
    for (const post of posts) {
      expect(post.path).toBe("/admin/v1/imports");
      expect(post.authorization).toBe(`Bearer ${TOKEN}`);
      expect(post.contentType).toBe("application/x-ndjson");
      expect(Buffer.byteLength(post.body)).toBeLessThanOrEqual(100);
    }
    const sent = posts.flatMap((post) => post.body.split("\n").filter((line) => line.trim()));
    expect(sent.slice(0, 5).map((line) => JSON.parse(line))).toEqual([
      { uid: "u2", accid: "acc2" },
      { uid: "u,3", accid: "acc3" },
      { uid: 'say "4"', accid: "acc4" },
      { uid: "u6", accid: "acc6" },
      "just-one-field",
    ]);

    const results = resultsIn(join(dir, "stock.csv.results.ndjson"));
    const dataLines = [2, 3, 4, 6, 7, ...Array.from({ length: 13 }, (_, i) => i + 8)];
    expect(results.map((row) => row.line)).toEqual(dataLines);
    expect(results.find((row) => row.line === 3)?.uid).toBe("u,3");
    expect(results.find((row) => row.line === 7)?.outcome).toBe("invalid");
    for (const row of results.filter((r) => r.line > 7)) expect(row.uid).toBe(`u${row.line}`);

    const ids = posts.map((_, i) => `imp_${i + 1}`).join(", ");
    expect(run.stdout).toBe(
      `18 rows: bound 17, unchanged 0, conflict 0, invalid 1, failed 0 (imports ${ids}); results in stock.csv.results.ndjson\n`,
    );
    expect(run.stderr).toMatch(/^imp_1 running \d+\/\d+ rows \(bound \d+, .*\) 1050 rows\/s, about 84 s left$/m);
    expect(run.stderr).toMatch(/^imp_1 complete (\d)\/\1 rows /m);
  });

  it("cuts NDJSON at line boundaries, no piece over the piece size, and shifts each piece's lines", async () => {
    fake = await startFake();
    const text = numberedNdjson(40, [1, 9, 10, 25, 40]);
    const dir = dirWith({ "stock.ndjson": text });
    const run = await runImport(dir, ["stock.ndjson", "--out", "out.ndjson"], envFor(fake.url, 64));
    expect(run.status).toBe(0);

    const posts = fake.posts();
    expect(posts.length).toBeGreaterThan(5);
    for (const post of posts) {
      expect(Buffer.byteLength(post.body)).toBeLessThanOrEqual(64);
      expect(post.body).toMatch(/^\{.*\n$/s); // Starts with a row, ends with a whole line.
      for (const line of post.body.split("\n").filter(Boolean)) expect(() => JSON.parse(line)).not.toThrow();
    }
    const rowLines = (body: string) => body.split("\n").filter((line) => line.trim());
    expect(posts.flatMap((post) => rowLines(post.body))).toEqual(rowLines(text));

    const results = resultsIn(join(dir, "out.ndjson"));
    expect(results).toHaveLength(35);
    for (const row of results) expect(row.uid).toBe(`u${row.line}`);
    expect(existsSync(join(dir, "stock.ndjson.results.ndjson"))).toBe(false);
    expect(run.stdout).toMatch(/^35 rows: bound 35, .*; results in out\.ndjson\n$/);
  });

  it("sends a JSON array whole, and leaves its element numbers as they are", async () => {
    fake = await startFake();
    const rows = [{ uid: "a", accid: "x1" }, 7, { uid: "c", accid: "x3" }];
    const dir = dirWith({ "stock.json": JSON.stringify(rows, null, 2) });
    const run = await runImport(dir, ["stock.json"], envFor(fake.url, 4096));
    expect(run.status).toBe(0);
    expect(fake.posts().map((post) => [post.contentType, JSON.parse(post.body)])).toEqual([["application/json", rows]]);
    const results = resultsIn(join(dir, "stock.json.results.ndjson"));
    expect(results.map((row) => [row.line, row.outcome])).toEqual([
      [1, "bound"],
      [2, "invalid"],
      [3, "bound"],
    ]);
  });

  it("refuses a JSON array larger than a piece before sending anything, pointing to NDJSON", async () => {
    fake = await startFake();
    const dir = dirWith({ "stock.json": JSON.stringify([{ uid: "a", accid: "x1" }]) });
    const run = await runImport(dir, ["stock.json"], envFor(fake.url, 10));
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/^import: stock\.json is \d+ bytes, .* NDJSON .*\n$/);
    expect(fake.seen).toEqual([]);
  });

  it("imports into the app --app names", async () => {
    fake = await startFake();
    const dir = dirWith({ "stock.ndjson": numberedNdjson(4, []) });
    const run = await runImport(dir, ["stock.ndjson", "--app", "sg"], envFor(fake.url, 64));
    expect(run.status).toBe(0);
    expect(fake.seen.length).toBeGreaterThan(3);
    for (const request of fake.seen) expect(request.path).toMatch(/^\/admin\/v1\/apps\/sg\/imports(\/|$)/);
    expect(fake.seen.map((request) => request.method)).toContain("GET");
  });

  it("takes the token from ./.dev.vars when ADMIN_TOKEN is not set", async () => {
    fake = await startFake();
    const dir = dirWith({ "stock.ndjson": numberedNdjson(2, []), ".dev.vars": 'X=1\nADMIN_TOKEN="from-dev-vars"\n' });
    const { ADMIN_TOKEN: _, ...env } = envFor(fake.url, 4096);
    const run = await runImport(dir, ["stock.ndjson"], env);
    expect(run.status).toBe(0);
    expect(fake.posts()[0]?.authorization).toBe("Bearer from-dev-vars");
  });

  it("stops at a piece the API refuses, with its message and the file's line", async () => {
    fake = await startFake({ refusePost: 2 });
    const dir = dirWith({ "stock.ndjson": numberedNdjson(12, []) });
    const run = await runImport(dir, ["stock.ndjson"], envFor(fake.url, 64));
    expect(run.status).toBe(1);
    expect(fake.posts()).toHaveLength(2); // Nothing after the refused piece.
    const secondFrom = fake.posts()[0]!.body.split("\n").length; // The first piece's lines, plus one.
    expect(run.stderr).toContain(
      `import: 400 invalid_request: The file cannot be read: line 2: a row is longer than 1024 bytes. (line ${secondFrom + 1} of stock.ndjson)\n`,
    );
    expect(run.stdout).toMatch(/^\d+ rows: .*\(imports imp_1\); results in stock\.ndjson\.results\.ndjson\n$/);
  });

  it("stops at an import that errors, keeping its results so far", async () => {
    fake = await startFake({ errorImport: 1 });
    const dir = dirWith({ "stock.ndjson": numberedNdjson(12, []) });
    const run = await runImport(dir, ["stock.ndjson"], envFor(fake.url, 64));
    expect(run.status).toBe(1);
    expect(fake.posts()).toHaveLength(1);
    expect(run.stderr).toContain("import: imp_1 errored: NetEase kept failing; the results so far are in");
    const results = resultsIn(join(dir, "stock.ndjson.results.ndjson"));
    expect(results.length).toBeGreaterThan(0);
    expect(results.length).toBeLessThan(fake.posts()[0]!.body.split("\n").length - 1);
  });

  it("answers usage errors with one line and exit status 2, sending nothing", async () => {
    fake = await startFake();
    const env = envFor(fake.url, 4096);
    const dir = dirWith({ "stock.csv": "uid,accid\nalice,stock_alice\n", "bad.csv": "user,accid\nalice,x\n" });
    const cases: [string[], Record<string, string>, unknown][] = [
      [["nope.csv"], env, "import: no such file: nope.csv\n"],
      [["stock.csv"], { W: fake.url }, "import: set ADMIN_TOKEN (the admin API's token)\n"],
      [["bad.csv"], env, "import: line 1: the header must be exactly uid,accid\n"],
      [["stock.csv", "--colour"], env, expect.stringMatching(/^import: Unknown option '--colour'.*\n$/)],
      [[], env, "import: usage: npm run -s import -- <file> [--app NAME] [--out PATH] [--url URL]\n"],
    ];
    for (const [args, runEnv, stderr] of cases) {
      const run = await runImport(dir, args, runEnv);
      expect({ args, status: run.status, stderr: run.stderr }).toEqual({ args, status: 2, stderr });
    }
    expect(fake.seen).toEqual([]);
  });

  it("prints its usage for --help", async () => {
    const run = await runImport(dirWith({}), ["--help"], {});
    expect(run.status).toBe(0);
    expect(run.stdout).toBe(`${USAGE}\n`);
  });
});

describe("progress and results", () => {
  const view = {
    id: "imp_a",
    rows: 100000,
    counts: { done: 12000, bound: 11990, unchanged: 0, conflict: 0, invalid: 10, failed: 0 },
  };

  it("says how far an import is, how fast it goes and how long is left", () => {
    expect(progressLine({ ...view, status: "running", rowsPerSecond: 1050.4, secondsLeft: 84 })).toBe(
      "imp_a running 12000/100000 rows (bound 11990, unchanged 0, conflict 0, invalid 10, failed 0) 1050 rows/s, about 84 s left",
    );
    expect(progressLine({ ...view, status: "running", rowsPerSecond: 10, secondsLeft: 8800 })).toMatch(
      /10 rows\/s, about 2\.4 h left$/,
    );
    expect(progressLine({ ...view, status: "paused", rowsPerSecond: 0, secondsLeft: null })).toMatch(
      /failed 0\) waiting for it to be resumed$/,
    );
  });

  it("moves a result's line by the lines before its piece, leaving the rest as it is", () => {
    expect(shiftResultLine('{"line":2,"outcome":"bound","uid":"a","accid":"x"}', 1000)).toBe(
      '{"line":1002,"outcome":"bound","uid":"a","accid":"x"}',
    );
  });
});

describe("CSV lines", () => {
  it("parses RFC 4180 quoting on one line", () => {
    expect(parseCsvLine('"a,b",x1')).toEqual(["a,b", "x1"]);
    expect(parseCsvLine('"say ""hi""",x2')).toEqual(['say "hi"', "x2"]);
    expect(parseCsvLine('"",x')).toEqual(["", "x"]);
    expect(parseCsvLine("a,b,")).toEqual(["a", "b", ""]);
    expect(parseCsvLine('"open,x')).toBeUndefined();
  });

  it("checks the header by its two names only", () => {
    expect(isCsvHeader(" UID , accid ")).toBe(true);
    expect(isCsvHeader('"uid","accid"')).toBe(true);
    expect(isCsvHeader('"uid,accid"')).toBe(false);
    expect(isCsvHeader("uid,accid,extra")).toBe(false);
  });

  it("turns a row into an NDJSON object, anything else into the JSON string of its line", () => {
    expect(csvLineToNdjson('"a,b",x1')).toBe('{"uid":"a,b","accid":"x1"}');
    expect(csvLineToNdjson("x")).toBe('"x"');
    expect(csvLineToNdjson("a,b,c")).toBe('"a,b,c"');
    expect(csvLineToNdjson('"open,x')).toBe('"\\"open,x"');
  });

  it("numbers each line sent by the file's line, blank lines kept blank", async () => {
    const sent: SentLine[] = [];
    for await (const line of sentLines(["\uFEFFuid,accid", "a,x", "  ", "b"], "csv")) sent.push(line);
    expect(sent).toEqual([
      { text: '{"uid":"a","accid":"x"}', line: 2 },
      { text: "", line: 3 },
      { text: '"b"', line: 4 },
    ]);
  });
});

describe("pieces", () => {
  /** The pieces of `texts` (lines 1, 2, …) as [first line, last line, body]. */
  async function pieces(texts: string[], limit: number): Promise<[number, number, string][]> {
    const found: [number, number, string][] = [];
    for await (const piece of cutPieces(
      texts.map((text, i) => ({ text, line: i + 1 })),
      limit,
    )) {
      let body = "";
      for await (const chunk of piece.chunks) body += Buffer.from(chunk).toString();
      found.push([piece.from, piece.to, body]);
    }
    return found;
  }

  it("cuts at line boundaries, as full as the limit allows, never starting on a blank line", async () => {
    expect(await pieces(["aaa", "bbb", "", "ccc", "", "", "ddd"], 8)).toEqual([
      [1, 2, "aaa\nbbb\n"],
      [4, 6, "ccc\n\n\n"],
      [7, 7, "ddd\n"],
    ]);
  });

  it("counts bytes, not characters", async () => {
    expect(await pieces(["é", "é", "é"], 6)).toEqual([
      [1, 2, "é\né\n"],
      [3, 3, "é\n"],
    ]);
  });

  it("refuses a line longer than a piece", async () => {
    await expect(pieces(["ok", "too long"], 4)).rejects.toThrow("line 2 is longer than a piece may be (4 bytes)");
  });

  it("keeps under the 100 MB the edge takes", () => {
    expect(PIECE_BYTES).toBeLessThan(100_000_000);
  });
});
