/**
 * The admin API under /admin/v1: operator levers on accounts. Off (404 for every path) unless
 * ADMIN_TOKEN is set; then every request needs `Authorization: Bearer <ADMIN_TOKEN>`, checked by
 * Hono's `bearerAuth` (constant-time comparison of SHA-256 digests, so not even the token's length
 * leaks). A missing, malformed or wrong token gets the same 401, so nothing tells them apart.
 */

import { type Context, Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import * as v from "valibot";
import { AccountAdmin, type NumberedRow } from "../accounts/admin.ts";
import { LIMITS } from "../constants.ts";
import {
  type AdminAccount,
  bindRequestSchema,
  blockRequestSchema,
  describeIssues,
  emptyRequestSchema,
  importRequestSchema,
  revokeRequestSchema,
  uidSchema,
} from "../contract.ts";
import { errors } from "../errors.ts";
import type { AccountRecord } from "../records/record.ts";
import type { AppEnv } from "../runtime.ts";
import { jsonBody, limitBody, mediaType, readBodyText, requireMediaType } from "./json-body.ts";

/** Routes under /admin/v1. */
export const adminRoutes = new Hono<AppEnv>();

const ADMIN_CHALLENGE = 'Bearer realm="admin"';

/** The 401 for a missing or wrong admin token. Deliberately the same for both. */
function adminUnauthorized(detail: string): never {
  throw errors.unauthorized("Admin authorization required.", ADMIN_CHALLENGE, detail);
}

/** Hono's bearer check for each runtime's ADMIN_TOKEN, built once (it digests the token). */
const adminTokenChecks = new WeakMap<object, ReturnType<typeof bearerAuth<AppEnv>>>();

adminRoutes.use(async function adminAuth(c, next) {
  const { adminToken } = c.var.runtime.config;
  if (!adminToken) throw errors.notFound();
  let check = adminTokenChecks.get(c.var.runtime);
  if (!check) {
    check = bearerAuth<AppEnv>({
      token: adminToken,
      noAuthenticationHeader: { message: () => adminUnauthorized("no admin bearer token") },
      invalidAuthenticationHeader: { message: () => adminUnauthorized("authorization is not 'Bearer <token>'") },
      invalidToken: { message: () => adminUnauthorized("wrong admin token") },
    });
    adminTokenChecks.set(c.var.runtime, check);
  }
  return check(c, next);
});

function admin(c: Context<AppEnv>): AccountAdmin {
  const { accountObjects, store, nim, lookup } = c.var.runtime;
  return new AccountAdmin(accountObjects, store, nim, lookup, c.var.requestId);
}

function uidParam(c: Context<AppEnv>): string {
  const uid = c.req.param("uid");
  const result = v.safeParse(uidSchema, uid);
  if (!result.success) throw errors.invalidRequest(describeIssues(uidSchema, result.issues));
  return result.output;
}

function view(uid: string, record: AccountRecord): AdminAccount {
  const { accid, status, createdAt, updatedAt, generation, rtcUid, revision, revokedBefore } = record;
  return {
    uid,
    accid,
    status,
    createdAt,
    updatedAt,
    generation,
    ...(rtcUid === undefined ? {} : { rtcUid }),
    ...(revision === undefined ? {} : { revision }),
    ...(revokedBefore === undefined ? {} : { revokedBefore }),
  };
}

const noStore = { "Cache-Control": "no-store" };

/**
 * Headers of an operator action's answer. `Idempotent-Replayed: true` marks the answer to a
 * repeated X-Request-Id: nothing was done now, and the record shown is as it was then.
 */
function operationHeaders(replayed: boolean): Record<string, string> {
  return replayed ? { ...noStore, "Idempotent-Replayed": "true" } : noStore;
}

adminRoutes.post("/accounts/import", limitBody(LIMITS.maxImportBodyBytes), async (c) => {
  requireMediaType(c, ["application/json", "application/x-ndjson"]);
  const rows = parseImportBody(await readBodyText(c), mediaType(c));
  const result = await admin(c).importRows(rows);
  return c.json(result, 200, noStore);
});

adminRoutes.get("/accounts/:uid", async (c) => {
  const uid = uidParam(c);
  return c.json(view(uid, await admin(c).get(uid)), 200, noStore);
});

adminRoutes.put(
  "/accounts/:uid",
  jsonBody(() => bindRequestSchema),
  async (c) => {
    const uid = uidParam(c);
    const { value, replayed } = await admin(c).bind(uid, c.req.valid("json").accid);
    const { record, outcome } = value;
    return c.json({ ...view(uid, record), outcome }, outcome === "bound" ? 201 : 200, operationHeaders(replayed));
  },
);

adminRoutes.post(
  "/accounts/:uid/block",
  jsonBody(() => blockRequestSchema),
  async (c) => {
    const uid = uidParam(c);
    const { kick = true } = c.req.valid("json");
    const { value, replayed } = await admin(c).block(uid, kick);
    return c.json(view(uid, value), 200, operationHeaders(replayed));
  },
);

adminRoutes.post(
  "/accounts/:uid/unblock",
  jsonBody(() => emptyRequestSchema),
  async (c) => {
    const uid = uidParam(c);
    const { value, replayed } = await admin(c).unblock(uid);
    return c.json(view(uid, value), 200, operationHeaders(replayed));
  },
);

adminRoutes.post(
  "/accounts/:uid/rotate",
  jsonBody(() => emptyRequestSchema),
  async (c) => {
    const uid = uidParam(c);
    const { value, replayed } = await admin(c).rotate(uid);
    return c.json({ ...view(uid, value.record), previousAccid: value.previousAccid }, 200, operationHeaders(replayed));
  },
);

adminRoutes.post(
  "/accounts/:uid/revoke",
  jsonBody(() => revokeRequestSchema),
  async (c) => {
    const uid = uidParam(c);
    const { kick = true } = c.req.valid("json");
    const { value, replayed } = await admin(c).revoke(uid, kick);
    return c.json({ ...view(uid, value.record), kick: value.kick }, 200, operationHeaders(replayed));
  },
);

/**
 * Rows from a JSON array or NDJSON, each with the number it is reported under: its place in the
 * array, or its line in the NDJSON text (blank lines are skipped but still counted, so the number
 * is the line an operator finds in the file). A line that is not JSON becomes a string row
 * (reported invalid).
 */
function parseImportBody(text: string, type: string): NumberedRow[] {
  let rows: NumberedRow[];
  if (type === "application/x-ndjson") {
    rows = text.split(/\r?\n/).flatMap((line, index) => {
      if (line.trim() === "") return [];
      try {
        return [{ line: index + 1, row: JSON.parse(line) as unknown }];
      } catch {
        return [{ line: index + 1, row: line }];
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
    rows = value.map((row: unknown, index) => ({ line: index + 1, row }));
  }
  const result = v.safeParse(importRequestSchema, rows);
  if (!result.success) throw errors.invalidRequest(describeIssues(importRequestSchema, result.issues));
  return rows;
}
