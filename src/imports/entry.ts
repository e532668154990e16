/**
 * The file import's classes, exported by the Worker's entry: the Workflow (wrangler.jsonc binds it as
 * IMPORTS) and the import's claims (IMPORT_CLAIMS). The Workflow's work (`workflow.ts`, with the
 * admin actions and NetEase's server API it uses) is imported on the instance's first run, so an
 * isolate that only issues tokens never compiles it; the claims are a few SQL statements.
 */

import { DurableObject, WorkflowEntrypoint, type WorkflowEvent, type WorkflowStep } from "cloudflare:workers";
import type { ClaimAnswer, ClaimRow } from "../admin/actions.ts";
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

/**
 * What one import's rows have claimed so far: each accid for one uid, each uid for one accid, first
 * line first. One object per import (`idFromName(<import id>)`), strongly consistent, so a row of a
 * later step never binds an accid an earlier step bound to another uid. KV could not promise that: a
 * record written a moment ago may not be read back yet, where the next step looks.
 */
export class ImportClaims extends DurableObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    ctx.storage.sql.exec(
      "CREATE TABLE IF NOT EXISTS claims (accid TEXT PRIMARY KEY, uid TEXT NOT NULL UNIQUE, line INTEGER NOT NULL)",
    );
  }

  /** Claims each row in order, in one transaction; a row claimed before by the same line (a step run again) is its own. */
  claim(rows: readonly ClaimRow[]): ClaimAnswer[] {
    const sql = this.ctx.storage.sql;
    return this.ctx.storage.transactionSync(() =>
      rows.map(({ line, uid, accid }): ClaimAnswer => {
        const byAccid = sql
          .exec<{ uid: string; line: number }>("SELECT uid, line FROM claims WHERE accid = ?", accid)
          .toArray()[0];
        if (byAccid) {
          if (byAccid.line === line) return { claimed: true };
          return byAccid.uid === uid
            ? { claimed: false, repeats: byAccid.line }
            : { claimed: false, conflicts: byAccid.line };
        }
        const byUid = sql.exec<{ line: number }>("SELECT line FROM claims WHERE uid = ?", uid).toArray()[0];
        if (byUid) return { claimed: false, conflicts: byUid.line };
        sql.exec("INSERT INTO claims (accid, uid, line) VALUES (?, ?, ?)", accid, uid, line);
        return { claimed: true };
      }),
    );
  }

  /** Forgets every claim: the import is over. */
  async forget(): Promise<void> {
    await this.ctx.storage.deleteAll();
  }
}
