/**
 * Metrics as Workers Analytics Engine data points (binding METRICS, optional: without it nothing is
 * written and nothing fails). Every point has the same shape, so one SQL query shape reads them all:
 *
 *   index1 / blob1  the event (also the sampling key)
 *   blob2, blob3    two dimensions from closed sets (below)
 *   blob4           the NetEase app's name (NIM_APPS); absent for the app named `default`, so the
 *                   points written before there were apps count as the default app's
 *   double1         latency in ms (0 where the event has none)
 *   double2         the point's weight: how many events it stands for (below); 0 in points written
 *                   before weights existed, which each stand for one
 *
 * A point never carries a uid, accid, token, email or anything a caller chose: dimensions are fixed
 * words or NetEase codes, and `dimension()` turns anything else into "other".
 *
 * Sampled successes: a token answered is nearly every request, and a data point costs almost as much
 * as the request itself (docs/operations.md#cost), so `recordSampled` writes one success in
 * METRICS_SAMPLE_INTERVAL (default `SAMPLE_INTERVAL`), weighted by it. Failures, account creations
 * and operator changes (`record`) are always written, with weight 1: an operator sees every one. Counting is `SUM(_sample_interval *
 * weight)` (`COUNT_SQL`), as Analytics Engine itself samples at high volume. Queries:
 * admin/metrics-summary.ts and docs/operations.md.
 */

import { DEFAULT_APP } from "./constants.ts";

/** The events, and what their two dimensions are. */
export interface MetricEvents {
  /** A token answered: its kind; the second dimension is unused. */
  token_issued: [kind: "im" | "rtc", unused: ""];
  /** A first-time NetEase account created for a uid (latency includes the pacing wait); no dimensions. */
  account_created: [unused: "", unused: ""];
  /** A NetEase call failed: the action (create, block, getUinfos, …) and the code (NetEase's, HTTP_5xx, timeout, network). */
  netease_failure: [action: string, code: string];
  /** The login callback's decision: the responseCode answered (200, or 20000–20099 by reason) and allow/reject. */
  login_callback: [responseCode: string, verdict: "allow" | "reject"];
  /** Chatroom link addresses answered: to a signed-in user or an anonymous visitor; the second dimension is unused. */
  chatroom_address: [who: "user" | "anonymous", unused: ""];
  /** An operator change: the operation and its outcome (done, replayed, failed:<kind>). */
  admin_change: [operation: string, outcome: string];
}

export type MetricEvent = keyof MetricEvents;

/** One success in this many is written by `recordSampled`, with this weight: METRICS_SAMPLE_INTERVAL's default. */
export const SAMPLE_INTERVAL = 20;

/** How many events the points counted stand for: their sampling by Analytics Engine times their weight. */
export const COUNT_SQL = "_sample_interval * if(double2 = 0, 1, double2)";

/** Fixed words, NetEase action names (`user/create.action`, `POST /im/v2/accounts`) and codes; no `@`, `?` or `=`. */
const SAFE_DIMENSION = /^[A-Za-z0-9_:./ -]{0,64}$/;

/** A dimension as written: fixed words pass, anything else (a stray identifier) becomes "other". */
export function dimension(value: string): string {
  return SAFE_DIMENSION.test(value) ? value : "other";
}

/** What this module needs of an Analytics Engine dataset binding (workerd's `AnalyticsEngineDataset`). */
export interface MetricsDataset {
  writeDataPoint(point: { indexes: string[]; blobs: string[]; doubles: number[] }): void;
}

/** Writes data points to the dataset, if there is one. Never throws: a metric must not fail a request. */
export class Metrics {
  readonly dataset: MetricsDataset | undefined;
  /** The app's name as blob4, or nothing for the default app. */
  readonly #app: readonly string[];
  readonly #interval: number;

  /**
   * @param app The NetEase app the points are about: its name (an app name is a safe dimension).
   * @param interval One success in this many is written by `recordSampled` (METRICS_SAMPLE_INTERVAL).
   */
  constructor(dataset: MetricsDataset | undefined, app: string = DEFAULT_APP, interval = SAMPLE_INTERVAL) {
    this.dataset = dataset;
    this.#app = app === DEFAULT_APP ? [] : [dimension(app)];
    this.#interval = interval;
  }

  /** Writes one point for this event (failures, creations, operator changes: never sampled). */
  record<E extends MetricEvent>(event: E, dimensions: MetricEvents[E], latencyMs = 0): void {
    this.#write(event, dimensions, latencyMs, 1);
  }

  /**
   * Writes one point for every `interval` such events on average, weighted by it: for successes
   * that come with nearly every request (a token answered). `random` is for the tests.
   */
  recordSampled<E extends MetricEvent>(
    event: E,
    dimensions: MetricEvents[E],
    latencyMs = 0,
    random: () => number = Math.random,
  ): void {
    const interval = this.#interval;
    if (this.dataset && (interval === 1 || random() * interval < 1))
      this.#write(event, dimensions, latencyMs, interval);
  }

  #write<E extends MetricEvent>(event: E, dimensions: MetricEvents[E], latencyMs: number, weight: number): void {
    if (!this.dataset) return;
    try {
      this.dataset.writeDataPoint({
        indexes: [event],
        blobs: [event, dimension(dimensions[0]), dimension(dimensions[1]), ...this.#app],
        doubles: [Math.max(0, latencyMs), weight],
      });
    } catch {
      // Analytics Engine refuses points over its limits; losing one is better than failing the request.
    }
  }
}
