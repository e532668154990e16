/**
 * File imports (POST /admin/v1/imports and its Workflow, src/imports/) inside workerd: the file
 * streamed into a real R2 bucket, the real Workflow stepping through it, the rows bound by the real
 * account objects against the emulated NetEase over HTTP.
 */

import { describe, expect, it } from "vitest";
import { AccountAdmin } from "../../src/admin/actions.ts";
import type { ImportStatus } from "../../src/contract/responses.ts";
import { IMPORT } from "../../src/core/constants.ts";
import { importKeys, newImportId, storeImportFile } from "../../src/imports/files.ts";
import type { ImportJob } from "../../src/imports/workflow.ts";
import { type Runtime, runtimeFor } from "../../src/runtime.ts";
import { nimOf } from "../../src/services.ts";
import { adminCall, emulatedAccount, emulator, env, injectFault, seg, stockAccid, uniqueUid } from "./helpers.ts";

const NDJSON = "application/x-ndjson";

/** Registers `count` stock accounts at the emulated NetEase at once; their accids. */
async function stockAccids(count: number): Promise<string[]> {
  const accids = Array.from({ length: count }, () => stockAccid());
  const made = await emulator("/emulator/accounts", { method: "POST", body: JSON.stringify({ accids }) });
  expect(await made.json()).toEqual({ code: 200, created: count });
  return accids;
}

async function startImport(body: string, contentType = NDJSON): Promise<{ id: string; rows: number }> {
  const response = await adminCall("POST", "/imports", body, { contentType });
  expect(response.status, await response.clone().text()).toBe(202);
  const started = await response.json<{ id: string; rows: number; status: string }>();
  expect(response.headers.get("Location")).toBe(`/admin/v1/imports/${started.id}`);
  expect(started.status).toBe("queued");
  return started;
}

async function statusOf(id: string): Promise<ImportStatus> {
  const response = await adminCall("GET", `/imports/${id}`);
  expect(response.status).toBe(200);
  return response.json();
}

/** Polls until the import is no longer queued or running (at most 30 s). */
async function finished(
  id: string,
  until: (status: ImportStatus) => boolean = (s) => !["queued", "running", "pausing"].includes(s.status),
): Promise<ImportStatus> {
  for (let i = 0; i < 300; i++) {
    const status = await statusOf(id);
    if (until(status)) return status;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`import ${id} did not finish: ${JSON.stringify(await statusOf(id))}`);
}

type Result = { line: number; outcome: string; uid?: string; accid?: string; message?: string };

async function resultsOf(id: string): Promise<Result[]> {
  const response = await adminCall("GET", `/imports/${id}/results`);
  expect(response.status).toBe(200);
  expect(response.headers.get("Content-Type")).toBe(NDJSON);
  const text = await response.text();
  return text === ""
    ? []
    : text
        .trimEnd()
        .split("\n")
        .map((line) => JSON.parse(line) as Result);
}

const ndjson = (rows: unknown[]) =>
  `${rows.map((row) => (typeof row === "string" ? row : JSON.stringify(row))).join("\n")}\n`;

async function historyOf(
  uid: string,
): Promise<{ operation: string; outcome: string; replayed: boolean; operator: string }[]> {
  const response = await adminCall("GET", `/accounts/${seg(uid)}/history`);
  return (
    await response.json<{ entries: { operation: string; outcome: string; replayed: boolean; operator: string }[] }>()
  ).entries;
}

describe("POST /admin/v1/imports", () => {
  it("binds a file's rows through their objects, reports every row by its line, and a second run changes nothing", async () => {
    const [first, second, third] = await stockAccids(3);
    const taken = uniqueUid("taken");
    const bound = await adminCall("PUT", `/accounts/${seg(taken)}`, { accid: third });
    expect(bound.status).toBe(201);
    const uids = [uniqueUid("imp"), uniqueUid("imp"), uniqueUid("imp")];
    const file = ndjson([
      { uid: uids[0], accid: first },
      "",
      { uid: uids[1], accid: second!.toUpperCase() },
      { uid: uids[2], accid: stockAccid() },
      "not json",
      { uid: taken, accid: third },
      { uid: uniqueUid("imp"), accid: third },
    ]);
    const { id, rows } = await startImport(file);
    expect(rows).toBe(6);
    const done = await finished(id);
    expect(done).toMatchObject({
      id,
      app: "default",
      status: "complete",
      rows: 6,
      counts: { done: 6, bound: 2, unchanged: 1, conflict: 1, invalid: 2, failed: 0 },
      operator: "admin token",
      secondsLeft: null,
    });
    expect(done.finishedAt).not.toBeNull();
    expect((await resultsOf(id)).map(({ line, outcome }) => [line, outcome])).toEqual([
      [1, "bound"],
      [3, "bound"],
      [4, "invalid"],
      [5, "invalid"],
      [6, "already_bound"],
      [7, "conflict"],
    ]);
    // Written through the uid's object: audited, under the file import's operator.
    expect(await historyOf(uids[0]!)).toMatchObject([
      { operation: "import", outcome: "bound", operator: "admin token" },
    ]);

    const again = await finished((await startImport(file)).id);
    expect(again.counts).toEqual({ done: 6, bound: 0, unchanged: 3, conflict: 1, invalid: 2, failed: 0 });
    expect(await historyOf(uids[0]!)).toHaveLength(1);
  });

  it("reads a JSON array's rows wherever they lie, numbered by their place", async () => {
    const [a, b] = await stockAccids(2);
    const [ua, ub] = [uniqueUid("arr"), uniqueUid("arr")];
    const file = `[\n  {\n    "uid": "${ua}",\n    "accid": "${a}"\n  },\n  {"uid": "${ub}", "accid": "${b}"}, 42, {"uid": "x"}\n]\n`;
    const { id } = await startImport(file, "application/json");
    expect((await finished(id)).counts).toMatchObject({ done: 4, bound: 2, invalid: 2 });
    expect((await resultsOf(id)).map(({ line, outcome }) => [line, outcome])).toEqual([
      [1, "bound"],
      [2, "bound"],
      [3, "invalid"],
      [4, "invalid"],
    ]);
  });

  it("steps through a file a thousand rows at a time, each row reported once, in order", async () => {
    const count = IMPORT.rowsPerStep * 2 + 7;
    // Rows that fail their own checks: no NetEase call, no object; the steps and the results are what is tested.
    const file = ndjson(Array.from({ length: count }, (_, i) => ({ nope: i })));
    const { id, rows } = await startImport(file);
    expect(rows).toBe(count);
    const done = await finished(id);
    expect(done.counts).toMatchObject({ done: count, invalid: count });
    const results = await resultsOf(id);
    expect(results.map((r) => r.line)).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  });

  it("checks each row against every earlier row of the file, across steps: an accid goes to one uid", async () => {
    const [a, b] = await stockAccids(2);
    const [u1, u2] = [uniqueUid("claim"), uniqueUid("claim")];
    const filler = Array.from({ length: IMPORT.rowsPerStep }, (_, i) => ({ nope: i }));
    // Row 1 in the first step; rows 1002 to 1004 in the second.
    const file = ndjson([
      { uid: u1, accid: a },
      ...filler,
      { uid: u2, accid: a },
      { uid: u1, accid: a },
      { uid: u1, accid: b },
    ]);
    const { id } = await startImport(file);
    expect((await finished(id)).counts).toMatchObject({ bound: 1, unchanged: 1, conflict: 2 });
    const results = (await resultsOf(id)).filter((r) => r.line === 1 || r.line > IMPORT.rowsPerStep + 1);
    expect(results.map(({ line, outcome, message }) => [line, outcome, message])).toEqual([
      [1, "bound", undefined],
      [1002, "conflict", "Conflicts with line 1 of this import."],
      [1003, "already_bound", "Repeats line 1 of this import."],
      [1004, "conflict", "Conflicts with line 1 of this import."],
    ]);
    expect((await adminCall("GET", `/accounts/${seg(u2)}`)).status).toBe(404);
  });

  it("answers from its own files once Workflows no longer keeps the run", async () => {
    const id = newImportId();
    const keys = importKeys(id);
    const createdAt = new Date().toISOString();
    await env.ADMIN_FILES!.put(
      keys.manifest,
      JSON.stringify({ id, app: "default", format: "ndjson", rows: 2, bytes: 10, operator: "admin token", createdAt }),
    );
    const counts = { done: 2, bound: 2, unchanged: 0, conflict: 0, invalid: 0, failed: 0 };
    const now = Date.now();
    await env.ADMIN_FILES!.put(
      keys.progress,
      JSON.stringify({ counts, stepsDone: 1, steps: 1, startedAt: now - 1000, updatedAt: now, finishedAt: now }),
    );
    expect(await statusOf(id)).toMatchObject({ status: "complete", counts });
    const pause = await adminCall("POST", `/imports/${id}/pause`);
    expect(pause.status).toBe(409);
    expect((await pause.json<{ message: string }>()).message).toContain("no longer keeps");
  });

  it("refuses a file whose framing is broken, naming the line, and keeps nothing", async () => {
    const before = (await env.ADMIN_FILES!.list({ prefix: "imports/", delimiter: "/" })).delimitedPrefixes.length;
    const cases: [string, string, string][] = [
      ['[{"uid":"a","accid":"b"},\n]', "application/json", "line 2: a row is missing"],
      ['{"uid":"a","accid":"b"}', "application/json", "line 1: the body must be a JSON array"],
      [
        `{}\n${"x".repeat(IMPORT.maxRowBytes + 1)}\n`,
        NDJSON,
        `line 2: a row is longer than ${IMPORT.maxRowBytes} bytes`,
      ],
      ["\n\n", NDJSON, "The file has no rows."],
    ];
    for (const [body, contentType, message] of cases) {
      const response = await adminCall("POST", "/imports", body, { contentType });
      expect(response.status).toBe(400);
      const answer = await response.json<{ error: string; message: string }>();
      expect(answer.error).toBe("invalid_request");
      expect(answer.message).toContain(message);
    }
    expect((await adminCall("POST", "/imports", "uid,accid\n", { contentType: "text/csv" })).status).toBe(415);
    const after = (await env.ADMIN_FILES!.list({ prefix: "imports/", delimiter: "/" })).delimitedPrefixes.length;
    expect(after).toBe(before);
  });

  it("is 404 where the Workflow is not bound, and for an id that names no import of this app", async () => {
    const off = await adminCall("POST", "/imports", ndjson([{ uid: "a", accid: "b" }]), {
      contentType: NDJSON,
      overrides: { IMPORTS: undefined },
    });
    expect(off.status).toBe(404);
    expect((await off.json<{ message: string }>()).message).toContain("IMPORTS");
    for (const path of ["/imports/imp_nope", `/imports/${newImportId()}`, `/imports/${newImportId()}/results`]) {
      expect((await adminCall("GET", path)).status, path).toBe(404);
    }
    // Another app's import is not this app's to read.
    const foreign = newImportId();
    await env.ADMIN_FILES!.put(importKeys(foreign).manifest, JSON.stringify({ id: foreign, app: "other" }));
    expect((await adminCall("GET", `/imports/${foreign}`)).status).toBe(404);
    expect((await adminCall("POST", `/imports/${foreign}/cancel`)).status).toBe(404);
  });

  it("lists the app's imports, newest first", async () => {
    const older = await startImport(ndjson([{ nope: 1 }]));
    const newer = await startImport(ndjson([{ nope: 2 }]));
    await finished(newer.id);
    const response = await adminCall("GET", "/imports?limit=2");
    const { imports } = await response.json<{ imports: ImportStatus[] }>();
    expect(imports.map((each) => each.id)).toEqual([newer.id, older.id]);
    expect((await adminCall("GET", "/imports?limit=0")).status).toBe(400);
  });
});

describe("pausing, resuming and cancelling", () => {
  const file = ndjson(Array.from({ length: IMPORT.rowsPerStep * 20 }, (_, i) => ({ nope: i })));

  it("pauses between steps and resumes where it stopped, every row reported once", async () => {
    const { id, rows } = await startImport(file);
    const paused = await adminCall("POST", `/imports/${id}/pause`);
    expect(paused.status).toBe(200);
    const stopped = await finished(id, (s) => s.status === "paused");
    expect(stopped.counts.done).toBeLessThan(rows);
    // Still paused a moment later: nothing moves.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect((await statusOf(id)).counts.done).toBe(stopped.counts.done);
    expect((await adminCall("POST", `/imports/${id}/pause`)).status).toBe(409);
    expect((await adminCall("POST", `/imports/${id}/resume`)).status).toBe(200);
    const done = await finished(id);
    expect(done).toMatchObject({ status: "complete", counts: { done: rows, invalid: rows } });
    expect(await resultsOf(id)).toHaveLength(rows);
    const resumedAgain = await adminCall("POST", `/imports/${id}/resume`);
    expect(resumedAgain.status).toBe(409);
    expect((await resumedAgain.json<{ message: string }>()).message).toBe(
      "This import is complete; it cannot be resumed now.",
    );
  });

  it("cancels for good", async () => {
    const { id, rows } = await startImport(file);
    const cancelled = await adminCall("POST", `/imports/${id}/cancel`);
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toEqual({ id, status: "cancelled" });
    const status = await statusOf(id);
    expect(status.status).toBe("cancelled");
    expect(status.counts.done).toBeLessThan(rows);
    expect((await adminCall("POST", `/imports/${id}/cancel`)).status).toBe(409);
    expect((await adminCall("POST", `/imports/${id}/resume`)).status).toBe(409);
  });
});

describe("a step run again", () => {
  /** Stores `file` as the upload would, lets `before` act, then starts its Workflow; its id. */
  async function importAfter(file: string, before: (id: string) => Promise<void>): Promise<string> {
    const id = newImportId();
    const keys = importKeys(id);
    const stored = await storeImportFile(env.ADMIN_FILES!, keys.file, new Blob([file]).stream(), "ndjson");
    const manifest = {
      id,
      app: "default",
      format: "ndjson",
      rows: stored.rows,
      bytes: stored.bytes,
      operator: "admin token",
      createdAt: new Date().toISOString(),
    };
    await env.ADMIN_FILES!.put(keys.manifest, JSON.stringify(manifest));
    await before(id);
    const job: ImportJob = { ...manifest, format: "ndjson", starts: stored.starts };
    await env.IMPORTS!.create({ id, params: job });
    return id;
  }

  /** The first attempt of step 1 (cut short): its marker left, row 1 bound under the row's request id. */
  async function firstAttempt(id: string, uid: string, accid: string, marker: boolean): Promise<void> {
    if (marker) await env.ADMIN_FILES!.put(importKeys(id).marker(0), new Uint8Array(0));
    const objects = ((await runtimeFor(env)) as Runtime).app().accountObjects;
    const bound = await objects.bind(uid, accid, {
      requestId: `${id}#1`,
      operator: "admin token",
      registered: true,
      quiet: true,
    });
    expect(bound.value.outcome).toBe("bound");
  }

  it("reports the rows it bound before it was cut short as bound, and writes none twice", async () => {
    const [a, b, c] = await stockAccids(3);
    const [ua, ub, uc] = [uniqueUid("again"), uniqueUid("again"), uniqueUid("again")];
    // Bound before this import: unchanged however often the step runs.
    expect((await adminCall("PUT", `/accounts/${seg(uc)}`, { accid: c })).status).toBe(201);
    const file = ndjson([
      { uid: ua, accid: a },
      { uid: ub, accid: b },
      { uid: uc, accid: c },
    ]);
    const id = await importAfter(file, (id) => firstAttempt(id, ua!, a!, true));
    const done = await finished(id);
    expect(done.counts).toEqual({ done: 3, bound: 2, unchanged: 1, conflict: 0, invalid: 0, failed: 0 });
    // Row 1 was written once: the run again was answered from the object's memory of that request id.
    expect((await historyOf(ua!)).map(({ outcome, replayed }) => [outcome, replayed])).toEqual([
      ["replayed", true],
      ["bound", false],
    ]);
    // Asked again, its object found it bound as given and wrote nothing.
    expect((await historyOf(uc!)).map(({ operation, outcome }) => [operation, outcome])).toEqual([
      ["import", "already_bound"],
      ["bind", "bound"],
    ]);
  });

  it("without its marker, a step takes a row KV has as bound for unchanged (why the marker is left)", async () => {
    const [a] = await stockAccids(1);
    const ua = uniqueUid("again");
    const id = await importAfter(ndjson([{ uid: ua, accid: a }]), (id) => firstAttempt(id, ua, a!, false));
    expect((await finished(id)).counts).toMatchObject({ bound: 0, unchanged: 1 });
  });
});

describe("a step's last attempt", () => {
  async function admin(): Promise<AccountAdmin> {
    const app = ((await runtimeFor(env)) as Runtime).app();
    return new AccountAdmin(app.accountObjects, app.store, nimOf(app), newImportId(), "admin token");
  }

  it("reports rows NetEase could not be asked about as failed, and binds the rest", async () => {
    const [a, b] = await stockAccids(2);
    const rows = [
      { line: 1, row: { uid: uniqueUid("last"), accid: a } },
      { line: 2, row: { uid: uniqueUid("last"), accid: b } },
    ];
    // NetEase fails the next two calls: the step's earlier attempt (which throws) and its last.
    await injectFault(a!, "user/getUinfos.action", "http500", 2);
    await expect((await admin()).checkAndBind(rows)).rejects.toThrow();
    const results = await (await admin()).checkAndBind(rows, { tolerateFailures: true });
    expect(results).toEqual([
      {
        line: 1,
        uid: rows[0]!.row.uid,
        accid: a,
        outcome: "failed",
        message: "NetEase or the account's object was unavailable; import this row again.",
      },
      {
        line: 2,
        uid: rows[1]!.row.uid,
        accid: b,
        outcome: "failed",
        message: "NetEase or the account's object was unavailable; import this row again.",
      },
    ]);
    expect((await emulatedAccount(a!)).calls.getUinfos).toBe(2);
    // Asked again once NetEase answers, both are bound.
    const later = await (await admin()).checkAndBind(rows, { tolerateFailures: true });
    expect(later.map((row) => row.outcome)).toEqual(["bound", "bound"]);
  });
});
