/**
 * The console's metrics: the last day of the METRICS dataset, read back through Cloudflare's
 * Analytics Engine SQL API with a read-only API token (ANALYTICS_ACCOUNT_ID, ANALYTICS_READ_TOKEN).
 * The queries are fixed here (docs/operations.md points to them); nothing a caller sends becomes
 * SQL, and the dataset name is checked by config.ts to be letters, digits and `_`.
 *
 * A query that fails is reported in the answer (`ok: false` and why), not as an error of the
 * request: metrics are an aid to the operator, and the rest of the console works without them.
 */

import type { AnalyticsSettings } from "../config.ts";
import { isFetchTimeout } from "../core/errors.ts";
import { COUNT_SQL } from "../core/metrics.ts";

/** One query's rows (column → value), or why there are none. */
export type QueryOutcome = { ok: true; rows: Record<string, string | number>[] } | { ok: false; error: string };

/**
 * The app each point is about (blob4; empty for the app named `default`, and for every point written
 * before there were apps): every query groups by it.
 */
const APP = "if(blob4 = '', 'default', blob4) AS app";

/** The queries the console shows, by name, over the last 24 hours, per app. Counts are weighted by sampling (Analytics Engine's and ours, core/metrics.ts). */
export const SUMMARY_QUERIES: Readonly<Record<string, (dataset: string) => string>> = {
  tokens: (d) =>
    `SELECT ${APP}, blob2 AS kind, SUM(${COUNT_SQL}) AS count FROM ${d} ` +
    `WHERE blob1 = 'token_issued' AND timestamp > NOW() - INTERVAL '1' DAY GROUP BY app, kind ORDER BY app, kind`,
  accountsCreated: (d) =>
    `SELECT ${APP}, SUM(${COUNT_SQL}) AS count, SUM(${COUNT_SQL} * double1) / SUM(${COUNT_SQL}) AS avgMs ` +
    `FROM ${d} WHERE blob1 = 'account_created' AND timestamp > NOW() - INTERVAL '1' DAY GROUP BY app ORDER BY app`,
  neteaseFailures: (d) =>
    `SELECT ${APP}, blob2 AS call, blob3 AS code, SUM(${COUNT_SQL}) AS count FROM ${d} ` +
    `WHERE blob1 = 'netease_failure' AND timestamp > NOW() - INTERVAL '1' DAY ` +
    "GROUP BY app, call, code ORDER BY count DESC LIMIT 20",
  loginCallback: (d) =>
    `SELECT ${APP}, blob2 AS responseCode, blob3 AS verdict, SUM(${COUNT_SQL}) AS count FROM ${d} ` +
    `WHERE blob1 = 'login_callback' AND timestamp > NOW() - INTERVAL '1' DAY ` +
    "GROUP BY app, responseCode, verdict ORDER BY count DESC LIMIT 20",
  adminChanges: (d) =>
    `SELECT ${APP}, blob2 AS operation, blob3 AS outcome, SUM(${COUNT_SQL}) AS count FROM ${d} ` +
    `WHERE blob1 = 'admin_change' AND timestamp > NOW() - INTERVAL '1' DAY ` +
    "GROUP BY app, operation, outcome ORDER BY count DESC LIMIT 20",
};

const TIMEOUT_MS = 5_000;
const MAX_ROWS = 50;

/** Runs every summary query at once; each outcome stands on its own. */
export async function metricsSummary(
  settings: AnalyticsSettings,
  fetchImpl: typeof fetch = (input, init) => fetch(input, init),
): Promise<Record<string, QueryOutcome>> {
  const entries = await Promise.all(
    Object.entries(SUMMARY_QUERIES).map(
      async ([name, query]) =>
        [name, await runQuery(settings, `${query(settings.dataset)} FORMAT JSON`, fetchImpl)] as const,
    ),
  );
  return Object.fromEntries(entries);
}

async function runQuery(settings: AnalyticsSettings, sql: string, fetchImpl: typeof fetch): Promise<QueryOutcome> {
  let response: Response;
  try {
    response = await fetchImpl(settings.sqlUrl, {
      method: "POST",
      headers: { Authorization: `Bearer ${settings.readToken}`, "Content-Type": "text/plain" },
      body: sql,
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
  } catch (error) {
    const timedOut = isFetchTimeout(error);
    return { ok: false, error: timedOut ? "timeout" : "network error" };
  }
  if (!response.ok) {
    await response.body?.cancel();
    // 401/403: the token is wrong or lacks Account Analytics: Read; 422: the dataset has no data yet.
    return { ok: false, error: `HTTP ${response.status}` };
  }
  let answer: unknown;
  try {
    answer = await response.json();
  } catch {
    return { ok: false, error: "answer is not JSON" };
  }
  const data = (answer as { data?: unknown }).data;
  if (!Array.isArray(data)) return { ok: false, error: "answer has no data" };
  return { ok: true, rows: data.slice(0, MAX_ROWS).map(plainRow) };
}

/** A row with only string and finite number values (the API answers UInt64 sums as strings). */
function plainRow(row: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  if (typeof row !== "object" || row === null) return out;
  for (const [key, value] of Object.entries(row)) {
    if (typeof value === "number" && Number.isFinite(value)) out[key] = value;
    else if (typeof value === "string") out[key] = value.slice(0, 200);
  }
  return out;
}
