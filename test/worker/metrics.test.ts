/**
 * Metrics: with a stand-in Analytics Engine dataset that records the data points the Worker writes.
 * Each event is driven through the real routes; no point may carry a uid, accid or token.
 */

import { describe, expect, it } from "vitest";
import { dimension, Metrics } from "../../src/core/metrics.ts";
import { ANALYTICS_READ_TOKEN } from "../settings.ts";
import {
  adminCall,
  call,
  emulator,
  env,
  hsJwt,
  injectFault,
  issue,
  issueRtc,
  type Overrides,
  registerAtNetEase,
  seg,
  stockAccid,
  uniqueUid,
} from "./helpers.ts";

/** A dataset binding that keeps what is written to it. */
class RecordingDataset implements AnalyticsEngineDataset {
  readonly points: AnalyticsEngineDataPoint[] = [];
  writeDataPoint(point?: AnalyticsEngineDataPoint): void {
    if (point) this.points.push(point);
  }
  /** [event, dimension, dimension] of each point. */
  events(): string[][] {
    return this.points.map((p) => (p.blobs ?? []).map(String));
  }
}

function recording(): { dataset: RecordingDataset; overrides: Overrides } {
  const dataset = new RecordingDataset();
  return { dataset, overrides: { METRICS: dataset } };
}

describe("metrics", () => {
  it("counts IM and RTC tokens, first-time creations, and admin changes with their outcome", async () => {
    const { dataset, overrides } = recording();
    const uid = uniqueUid();
    const jwt = await hsJwt(uid);
    const first = await issue(jwt, undefined, overrides);
    const { accid, token } = await first.json<{ accid: string; token: string }>();
    expect((await issue(jwt, undefined, overrides)).status).toBe(200);
    expect((await issueRtc(jwt, { channelName: "room-1" }, overrides)).status).toBe(200);
    const block = { requestId: "metrics-block-1", overrides };
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, {}, block)).status).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, {}, block)).status).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(uniqueUid())}/unblock`, {}, { overrides })).status).toBe(404);

    expect(dataset.events()).toEqual([
      ["account_created", "", ""],
      ["token_issued", "im", ""],
      ["token_issued", "im", ""],
      ["token_issued", "rtc", ""],
      ["admin_change", "block", "done"],
      ["admin_change", "block", "replayed"],
      ["admin_change", "unblock", "failed:account_not_found"],
    ]);
    for (const point of dataset.points) {
      expect(point.indexes).toEqual([point.blobs![0]]);
      expect(point.doubles).toHaveLength(2);
      expect(point.doubles![0]).toBeGreaterThanOrEqual(0);
      // Every point stands for one event under METRICS_SAMPLE_INTERVAL=1 (the tests' setting).
      expect(point.doubles![1]).toBe(1);
      const written = JSON.stringify(point);
      for (const secret of [uid, accid, token]) expect(written).not.toContain(secret);
    }
  });

  it("counts login-callback decisions by responseCode", async () => {
    const { dataset, overrides } = recording();
    const uid = uniqueUid();
    const { accid, token } = await (await issue(await hsJwt(uid), undefined, overrides)).json<{
      accid: string;
      token: string;
    }>();
    for (const body of [
      { accid, token },
      { accid, token: "not-a-token" },
    ]) {
      const signed = await (
        await emulator("/emulator/callbacks/login", { method: "POST", body: JSON.stringify(body) })
      ).json<{ headers: Record<string, string>; body: string }>();
      const response = await call("/v1/nim/login-callback", { method: "POST", ...signed }, overrides);
      expect(response.status).toBe(200);
    }
    const decisions = dataset.events().filter(([event]) => event === "login_callback");
    expect(decisions).toEqual([
      ["login_callback", "200", "allow"],
      ["login_callback", expect.stringMatching(/^200\d\d$/), "reject"],
    ]);
  });

  it("counts a failed NetEase call by action and code, once", async () => {
    const { dataset, overrides } = recording();
    const accid = stockAccid();
    await registerAtNetEase(accid);
    // Both bases fail (the primary, then the backup the Worker fails over to).
    await injectFault(accid, "user/getUinfos.action", "http500", 2);
    const failed = await adminCall("POST", "/accounts/import", [{ uid: uniqueUid(), accid }], { overrides });
    expect(failed.status).toBe(503);
    expect(dataset.events().filter(([event]) => event === "netease_failure")).toEqual([
      ["netease_failure", "user/getUinfos.action", "HTTP_500"],
    ]);
  });

  it("writes nothing, and fails nothing, without the binding; a throwing dataset fails nothing", async () => {
    const uid = uniqueUid();
    expect((await issue(await hsJwt(uid), undefined, { METRICS: undefined })).status).toBe(200);
    expect((await issue(await hsJwt(uid))).status).toBe(200); // Miniflare's local dataset, as wrangler.jsonc binds it
    const throwing = {
      writeDataPoint() {
        throw new Error("over the limit");
      },
    };
    expect((await issue(await hsJwt(uid), undefined, { METRICS: throwing })).status).toBe(200);
  });

  it("samples successes, weighted by the interval, and never a failure or an operator change", async () => {
    const { dataset, overrides } = recording();
    // No per-uid limit: one user asks for many tokens here.
    const sampled = { ...overrides, METRICS_SAMPLE_INTERVAL: "20", TOKEN_RATE_LIMITER: undefined };
    const uid = uniqueUid();
    const jwt = await hsJwt(uid);
    expect((await issue(jwt, undefined, sampled)).status).toBe(200); // first use: account_created, never sampled
    const tokens = 300;
    for (let i = 0; i < tokens; i++) expect((await issue(jwt, undefined, sampled)).status).toBe(200);
    for (let i = 0; i < 5; i++) {
      expect((await issue(`${jwt.slice(0, -2)}xx`, undefined, sampled)).status).toBe(401);
      const block = await adminCall(
        "POST",
        `/accounts/${seg(uid)}/${i % 2 ? "unblock" : "block"}`,
        {},
        {
          overrides: sampled,
        },
      );
      expect(block.status).toBe(200);
    }
    const weights = (event: string) =>
      dataset.points.filter((point) => point.blobs![0] === event).map((point) => point.doubles![1]);
    // 300 tokens, 1 in 20 written: 15 on average (none at all: 0.95^300, about 2e-7).
    const issued = weights("token_issued");
    expect(issued.length).toBeGreaterThan(0);
    expect(issued.length).toBeLessThan(60);
    expect(new Set(issued)).toEqual(new Set([20]));
    expect(weights("account_created")).toEqual([1]);
    expect(weights("admin_change")).toEqual([1, 1, 1, 1, 1]);
  });

  it("writes a sampled event once per interval on average, and a recorded one every time", () => {
    const points: AnalyticsEngineDataPoint[] = [];
    const metrics = new Metrics({ writeDataPoint: (point) => points.push(point) }, "default", 4);
    const draws = [0.1, 0.3, 0.24, 0.25, 0.9, 0];
    for (const draw of draws) metrics.recordSampled("token_issued", ["im", ""], 1, () => draw);
    // Written when draw × 4 < 1: 0.1, 0.24 and 0.
    expect(points.map((point) => point.doubles)).toEqual([
      [1, 4],
      [1, 4],
      [1, 4],
    ]);
    metrics.record("netease_failure", ["user/create.action", "HTTP_500"]);
    expect(points.at(-1)!.doubles).toEqual([0, 1]);
    const every = new Metrics({ writeDataPoint: (point) => points.push(point) }, "default", 1);
    every.recordSampled("token_issued", ["im", ""], 2, () => 0.999);
    expect(points.at(-1)!.doubles).toEqual([2, 1]);
  });

  it("writes a dimension only from the fixed words: anything else becomes 'other'", () => {
    expect(dimension("user/create.action")).toBe("user/create.action");
    expect(dimension("POST /im/v2/accounts")).toBe("POST /im/v2/accounts");
    expect(dimension("HTTP_503")).toBe("HTTP_503");
    expect(dimension("alice@example.com")).toBe("other");
    expect(dimension("GET /im/v2/accounts?account_ids=bob")).toBe("other");
    expect(dimension("x".repeat(65))).toBe("other");
  });
});

describe("metrics read back for the console (Analytics Engine SQL API stand-in)", () => {
  const ACCOUNT = "0123456789abcdef0123456789abcdef";
  const reading = (token: string): Overrides => ({
    ANALYTICS_ACCOUNT_ID: ACCOUNT,
    ANALYTICS_READ_TOKEN: token,
    ANALYTICS_SQL_API: `${env.IDP_URL}/client/v4`,
  });
  type Summary = { configured: boolean; queries?: Record<string, { ok: boolean; rows?: unknown[]; error?: string }> };

  it("says so when reading is not configured", async () => {
    const response = await adminCall("GET", "/metrics");
    expect(await response.json()).toEqual({ configured: false });
  });

  it("runs the fixed queries against the dataset with the read token, and passes their rows on", async () => {
    const before = (await (await fetch(`${env.IDP_URL}/analytics/queries`)).json<string[]>()).length;
    const response = await adminCall("GET", "/metrics", undefined, { overrides: reading(ANALYTICS_READ_TOKEN) });
    expect(response.status).toBe(200);
    const body = await response.json<Summary>();
    expect(body.configured).toBe(true);
    expect(Object.keys(body.queries!).sort()).toEqual([
      "accountsCreated",
      "adminChanges",
      "loginCallback",
      "neteaseFailures",
      "tokens",
    ]);
    expect(body.queries!.tokens).toEqual({
      ok: true,
      rows: [
        { kind: "im", count: "12" },
        { kind: "rtc", count: "3" },
      ],
    });
    expect(body.queries!.neteaseFailures).toEqual({ ok: true, rows: [] });
    const sent = (await (await fetch(`${env.IDP_URL}/analytics/queries`)).json<string[]>()).slice(before);
    expect(sent).toHaveLength(5);
    for (const sql of sent) {
      expect(sql).toMatch(/ FROM nim_token_worker WHERE blob1 = '[a-z_]+' AND timestamp > NOW\(\) - INTERVAL '1' DAY/);
      expect(sql).toMatch(/ FORMAT JSON$/);
    }
  });

  it("reports a refused token per query, without failing the request or showing the token", async () => {
    const response = await adminCall("GET", "/metrics", undefined, {
      overrides: reading("a-wrong-read-token-0123456789"),
    });
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain("a-wrong-read-token");
    const { queries } = JSON.parse(text) as Summary;
    for (const outcome of Object.values(queries!)) expect(outcome).toEqual({ ok: false, error: "HTTP 403" });
  });

  it("refuses half a configuration, and a dataset name that is not a plain name", async () => {
    for (const overrides of [
      { ANALYTICS_ACCOUNT_ID: ACCOUNT },
      { ANALYTICS_READ_TOKEN: ANALYTICS_READ_TOKEN },
      { ...reading(ANALYTICS_READ_TOKEN), ANALYTICS_DATASET: "x; DROP" },
      { ...reading(ANALYTICS_READ_TOKEN), ANALYTICS_SQL_API: "http://api.example.com/client/v4" },
    ]) {
      expect((await call("/healthz", {}, overrides)).status, JSON.stringify(overrides)).toBe(503);
    }
  });
});
