/**
 * The admin API under /admin/v1: operator levers on accounts. Off (404 for every path) unless
 * ADMIN_TOKEN is set; then every request needs `Authorization: Bearer <ADMIN_TOKEN>`, compared in
 * constant time (as SHA-256 digests, so not even the token's length leaks).
 */

import { type Context, Hono } from "hono";
import { AccountAdmin } from "../accounts/admin.ts";
import { type AccountRecord, AccountStore } from "../accounts/store.ts";
import { LIMITS } from "../constants.ts";
import type { AdminAccount, BindRequest, BlockRequest } from "../contract.ts";
import { ApiError, errors } from "../errors.ts";
import { timingSafeEqualText, toHex } from "../nim/digest.ts";
import type { AppEnv } from "../runtime.ts";
import { bindRequestSchema, blockRequestSchema, emptyRequestSchema, uidSchema, validate } from "../schema.ts";
import { parseBearer } from "../session/verify.ts";
import { readBodyText, readJsonBody, requireContentType } from "./json-body.ts";
import { requireRuntime } from "./runtime-middleware.ts";

/** Routes under /admin/v1. */
export const adminRoutes = new Hono<AppEnv>();

const encoder = new TextEncoder();
const sha256 = async (text: string) => toHex(await crypto.subtle.digest("SHA-256", encoder.encode(text)));

/** The 401 for a missing or wrong admin token. Deliberately the same for both. */
export function adminUnauthorized(detail: string): ApiError {
  return new ApiError(401, "unauthorized", "Admin authorization required.", {
    headers: { "WWW-Authenticate": 'Bearer realm="admin"' },
    detail,
  });
}

adminRoutes.use(async function adminAuth(c, next) {
  const { adminToken } = requireRuntime(c).config;
  if (!adminToken) throw errors.notFound();
  const offered = parseBearer(c.req.header("Authorization"));
  if (!offered) throw adminUnauthorized("no admin bearer token");
  if (!timingSafeEqualText(await sha256(offered), await sha256(adminToken)))
    throw adminUnauthorized("wrong admin token");
  await next();
});

function admin(c: Context<AppEnv>): AccountAdmin {
  const runtime = requireRuntime(c);
  return new AccountAdmin(new AccountStore(c.env.ACCOUNTS!), runtime.nim, runtime.provisioner, c.get("requestId"));
}

function uidParam(c: Context<AppEnv>): string {
  const uid = c.req.param("uid");
  const problem = validate(uidSchema, uid, "uid");
  if (problem) throw errors.invalidRequest(problem);
  return uid!;
}

function view(uid: string, record: AccountRecord): AdminAccount {
  const { accid, status, createdAt, updatedAt, generation } = record;
  return { uid, accid, status, createdAt, updatedAt, generation };
}

const noStore = { "Cache-Control": "no-store" };

adminRoutes.post("/accounts/import", async (c) => {
  requireContentType(c, ["application/json", "application/x-ndjson"]);
  const rows = parseImportBody(await readBodyText(c), c.req.header("Content-Type") ?? "");
  const result = await admin(c).importRows(rows);
  return c.json(result, 200, noStore);
});

adminRoutes.get("/accounts/:uid", async (c) => {
  const uid = uidParam(c);
  return c.json(view(uid, await admin(c).get(uid)), 200, noStore);
});

adminRoutes.put("/accounts/:uid", async (c) => {
  const uid = uidParam(c);
  const { accid } = await readJsonBody<BindRequest>(c, bindRequestSchema);
  const { record, outcome } = await admin(c).bind(uid, accid);
  return c.json({ ...view(uid, record), outcome }, outcome === "bound" ? 201 : 200, noStore);
});

adminRoutes.post("/accounts/:uid/block", async (c) => {
  const uid = uidParam(c);
  const { kick = true } = await readJsonBody<BlockRequest>(c, blockRequestSchema);
  return c.json(view(uid, await admin(c).block(uid, kick)), 200, noStore);
});

adminRoutes.post("/accounts/:uid/unblock", async (c) => {
  const uid = uidParam(c);
  await readJsonBody(c, emptyRequestSchema);
  return c.json(view(uid, await admin(c).unblock(uid)), 200, noStore);
});

adminRoutes.post("/accounts/:uid/rotate", async (c) => {
  const uid = uidParam(c);
  await readJsonBody(c, emptyRequestSchema);
  const { record, previousAccid } = await admin(c).rotate(uid);
  return c.json({ ...view(uid, record), previousAccid }, 200, noStore);
});

/** Rows from a JSON array or NDJSON; a line that is not JSON becomes a string row (reported invalid). */
function parseImportBody(text: string, contentType: string): unknown[] {
  let rows: unknown[];
  if (/^application\/x-ndjson/i.test(contentType)) {
    rows = text
      .replace(/\r?\n$/, "")
      .split(/\r?\n/)
      .map((line) => {
        try {
          return JSON.parse(line) as unknown;
        } catch {
          return line;
        }
      });
  } else {
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      throw errors.invalidRequest("The body is not valid JSON (send a JSON array, or NDJSON as application/x-ndjson).");
    }
    if (!Array.isArray(value)) throw errors.invalidRequest("The body must be a JSON array of {uid, accid}.");
    rows = value;
  }
  if (rows.length === 0) throw errors.invalidRequest("The import is empty.");
  if (rows.length > LIMITS.maxImportRows) {
    throw errors.invalidRequest(`At most ${LIMITS.maxImportRows} rows per request; split the import.`);
  }
  return rows;
}
