/**
 * `npm run -s import:restart-check -- [rows]` (scripts/ci-smoke.sh runs it; default 100,000 rows):
 * a file import against `npm start` that survives a restart of `npm start` in the middle.
 *
 * It starts `npm start` (nothing else may hold its ports), registers the stock accounts at the
 * emulator, starts the import, stops `npm start` once about a third of the rows are done, starts it
 * again, and checks:
 *   - the import finishes by itself with every row bound, the same totals as a run with no restart;
 *   - no account was written twice: in every row of the steps around the restart (and a sample of
 *     the others) the uid's history holds exactly one import that changed something;
 *   - the same file imported again reports every row unchanged.
 * Stops `npm start` when done, however it ends.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "..");
const ROWS = Number(process.argv[2] ?? 100_000);
const BASE = `http://127.0.0.1:${process.env.PORT ?? 8787}`;
const EMULATOR = `http://127.0.0.1:${process.env.EMULATOR_PORT ?? 8788}`;
const STEP = 1000;
/** Both runs of `npm start`, one after the other. */
const START_LOG = join(tmpdir(), `import-restart-check-${process.pid}.log`);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
let failures = 0;
function check(ok: boolean, what: string): void {
  console.log(`${ok ? "ok" : "not ok"} - import restart: ${what}`);
  if (!ok) failures++;
}

/** `npm start` in its own process group, and a way to stop all of it (scripts/ci-smoke.sh does the same). */
async function startService(): Promise<{ stop(): Promise<void> }> {
  // Its output goes to a file, printed when a check fails (what `npm start` said about the import).
  const out = openSync(START_LOG, "a");
  const child: ChildProcess = spawn("npm", ["start"], { cwd: ROOT, detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  for (let i = 0; i < 120; i++) {
    if ((await fetch(`${BASE}/healthz`).catch(() => undefined))?.status === 200) break;
    await sleep(500);
  }
  if ((await fetch(`${BASE}/healthz`).catch(() => undefined))?.status !== 200)
    throw new Error("npm start did not serve");
  return {
    async stop() {
      const group = -child.pid!;
      try {
        process.kill(group, "SIGTERM");
      } catch {
        return;
      }
      // scripts/dev.ts stops wrangler, the emulator and the receiver, then exits: wait for the group.
      for (let i = 0; i < 60; i++) {
        try {
          process.kill(group, 0);
        } catch {
          return;
        }
        await sleep(500);
      }
      process.kill(group, "SIGKILL");
    },
  };
}

function adminToken(): string {
  const line = readFileSync(join(ROOT, ".dev.vars"), "utf8")
    .split("\n")
    .find((l) => l.startsWith("ADMIN_TOKEN="));
  if (!line) throw new Error(".dev.vars has no ADMIN_TOKEN");
  return line.slice("ADMIN_TOKEN=".length).trim();
}

interface Status {
  status: string;
  rows: number;
  counts: { done: number; bound: number; unchanged: number; conflict: number; invalid: number; failed: number };
}

async function admin(path: string, init: RequestInit = {}): Promise<Response> {
  return fetch(`${BASE}/admin/v1${path}`, {
    ...init,
    headers: { Authorization: `Bearer ${adminToken()}`, ...(init.headers ?? {}) },
  });
}

async function statusOf(id: string): Promise<Status> {
  return (await (await admin(`/imports/${id}`)).json()) as Status;
}

async function startImport(file: string): Promise<string> {
  const response = await admin("/imports", {
    method: "POST",
    headers: { "Content-Type": "application/x-ndjson" },
    body: file,
  });
  if (response.status !== 202) throw new Error(`import: ${response.status} ${await response.text()}`);
  return ((await response.json()) as { id: string }).id;
}

async function finished(id: string, minutes: number): Promise<Status> {
  const until = Date.now() + minutes * 60_000;
  for (;;) {
    const status = await statusOf(id);
    // "paused" is no end here: this check never pauses, but `npm start` pauses an import left
    // part-way and resumes it once paused (scripts/dev.ts), and a poll can fall in between.
    if (!["queued", "running", "pausing", "paused"].includes(status.status) || Date.now() > until) return status;
    await sleep(1000);
  }
}

/** How many imports of `uid` changed something, in its history (a replay changes nothing). */
async function importsThatWrote(uid: string): Promise<number> {
  const response = await admin(`/accounts/${encodeURIComponent(uid)}/history?limit=50`);
  const { entries } = (await response.json()) as {
    entries: { operation: string; replayed: boolean; outcome: string }[];
  };
  return entries.filter((entry) => entry.operation === "import" && !entry.replayed && entry.outcome === "bound").length;
}

const run = Date.now().toString(36);
const uids = Array.from({ length: ROWS }, (_, i) => `restart-${run}-${i}`);
const accids = Array.from({ length: ROWS }, (_, i) => `restart_${run}_${i}`);
const file = `${uids.map((uid, i) => JSON.stringify({ uid, accid: accids[i] })).join("\n")}\n`;

let service = await startService();
try {
  for (let i = 0; i < ROWS; i += 10_000) {
    const made = await fetch(`${EMULATOR}/emulator/accounts`, {
      method: "POST",
      body: JSON.stringify({ accids: accids.slice(i, i + 10_000) }),
    });
    if (made.status !== 200) throw new Error(`emulator: ${made.status}`);
  }
  const id = await startImport(file);
  console.log(`# import ${id}: ${ROWS} rows`);
  let atStop = 0;
  for (let i = 0; i < 600 && atStop < ROWS / 3; i++) {
    await sleep(500);
    atStop = (await statusOf(id)).counts.done;
  }
  console.log(`# stopping npm start at ${atStop} rows done`);
  await service.stop();
  service = await startService();
  const done = await finished(id, 20);
  check(
    done.status === "complete" && done.counts.done === ROWS && done.counts.bound === ROWS,
    `finished after the restart with every row bound (${done.status}: ${JSON.stringify(done.counts)})`,
  );
  // The steps that ran when npm start stopped, and a sample of the rest.
  const first = Math.max(0, Math.floor(atStop / STEP) * STEP - STEP);
  const around = uids.slice(first, Math.min(ROWS, first + 3 * STEP));
  const sample = Array.from({ length: 200 }, (_, i) => uids[Math.floor((i * ROWS) / 200)]!);
  const checked = [...new Set([...around, ...sample])];
  let wrong = 0;
  for (let i = 0; i < checked.length; i += 20) {
    const counts = await Promise.all(checked.slice(i, i + 20).map(importsThatWrote));
    wrong += counts.filter((count) => count !== 1).length;
  }
  check(wrong === 0, `each account written once (${checked.length} uids' histories read, ${wrong} not once)`);
  const again = await finished(await startImport(file), 10);
  check(
    again.status === "complete" && again.counts.unchanged === ROWS,
    `the same file again: every row unchanged (${JSON.stringify(again.counts)})`,
  );
} finally {
  await service.stop();
}
console.log(`import restart: ${3 - failures} passed, ${failures} failed`);
if (failures > 0) {
  // What npm start said (its [dev] lines name each import it drove on after the restart).
  const said = readFileSync(START_LOG, "utf8").split("\n");
  const lines = [
    ...said.filter((line) => line.startsWith("[dev]")),
    ...said.filter((line) => /error/i.test(line)).slice(-20),
  ];
  console.log(["# npm start said:", ...lines.map((line) => `#   ${line}`)].join("\n"));
  process.exitCode = 1;
}
rmSync(START_LOG, { force: true });
