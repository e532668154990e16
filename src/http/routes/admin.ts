/**
 * The admin API under /admin/v1: operator levers on accounts, and their history. Off (404 for every
 * path) unless ADMIN_TOKEN or Cloudflare Access (ACCESS_TEAM_DOMAIN, ACCESS_AUD) is set. Who may call:
 *
 * - an operator signed in through **Cloudflare Access**: the `Cf-Access-Jwt-Assertion` Access adds
 *   is verified here (src/admin/access.ts); the operator's email goes into the audit trail;
 * - the holder of **ADMIN_TOKEN**, as `Authorization: Bearer <ADMIN_TOKEN>`, checked by Hono's
 *   `bearerAuth` (constant-time comparison of SHA-256 digests, so not even the token's length leaks).
 *
 * A present assertion is the credential: an invalid one is refused even beside a valid token. Every
 * refusal (missing, malformed or wrong) is the same 401, so nothing tells them apart. A
 * state-changing request a browser sends from another origin is refused (403 `forbidden`) before
 * any credential is looked at: behind Access the browser carries the operator's Access cookie, so a
 * page elsewhere could otherwise act in the operator's name.
 */

import { type Context, Hono } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import * as v from "valibot";
import type { HistoryPage } from "../../accounts/object/results.ts";
import type { AccountRecord } from "../../accounts/record.ts";
import { ACCESS_ASSERTION_HEADER, AccessRefused } from "../../admin/access.ts";
import { AccountAdmin, type NumberedRow } from "../../admin/actions.ts";
import { discard, listDeadLetters, redeliver } from "../../admin/dead-letters.ts";
import { metricsSummary } from "../../admin/metrics-summary.ts";
import {
  bindRequestSchema,
  blockRequestSchema,
  deadLetterQuerySchema,
  describeIssues,
  emptyRequestSchema,
  eventIdSchema,
  historyQuerySchema,
  importRequestSchema,
  lookupQuerySchema,
  revokeRequestSchema,
  uidSchema,
} from "../../contract/requests.ts";
import type { AdminAccount } from "../../contract/responses.ts";
import { DEFAULT_APP, LIMITS } from "../../core/constants.ts";
import { DomainError } from "../../core/errors.ts";
import { logLine } from "../../core/log.ts";
import { readinessOf } from "../../readiness.ts";
import type { AppRuntime } from "../../runtime.ts";
import { accessOf, nimOf } from "../../services.ts";
import { KeysUnavailable } from "../../session/jws.ts";
import { jsonBody } from "../body-check.ts";
import type { AppEnv } from "../context.ts";
import { ApiError, errors, storageFailure } from "../errors.ts";
import { addLogFields } from "../frame.ts";
import { mediaType, readBodyText, requireMediaType } from "../json-body.ts";
import { importRoutes } from "./imports.ts";

/** Routes under /admin/v1. */
export const adminRoutes = new Hono<AppEnv>();

const ADMIN_CHALLENGE = 'Bearer realm="admin"';

/** The operator named for changes made with the shared ADMIN_TOKEN. */
export const ADMIN_TOKEN_OPERATOR = "admin token";

/** The 401 for a missing or wrong credential. Deliberately the same for every case. */
function adminUnauthorized(detail: string): never {
  throw errors.unauthorized("Admin authorization required.", ADMIN_CHALLENGE, detail);
}

/** Hono's bearer check for each runtime's ADMIN_TOKEN, built once (it digests the token). */
const adminTokenChecks = new WeakMap<object, ReturnType<typeof bearerAuth<AppEnv>>>();

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

adminRoutes.use(async function sameOrigin(c, next) {
  const runtime = c.get("runtime");
  const { config } = runtime;
  const access = accessOf(runtime);
  // Where the admin API is off, every path is 404 (below), cross-origin or not.
  if (SAFE_METHODS.has(c.req.method) || (!config.adminToken && !access)) return next();
  // Browsers send Origin on every POST, PUT and DELETE, and Sec-Fetch-Site on every request; a tool such as
  // curl sends neither, and is not a browser carrying someone's cookie.
  const origin = c.req.header("Origin");
  const site = c.req.header("Sec-Fetch-Site");
  const own = new URL(c.req.url).origin;
  if ((origin !== undefined && origin !== own) || (site !== undefined && site !== "same-origin" && site !== "none")) {
    throw errors.forbidden(
      "Admin changes are accepted from this service's own pages only.",
      "cross-origin admin change",
    );
  }
  await next();
});

adminRoutes.use(async function adminAuth(c, next) {
  const runtime = c.get("runtime");
  const { config } = runtime;
  const access = accessOf(runtime);
  if (!config.adminToken && !access) throw errors.notFound();
  const assertion = access && c.req.header(ACCESS_ASSERTION_HEADER);
  if (access && assertion !== undefined) {
    try {
      c.set("operator", await access.operator(assertion));
    } catch (error) {
      if (error instanceof KeysUnavailable) {
        throw new DomainError("session_keys_unavailable", { detail: `access certs: ${error.message}` });
      }
      if (error instanceof AccessRefused) adminUnauthorized(`access assertion refused: ${error.message}`);
      throw error;
    }
    addLogFields(c, { who: "access" });
    return next();
  }
  const { adminToken } = config;
  if (!adminToken) adminUnauthorized("no Access assertion");
  let check = adminTokenChecks.get(c.get("runtime"));
  if (!check) {
    check = bearerAuth<AppEnv>({
      token: adminToken,
      noAuthenticationHeader: { message: () => adminUnauthorized("no admin bearer token") },
      invalidAuthenticationHeader: { message: () => adminUnauthorized("authorization is not 'Bearer <token>'") },
      invalidToken: { message: () => adminUnauthorized("wrong admin token") },
    });
    adminTokenChecks.set(c.get("runtime"), check);
  }
  c.set("operator", ADMIN_TOKEN_OPERATOR);
  return check(c, next);
});

/**
 * The operator routes over one app's accounts, mounted twice: at `/admin/v1/…` for the home app, and
 * at `/admin/v1/apps/{app}/…` for any app (404 `unknown_app` for a name the deployment does not serve).
 */
const accountRoutes = new Hono<AppEnv>();

/** The app a request is about: the one its path names, or the home app. */
function appOf(c: Context<AppEnv>): AppRuntime {
  const name = c.req.param("app");
  const runtime = c.get("runtime");
  const app = name === undefined ? runtime.app() : runtime.namedApp(name);
  if (app.config.name !== DEFAULT_APP) addLogFields(c, { app: app.config.name });
  return app;
}

// The app before anything else of the request (a body of up to 256 KiB, its schema): a name the
// deployment does not serve is 404 `unknown_app` whatever else is wrong.
accountRoutes.use(async function knownApp(c, next) {
  appOf(c);
  await next();
});

function admin(c: Context<AppEnv>): AccountAdmin {
  const app = appOf(c);
  const { accountObjects, store, metrics } = app;
  return new AccountAdmin(accountObjects, store, nimOf(app), c.get("requestId"), c.get("operator"), metrics);
}

function uidParam(c: Context<AppEnv>): string {
  const uid = c.req.param("uid");
  const schema = uidSchema();
  const result = v.safeParse(schema, uid);
  if (!result.success) throw errors.invalidRequest(describeIssues(schema, result.issues));
  return result.output;
}

function query<S extends v.GenericSchema>(c: Context<AppEnv>, schema: S): v.InferOutput<S> {
  const result = v.safeParse(schema, c.req.query());
  if (!result.success) throw errors.invalidRequest(describeIssues(schema, result.issues));
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

accountRoutes.post("/accounts/import", async (c) => {
  const text = await readBodyText(c.req.raw, LIMITS.maxImportBodyBytes);
  requireMediaType(c.req.raw, ["application/json", "application/x-ndjson"]);
  const rows = parseImportBody(text, mediaType(c.req.raw));
  const result = await admin(c).importRows(rows);
  return c.json(result, 200, noStore);
});

// Files of stock accounts, imported by a Workflow (routes/imports.ts).
accountRoutes.route("/imports", importRoutes(appOf));

/** Who the credential names, and so who the audit trail will name: the console's sign-in check. */
adminRoutes.get("/operator", (c) => {
  const via = c.get("operator") === ADMIN_TOKEN_OPERATOR ? "admin_token" : "access";
  return c.json({ operator: c.get("operator"), via }, 200, noStore);
});

/**
 * Every readiness check with its outcome and latency (`/readyz` tells anyone the status only): which
 * issuer's keys failed and why, whether NetEase refused the app secret. 200 when all pass, else 503.
 */
adminRoutes.get("/ready", async (c) => {
  const readiness = await readinessOf(c.get("runtime"));
  return c.json(readiness, readiness.failed.length ? 503 : 200, noStore);
});

/**
 * The last day's metrics, read back from Analytics Engine (docs/operations.md): `{configured:
 * false}` until ANALYTICS_ACCOUNT_ID and ANALYTICS_READ_TOKEN are set; each query's rows, or why
 * it failed, otherwise.
 */
adminRoutes.get("/metrics", async (c) => {
  const { analytics } = c.get("runtime").config;
  if (!analytics) return c.json({ configured: false }, 200, noStore);
  return c.json({ configured: true, window: "24h", queries: await metricsSummary(analytics) }, 200, noStore);
});

/**
 * The events that exhausted their delivery attempts (docs/events.md), in the order of their ids;
 * `configured` says whether events are on (those parked before they were switched off still show).
 */
adminRoutes.get("/events/dead-letters", async (c) => {
  const { limit, cursor } = query(c, deadLetterQuerySchema());
  const { events, adminFiles } = c.get("runtime").config;
  if (!adminFiles) return c.json({ configured: false, deadLetters: [], cursor: null }, 200, noStore);
  let page: Awaited<ReturnType<typeof listDeadLetters>>;
  try {
    page = await listDeadLetters(adminFiles, limit, cursor);
  } catch (error) {
    // R2 refuses a cursor it did not give; without one, the bucket itself failed.
    if (cursor !== undefined) throw errors.invalidRequest("cursor must be the cursor of the previous page.");
    throw bucketFailure(error);
  }
  return c.json({ configured: events !== undefined, ...page }, 200, noStore);
});

const bucketFailure = (error: unknown) => storageFailure("dead letters", error);

/** A parked event's id from the path (400 if it cannot be one). */
function parkedId(c: Context<AppEnv>): string {
  const schema = eventIdSchema();
  const result = v.safeParse(schema, c.req.param("id"));
  if (!result.success) throw errors.invalidRequest(describeIssues(schema, result.issues));
  addLogFields(c, { event_id: result.output });
  return result.output;
}

const NO_SUCH_EVENT = "No undelivered event has this id.";

/** Queues a parked event again, under its own id (a receiver that has it drops the repeat). 404 while events are off. */
adminRoutes.post("/events/dead-letters/:id/redeliver", jsonBody(emptyRequestSchema), async (c) => {
  const id = parkedId(c);
  const { events } = c.get("runtime").config;
  if (!events) throw errors.notFound("Events are off: EVENTS_WEBHOOK_URL is not set.");
  const outcome = await redeliver(events, id).catch((error: unknown) => {
    throw bucketFailure(error);
  });
  if (outcome === "missing") throw errors.notFound(NO_SUCH_EVENT);
  if (outcome === "unreadable") {
    throw new ApiError("conflict", "What is parked under this id is not an event this service wrote; drop it.");
  }
  logLine("info", { event: "dead_letter_redelivered", id, operator: c.get("operator") });
  return c.json({ id, queued: true }, 202, noStore);
});

/** Drops a parked event for good (also while events are off). */
adminRoutes.delete("/events/dead-letters/:id", async (c) => {
  const id = parkedId(c);
  const { adminFiles } = c.get("runtime").config;
  if (!adminFiles) throw errors.notFound(NO_SUCH_EVENT);
  const found = await discard(adminFiles, id).catch((error: unknown) => {
    throw bucketFailure(error);
  });
  if (!found) throw errors.notFound(NO_SUCH_EVENT);
  logLine("info", { event: "dead_letter_dropped", id, operator: c.get("operator") });
  return c.body(null, 204, noStore);
});

/**
 * Finds the uid of an accid (derived or stock) or of an RTC uid, through KV's reverse mappings, and
 * answers its committed record as `GET /accounts/{uid}` does. A mapping written in the last minute
 * at another location may not be seen yet (KV), so a miss says "not found", not "never existed".
 */
accountRoutes.get("/accounts", async (c) => {
  const { accid, rtcUid } = query(c, lookupQuerySchema());
  const { store } = appOf(c);
  const uid = accid !== undefined ? await store.uidForAccid(accid) : await store.uidForRtcUid(rtcUid!);
  if (uid === null) throw new DomainError("account_not_found", { detail: "no uid maps to it" });
  return c.json(view(uid, await admin(c).get(uid)), 200, noStore);
});

/** The uid's audit trail, newest first: `limit` entries (default 20) older than the entry `before`. */
accountRoutes.get("/accounts/:uid/history", async (c) => {
  const uid = uidParam(c);
  const { limit, before } = query(c, historyQuerySchema());
  const page: HistoryPage = await appOf(c).accountObjects.history(uid, limit, before);
  return c.json({ uid, ...page }, 200, noStore);
});

accountRoutes.get("/accounts/:uid", async (c) => {
  const uid = uidParam(c);
  return c.json(view(uid, await admin(c).get(uid)), 200, noStore);
});

accountRoutes.put("/accounts/:uid", jsonBody(bindRequestSchema), async (c) => {
  const uid = uidParam(c);
  const { value, replayed } = await admin(c).bind(uid, c.req.valid("json").accid);
  const { record, outcome } = value;
  return c.json({ ...view(uid, record), outcome }, outcome === "bound" ? 201 : 200, operationHeaders(replayed));
});

accountRoutes.post("/accounts/:uid/block", jsonBody(blockRequestSchema), async (c) => {
  const uid = uidParam(c);
  const { kick = true } = c.req.valid("json");
  const { value, replayed } = await admin(c).block(uid, kick);
  return c.json(view(uid, value), 200, operationHeaders(replayed));
});

accountRoutes.post("/accounts/:uid/unblock", jsonBody(emptyRequestSchema), async (c) => {
  const uid = uidParam(c);
  const { value, replayed } = await admin(c).unblock(uid);
  return c.json(view(uid, value), 200, operationHeaders(replayed));
});

accountRoutes.post("/accounts/:uid/rotate", jsonBody(emptyRequestSchema), async (c) => {
  const uid = uidParam(c);
  const { value, replayed } = await admin(c).rotate(uid);
  return c.json({ ...view(uid, value.record), previousAccid: value.previousAccid }, 200, operationHeaders(replayed));
});

accountRoutes.post("/accounts/:uid/revoke", jsonBody(revokeRequestSchema), async (c) => {
  const uid = uidParam(c);
  const { kick = true } = c.req.valid("json");
  const { value, replayed } = await admin(c).revoke(uid, kick);
  return c.json({ ...view(uid, value.record), kick: value.kick }, 200, operationHeaders(replayed));
});

/**
 * The NetEase apps this deployment serves, in order, for the console's app switcher: each one's name,
 * app key (public: every client has it) and server API version, and which one the paths without an
 * app name serve.
 */
adminRoutes.get("/apps", (c) => {
  const runtime = c.get("runtime");
  const home = runtime.app();
  const apps = runtime.apps.map(({ config }) => ({
    name: config.name,
    appKey: config.appKey,
    apiVersion: config.apiVersion,
    home: config.name === home.config.name,
  }));
  return c.json({ apps }, 200, noStore);
});

adminRoutes.route("/", accountRoutes);
adminRoutes.route("/apps/:app", accountRoutes);

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
  const schema = importRequestSchema();
  const result = v.safeParse(schema, rows);
  if (!result.success) throw errors.invalidRequest(describeIssues(schema, result.issues));
  return rows;
}
