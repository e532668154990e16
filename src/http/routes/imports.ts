/**
 * File imports under /admin/v1/imports (and /admin/v1/apps/{app}/imports): a file of stock accounts
 * of any size, streamed into the operators' bucket and bound by the import Workflow (src/imports/).
 * Mounted inside the admin routes, so the same credentials, same-origin rule and app look-up apply.
 *
 * - `POST /imports`: the file (NDJSON or a JSON array) → 202 with the import's id; its framing is
 *   checked as it streams in (400 naming the line), its rows one by one by the Workflow.
 * - `GET /imports/{id}`: status, counts, rate and time left; `GET /imports/{id}/results`: every row's
 *   outcome as NDJSON, in line order, as far as the import has got.
 * - `POST /imports/{id}/pause`, `…/resume`, `…/cancel`.
 */

import { type Context, Hono } from "hono";
import * as v from "valibot";
import { describeIssues, IMPORT_ID_PATTERN, importListQuerySchema } from "../../contract/requests.ts";
import type { ImportStatus, ImportStatusName } from "../../contract/responses.ts";
import { logLine } from "../../core/log.ts";
import {
  ImportFileRefused,
  type ImportManifest,
  type ImportProgress,
  importIndex,
  importKeys,
  newImportId,
  noCounts,
  storeImportFile,
} from "../../imports/files.ts";
import type { ImportFormat } from "../../imports/rows.ts";
import type { ImportJob } from "../../imports/workflow.ts";
import type { AppRuntime } from "../../runtime.ts";
import type { AppEnv } from "../context.ts";
import { ApiError, errors, storageFailure } from "../errors.ts";
import { addLogFields } from "../frame.ts";
import { mediaType, requireMediaType } from "../json-body.ts";

/** The import routes; `appOf` is the admin routes' app look-up (the path's app, or the home app). */
export function importRoutes(appOf: (c: Context<AppEnv>) => AppRuntime): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.post("/", async (c) => {
    const { bucket, workflow } = importsOf(c);
    const app = appOf(c).config.name;
    requireMediaType(c.req.raw, ["application/x-ndjson", "application/json"]);
    const format: ImportFormat = mediaType(c.req.raw) === "application/json" ? "json" : "ndjson";
    if (!c.req.raw.body) throw errors.invalidRequest("Send the file as the body.");
    const id = newImportId();
    const keys = importKeys(id);
    addLogFields(c, { import: id });
    let stored: Awaited<ReturnType<typeof storeImportFile>>;
    try {
      stored = await storeImportFile(bucket, keys.file, c.req.raw.body, format);
    } catch (error) {
      if (error instanceof ImportFileRefused) throw errors.invalidRequest(error.message);
      throw bucketFailure(error);
    }
    const manifest: ImportManifest = {
      id,
      app,
      format,
      rows: stored.rows,
      bytes: stored.bytes,
      operator: c.get("operator"),
      createdAt: new Date().toISOString(),
    };
    const job: ImportJob = { id, app, operator: manifest.operator, format, bytes: stored.bytes, starts: stored.starts };
    const indexKey = importIndex.key(app, id, Date.parse(manifest.createdAt));
    try {
      await bucket.put(keys.manifest, JSON.stringify(manifest), { httpMetadata: { contentType: "application/json" } });
      await bucket.put(indexKey, new Uint8Array(0));
      await workflow.create({ id, params: job });
    } catch (error) {
      // Kept if the instance was made after all (an answer lost on the way back): it will run.
      if (!(await instanceStatus(workflow, id).catch(() => undefined))) {
        await bucket.delete([keys.file, keys.manifest, indexKey]).catch(() => undefined);
      }
      throw bucketFailure(error);
    }
    logLine("info", { event: "import_started", import: id, app, rows: stored.rows, operator: manifest.operator });
    const location = new URL(`${c.req.path.replace(/\/$/, "")}/${id}`, c.req.url).pathname;
    return c.json({ id, app, status: "queued", rows: stored.rows, bytes: stored.bytes }, 202, {
      ...noStore,
      Location: location,
    });
  });

  // The app's latest imports, newest first (ids sort by age).
  routes.get("/", async (c) => {
    const { bucket, workflow } = importsOf(c);
    const app = appOf(c).config.name;
    const query = v.safeParse(importListQuerySchema(), c.req.query());
    if (!query.success) throw errors.invalidRequest(describeIssues(importListQuerySchema(), query.issues));
    const { limit } = query.output;
    const views = await (async () => {
      const listed = await bucket.list({ prefix: importIndex.prefix(app), limit });
      const ids = listed.objects
        .map((object) => importIndex.idOf(object.key))
        .filter((id) => IMPORT_ID_PATTERN.test(id));
      const manifests = await Promise.all(ids.map((id) => readManifest(bucket, id)));
      return Promise.all(
        manifests.flatMap((manifest) => (manifest?.app === app ? [currentView(bucket, workflow, manifest)] : [])),
      );
    })().catch((error: unknown) => {
      throw bucketFailure(error);
    });
    return c.json({ imports: views }, 200, noStore);
  });

  routes.get("/:id", async (c) => {
    const { bucket, workflow } = importsOf(c);
    const manifest = await manifestOf(c, bucket, appOf(c));
    const view = await currentView(bucket, workflow, manifest).catch((error: unknown) => {
      throw bucketFailure(error);
    });
    return c.json(view, 200, noStore);
  });

  routes.get("/:id/results", async (c) => {
    const { bucket } = importsOf(c);
    const manifest = await manifestOf(c, bucket, appOf(c));
    const prefix = importKeys(manifest.id).results;
    let cursor: string | undefined;
    let pending: string[] = [];
    let more = true;
    // Each step's part in turn (their keys sort in step order), read as it is sent.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        while (pending.length === 0 && more) {
          const listed = await bucket.list({ prefix, ...(cursor === undefined ? {} : { cursor }) });
          pending = listed.objects.map((object) => object.key);
          more = listed.truncated;
          cursor = listed.truncated ? listed.cursor : undefined;
        }
        const key = pending.shift();
        if (key === undefined) return controller.close();
        const part = await bucket.get(key);
        if (part) controller.enqueue(new Uint8Array(await part.arrayBuffer()));
      },
    });
    return c.body(body, 200, {
      ...noStore,
      "Content-Type": "application/x-ndjson",
      "Content-Disposition": `attachment; filename="${manifest.id}-results.ndjson"`,
    });
  });

  for (const action of ["pause", "resume", "cancel"] as const) {
    routes.post(`/:id/${action}`, async (c) => {
      const { bucket, workflow } = importsOf(c);
      const manifest = await manifestOf(c, bucket, appOf(c));
      const status = await (async () => {
        const before = await instanceStatus(workflow, manifest.id);
        if (!before) {
          throw new ApiError("conflict", "Workflows no longer keeps this import's run; import the file again.");
        }
        if (!ACTIONABLE[action].includes(before.status)) {
          throw new ApiError(
            "conflict",
            `This import is ${statusName(before.status)}; it cannot be ${PAST[action]} now.`,
          );
        }
        const instance = await workflow.get(manifest.id);
        await (action === "cancel" ? instance.terminate() : instance[action]());
        return (await instance.status()).status;
      })().catch((error: unknown) => {
        throw bucketFailure(error);
      });
      logLine("info", { event: `import_${PAST[action]}`, import: manifest.id, operator: c.get("operator") });
      return c.json({ id: manifest.id, status: statusName(status) }, 200, noStore);
    });
  }

  return routes;
}

/** The Workflow statuses each action applies to. */
const ACTIONABLE: Record<"pause" | "resume" | "cancel", readonly string[]> = {
  pause: ["queued", "running", "waiting"],
  resume: ["paused"],
  cancel: ["queued", "running", "waiting", "paused", "waitingForPause"],
};

const PAST = { pause: "paused", resume: "resumed", cancel: "cancelled" } as const;

/** The Workflow's status in the import's words: `terminated` is `cancelled`; `waiting` (a step's retry) is `running`. */
function statusName(status: InstanceStatus["status"]): ImportStatusName {
  switch (status) {
    case "waiting":
    case "running":
      return "running";
    case "waitingForPause":
      return "pausing";
    case "terminated":
      return "cancelled";
    case "queued":
    case "paused":
    case "complete":
    case "errored":
      return status;
    default:
      // rollingBack (the import registers no rollback), unknown.
      return "unknown";
  }
}

/** What `GET /imports/{id}` answers. */
export function statusView(
  manifest: ImportManifest,
  progress: ImportProgress | undefined,
  instance: InstanceStatus | undefined,
  now: number,
): ImportStatus {
  const counts = progress?.counts ?? noCounts();
  const elapsed = progress ? (progress.updatedAt - progress.startedAt) / 1000 : 0;
  const rate = elapsed > 0 ? counts.done / elapsed : 0;
  // Its run no longer kept by Workflows: finished if its last step said so.
  const status = instance ? statusName(instance.status) : progress?.finishedAt !== undefined ? "complete" : "unknown";
  const left = manifest.rows - counts.done;
  return {
    id: manifest.id,
    app: manifest.app,
    status,
    rows: manifest.rows,
    counts,
    operator: manifest.operator,
    createdAt: manifest.createdAt,
    startedAt: progress ? new Date(progress.startedAt).toISOString() : null,
    updatedAt: progress ? new Date(progress.updatedAt).toISOString() : null,
    finishedAt: progress?.finishedAt === undefined ? null : new Date(progress.finishedAt).toISOString(),
    rowsPerSecond: Math.round(rate * 10) / 10,
    secondsLeft: status === "running" && rate > 0 ? Math.ceil(left / rate) : null,
    ...(instance?.status === "errored" && instance.error ? { error: instance.error.message } : {}),
    // `now` keeps the view a function of its inputs (tests); the age says how fresh the counts are.
    ...(progress ? { countsAgeSeconds: Math.max(0, Math.round((now - progress.updatedAt) / 1000)) } : {}),
  };
}

/** An import as it stands: its manifest, its progress and its instance's status. */
async function currentView(bucket: R2Bucket, workflow: Workflow, manifest: ImportManifest): Promise<ImportStatus> {
  const [progress, instance] = await Promise.all([
    bucket
      .get(importKeys(manifest.id).progress)
      .then((object) => (object ? (object.json() as Promise<ImportProgress>) : undefined)),
    instanceStatus(workflow, manifest.id),
  ]);
  return statusView(manifest, progress, instance, Date.now());
}

/**
 * The Workflow instance's status, or undefined once Workflows no longer keeps it: a finished run is
 * kept for a few days (3 on Workers Free, 7 on Paid by default), the import's files for good.
 */
async function instanceStatus(workflow: Workflow, id: string): Promise<InstanceStatus | undefined> {
  try {
    return await (await workflow.get(id)).status();
  } catch (error) {
    if (/not.?found/i.test(error instanceof Error ? error.message : String(error))) return undefined;
    throw error;
  }
}

async function readManifest(bucket: R2Bucket, id: string): Promise<ImportManifest | undefined> {
  const object = await bucket.get(importKeys(id).manifest);
  return object ? ((await object.json()) as ImportManifest) : undefined;
}

/** The bucket and the Workflow; 404 where imports are not set up. */
function importsOf(c: Context<AppEnv>): { bucket: R2Bucket; workflow: Workflow } {
  const { adminFiles, imports } = c.get("runtime").config;
  if (!adminFiles || !imports) {
    throw errors.notFound("File imports are off: bind the IMPORTS Workflow and the ADMIN_FILES bucket.");
  }
  return { bucket: adminFiles, workflow: imports.workflow };
}

const NO_SUCH_IMPORT = "No import has this id.";

/** The import the path names, in the path's app; 404 for any other. */
async function manifestOf(c: Context<AppEnv>, bucket: R2Bucket, app: AppRuntime): Promise<ImportManifest> {
  const id = c.req.param("id") ?? "";
  if (!IMPORT_ID_PATTERN.test(id)) throw errors.notFound(NO_SUCH_IMPORT);
  addLogFields(c, { import: id });
  const manifest = await readManifest(bucket, id).catch((error: unknown) => {
    throw bucketFailure(error);
  });
  if (!manifest || manifest.app !== app.config.name) throw errors.notFound(NO_SUCH_IMPORT);
  return manifest;
}

const bucketFailure = (error: unknown) => storageFailure("imports", error);

const noStore = { "Cache-Control": "no-store" };
