/**
 * An import's work, run by the `ImportWorkflow` (`entry.ts`, a Cloudflare Workflow): one step per
 * `IMPORT.rowsPerStep` rows of the uploaded file, then one that marks it finished.
 *
 * A step reads its byte range from the bucket, finds its rows (`rows.ts`), and has them checked and
 * bound as the one-request import does (`AccountAdmin.checkAndBind`): against each other, KV, NetEase
 * in batches (each call waiting for a turn at the app's creation pace, so sign-ups beside the import
 * keep NetEase's cap), then through each uid's object under the request id `<import>#<line>`. It
 * writes its rows' outcomes and the counts so far, and returns its own counts; the Workflow keeps
 * those, so a finished step is never run again.
 *
 * A step that fails (NetEase or an object unreachable) is retried by the Workflow. A step run again,
 * after a failure or a restart part-way, finds the marker it left and asks the objects about rows KV
 * already has as bound: each replays its first answer for the same request id, so totals come out
 * the same and no account is written twice. On its last attempt a step does not fail: rows it still
 * cannot check or bind are reported `failed`, for the operator to import again, and the import goes on.
 */

import type { WorkflowStep } from "cloudflare:workers";
import { NonRetryableError } from "cloudflare:workflows";
import type { CreatePacing } from "../accounts/create-pacer.ts";
import { AccountAdmin, type ImportOptions, type NumberedRow } from "../admin/actions.ts";
import { ConfigError } from "../config.ts";
import { IMPORT } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import { logLine } from "../core/log.ts";
import type { Env } from "../env.ts";
import { runtimeFor } from "../runtime.ts";
import { nimOf } from "../services.ts";
import type { ImportClaims } from "./entry.ts";
import {
  addCounts,
  countOf,
  type ImportCounts,
  type ImportProgress,
  importKeys,
  noCounts,
  type StepStart,
} from "./files.ts";
import { type ImportFormat, RowFramer, rowNumber, rowValue } from "./rows.ts";

/** What a Workflow instance is started with. */
export interface ImportJob {
  id: string;
  app: string;
  operator: string;
  format: ImportFormat;
  /** The file's size in bytes: the last step reads to its end. */
  bytes: number;
  starts: StepStart[];
}

/** How a step is retried: 6 attempts over about 5 minutes. */
export const STEP_RETRIES = { limit: 5, delay: "10 seconds", backoff: "exponential" } as const;

/** Runs the import's steps; returns the final counts. */
export async function runImport(env: Env, job: ImportJob, step: WorkflowStep): Promise<ImportCounts> {
  let counts = noCounts();
  const startedAt = await step.do("start", async () => Date.now());
  for (let index = 0; index < job.starts.length; index++) {
    const before = counts;
    const added = await step.do(`rows ${index + 1}`, { retries: STEP_RETRIES }, async (ctx) =>
      importStep(env, job, index, { counts: before, startedAt }, ctx.attempt > STEP_RETRIES.limit),
    );
    counts = addCounts(counts, added);
  }
  // The claims were only for the rows to come.
  await step.do("finish", { retries: STEP_RETRIES }, async () => {
    const claims = await claimsOf(env, job.id);
    if (claims) await claims.forget();
  });
  return counts;
}

/** The import's claims (`ImportClaims`), or undefined when the binding is gone. */
async function claimsOf(env: Env, id: string) {
  const runtime = await runtimeFor(env);
  const namespace = runtime instanceof ConfigError ? undefined : runtime.config.imports?.claims;
  return namespace && (namespace.get(namespace.idFromName(id)) as DurableObjectStub<ImportClaims>);
}

/** One step: its rows checked, bound and reported, and the import's progress rewritten. */
async function importStep(
  env: Env,
  job: ImportJob,
  index: number,
  soFar: { counts: ImportCounts; startedAt: number },
  lastAttempt: boolean,
): Promise<ImportCounts> {
  const stepStarted = Date.now();
  const runtime = await runtimeFor(env);
  // Thrown, so the step is retried: a configuration mended meanwhile lets the import go on.
  if (runtime instanceof ConfigError) throw runtime;
  const bucket = runtime.config.adminFiles;
  if (!bucket) throw new Error("ADMIN_FILES is not bound");
  const app = runtime.app(job.app);
  const keys = importKeys(job.id);

  const start = job.starts[index]!;
  const end = job.starts[index + 1]?.offset ?? job.bytes;
  const object = await bucket.get(keys.file, { range: { offset: start.offset, length: end - start.offset } });
  if (!object) throw new NonRetryableError("the import's file is gone from the bucket");
  const rows: NumberedRow[] = [];
  const framer = new RowFramer(
    job.format,
    (row) => rows.push({ line: rowNumber(job.format, row), row: rowValue(row.bytes) }),
    { ...start, atRow: true },
  );
  // Read as it comes: the range holds its rows, and whatever blank space the file has between them.
  for await (const piece of object.body) framer.push(piece);
  framer.finish(false);
  const claims = await claimsOf(env, job.id);
  if (!claims) throw new Error("IMPORT_CLAIMS is not bound");

  // Run before: some rows may be bound already, by this step.
  const marker = keys.marker(index);
  const again = (await bucket.head(marker)) !== null;
  if (!again) await bucket.put(marker, new Uint8Array(0));

  const admin = new AccountAdmin(app.accountObjects, app.store, nimOf(app), job.id, job.operator, app.metrics);
  const options: ImportOptions = {
    recheckBound: again,
    tolerateFailures: lastAttempt,
    // A migration's million rows are the app's own list: no webhook per row (docs/events.md).
    quiet: true,
    concurrency: IMPORT.bindConcurrency,
    claim: (rows) => claims.claim(rows),
    beforeNetEase: app.pacing && (() => turnAtPace(app.pacing!, `${job.id}#${index}`)),
  };
  const results = await admin.checkAndBind(rows, options);

  const added = noCounts();
  let lines = "";
  for (const result of results) {
    added.done += 1;
    added[countOf(result.outcome)] += 1;
    lines += `${JSON.stringify(result)}\n`;
  }
  await bucket.put(keys.result(index), lines, { httpMetadata: { contentType: "application/x-ndjson" } });
  const now = Date.now();
  const progress: ImportProgress = {
    counts: addCounts(soFar.counts, added),
    stepsDone: index + 1,
    steps: job.starts.length,
    startedAt: soFar.startedAt,
    updatedAt: now,
    ...(index + 1 === job.starts.length ? { finishedAt: now } : {}),
  };
  await bucket.put(keys.progress, JSON.stringify(progress), { httpMetadata: { contentType: "application/json" } });
  // The rows' audit line, one per step (each row is in its uid's history, and in the results).
  logLine(added.failed > 0 ? "warn" : "info", {
    event: "admin_change",
    who: job.operator,
    what: "import",
    import: job.id,
    step: index + 1,
    outcome: again ? "done_again" : "done",
    ...added,
  });
  app.metrics.record("admin_change", ["import", added.failed > 0 ? "failed_rows" : "done"], now - stepStarted);
  return added;
}

/** Waits for a turn at the app's creation pace; sign-ups come first, so a refusal waits and asks again. */
async function turnAtPace(pacing: CreatePacing, who: string): Promise<void> {
  for (;;) {
    try {
      // Not booked: the import must never hold a turn a sign-up could have.
      return await pacing.acquire(`import:${who}`, "", false);
    } catch (error) {
      if (!(error instanceof DomainError && error.kind === "creation_queue_full")) throw error;
      await new Promise((resolve) => setTimeout(resolve, (error.retryAfter ?? 1) * 1000));
    }
  }
}
