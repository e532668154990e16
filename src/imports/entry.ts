/**
 * The import Workflow's class, exported by the Worker's entry (wrangler.jsonc binds it as IMPORTS).
 * Its work (`workflow.ts`, with the admin actions and NetEase's server API it uses) is imported on
 * the instance's first run, so an isolate that only issues tokens never compiles it.
 */

import { WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import type { Env } from "../env.ts";
import type { ImportCounts } from "./files.ts";
import type { ImportJob } from "./workflow.ts";

/** Imports an uploaded file of uid/accid rows, a step per `IMPORT.rowsPerStep` rows (docs/admin.md). */
export class ImportWorkflow extends WorkflowEntrypoint<Env, ImportJob> {
  override async run(event: Readonly<WorkflowEvent<ImportJob>>, step: WorkflowStep): Promise<ImportCounts> {
    const { runImport } = await import("./workflow.ts");
    return runImport(this.env, event.payload, step);
  }
}
