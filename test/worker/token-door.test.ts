/**
 * The token door (src/http/token-door.ts) answers POST /v1/token and /v1/rtc/token without Hono; Hono's
 * app mounts the same handlers and answers what the door passes on (a query string, a trailing
 * slash, another method). These tests send each request through both doors and require the same
 * answer: status, body (times and signatures aside), every header, and the access-log line. Any rule
 * the door forgot (a header, CORS, the configuration check, the error table, a log field) shows here.
 */

import { afterEach, describe, expect, it, vi } from "vitest";
import { issueImToken } from "../../src/http/routes/token.ts";
import { tokenDoorFor } from "../../src/http/token-door.ts";
import { adminCall, call, hsJwt, type Overrides, seg, uniqueUid } from "./helpers.ts";

/** Body fields that differ between two answers by design: the signing time and what it signs. */
const VOLATILE = new Set([
  "token",
  "curTime",
  "expiresAt",
  "serverTime",
  "refreshAfter",
  "permKey",
  "permKeyExpiresAt",
]);
/** Log fields that differ between two requests by design. */
const VOLATILE_LOG = new Set(["requestId", "latencyMs"]);

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  logs: Record<string, unknown>[];
}

/** Sends one request, and returns what a client and the log saw (volatile parts blanked). */
async function seen(path: string, init: () => RequestInit, overrides: Overrides): Promise<Seen> {
  const lines: string[] = [];
  const capture = (line: unknown) => void lines.push(String(line));
  const spies = [
    vi.spyOn(console, "log").mockImplementation(capture),
    vi.spyOn(console, "warn").mockImplementation(capture),
    vi.spyOn(console, "error").mockImplementation(capture),
  ];
  const response = await call(path, init(), overrides);
  for (const spy of spies) spy.mockRestore();
  const sentId = new Headers(init().headers).get("X-Request-Id");
  const headers = Object.fromEntries(
    [...response.headers].map(([name, value]) =>
      // A request id the Worker made up is a new UUID each time; one the caller sent must come back.
      name === "x-request-id" && value !== sentId
        ? [name, /^[0-9a-f-]{36}$/.test(value) ? "<uuid>" : value]
        : [name, value],
    ),
  );
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {}
  if (typeof body === "object" && body !== null) {
    body = Object.fromEntries(Object.entries(body).map(([k, v]) => [k, VOLATILE.has(k) ? typeof v : v]));
  }
  const logs = lines
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .map((line) => Object.fromEntries(Object.entries(line).filter(([k]) => !VOLATILE_LOG.has(k))));
  return { status: response.status, headers, body, logs };
}

/** The same request through the door (`path`) and through Hono (`path?via=hono`): both answers. */
async function bothDoors(path: string, init: () => RequestInit, overrides: Overrides = {}) {
  const door = await seen(path, init, overrides);
  const hono = await seen(`${path}?via=hono`, init, overrides);
  return { door, hono };
}

afterEach(() => vi.restoreAllMocks());

describe("the token door", () => {
  it("takes only a POST to a token endpoint's exact path", () => {
    const request = (path: string, method = "POST") => new Request(`https://worker.test${path}`, { method });
    expect(tokenDoorFor(request("/v1/token"))).toBe(issueImToken);
    // NERTC's handler loads routes/rtc-token.ts on the first NERTC request: the door holds its loader.
    const rtc = tokenDoorFor(request("/v1/rtc/token"));
    expect(rtc).toBeTypeOf("function");
    expect(rtc).not.toBe(issueImToken);
    expect(tokenDoorFor(request("/v1/apps/sg/rtc/token"))).toBe(rtc);
    for (const passed of [
      request("/v1/token", "GET"),
      request("/v1/token", "OPTIONS"),
      request("/v1/token/"),
      request("/v1/token?x=1"),
      request("/v1/tokens"),
      request("/v1/rtc/token/"),
      request("/admin/v1/v1/token"),
      request("/"),
    ]) {
      expect(tokenDoorFor(passed), `${passed.method} ${passed.url}`).toBeUndefined();
    }
  });

  const origin = "https://app.example";
  const cors = { ALLOWED_ORIGINS: origin };

  it("answers every IM token request as Hono's route does: body, headers and log line", async () => {
    const uid = uniqueUid("door");
    const jwt = await hsJwt(uid);
    const blocked = uniqueUid("door-blocked");
    const blockedJwt = await hsJwt(blocked);
    expect(
      (await call("/v1/token", { method: "POST", headers: { Authorization: `Bearer ${blockedJwt}` } })).status,
    ).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(blocked)}/block`, { kick: false })).status).toBe(200);
    const expired = await hsJwt(uid, { expiresIn: -3600 });
    const bearer = { Authorization: `Bearer ${jwt}` };
    const json = { ...bearer, "Content-Type": "application/json" };
    const cases: [string, () => RequestInit, Overrides?][] = [
      ["a session, no body", () => ({ method: "POST", headers: bearer })],
      ["a ttl", () => ({ method: "POST", headers: json, body: JSON.stringify({ ttl: 300 }) })],
      ["no session", () => ({ method: "POST" })],
      ["not a JWT", () => ({ method: "POST", headers: { Authorization: "Bearer not.a.jwt" } })],
      ["an expired session", () => ({ method: "POST", headers: { Authorization: `Bearer ${expired}` } })],
      ["a blocked account", () => ({ method: "POST", headers: { Authorization: `Bearer ${blockedJwt}` } })],
      ["a body that is not JSON", () => ({ method: "POST", headers: json, body: "{ttl" })],
      [
        "a body of another type",
        () => ({ method: "POST", headers: { ...bearer, "Content-Type": "text/plain" }, body: "{}" }),
      ],
      ["a ttl out of range", () => ({ method: "POST", headers: json, body: JSON.stringify({ ttl: 1 }) })],
      ["an unknown field", () => ({ method: "POST", headers: json, body: JSON.stringify({ accid: "x" }) })],
      ["a body over the limit", () => ({ method: "POST", headers: json, body: "x".repeat(9000) })],
      ["a streamed body over the limit", () => ({ method: "POST", headers: json, body: streamed(9000) })],
      ["a caller's request id", () => ({ method: "POST", headers: { ...bearer, "X-Request-Id": "req-abc_123=" } })],
      ["a malformed request id", () => ({ method: "POST", headers: { ...bearer, "X-Request-Id": "no spaces" } })],
      ["an allowed origin", () => ({ method: "POST", headers: { ...bearer, Origin: origin } }), cors],
      ["another origin", () => ({ method: "POST", headers: { ...bearer, Origin: "https://evil.example" } }), cors],
      ["an allowed origin's failure", () => ({ method: "POST", headers: { Origin: origin } }), cors],
      ["unusable settings", () => ({ method: "POST", headers: bearer }), { NIM_APP_SECRET: "" }],
      [
        "unusable settings and an origin",
        () => ({ method: "POST", headers: { ...bearer, Origin: origin } }),
        { ...cors, TOKEN_TTL_MIN: "x" },
      ],
    ];
    const statuses: number[] = [];
    for (const [name, init, overrides] of cases) {
      const { door, hono } = await bothDoors("/v1/token", init, overrides);
      expect(door, name).toEqual(hono);
      statuses.push(door.status);
    }
    // The cases reach every kind of answer, so the comparison covers them all.
    expect(statuses).toEqual([
      200, 200, 401, 401, 401, 403, 400, 415, 400, 400, 413, 413, 200, 200, 200, 200, 401, 500, 500,
    ]);
  });

  it("answers every NERTC token request as Hono's route does", async () => {
    const uid = uniqueUid("door-rtc");
    const headers = { Authorization: `Bearer ${await hsJwt(uid)}`, "Content-Type": "application/json" };
    const rooms = {
      RTC_CHANNEL_POLICY: JSON.stringify([{ channel: "live-*", privileges: ["receive", "join"], keyTtl: 1800 }]),
    };
    const cases: [string, () => RequestInit, Overrides?][] = [
      ["a channel", () => ({ method: "POST", headers, body: JSON.stringify({ channelName: "room 1" }) })],
      [
        "a channel the policy grants",
        () => ({ method: "POST", headers, body: JSON.stringify({ channelName: "live-1" }) }),
        rooms,
      ],
      [
        "a channel the policy refuses",
        () => ({ method: "POST", headers, body: JSON.stringify({ channelName: "lobby" }) }),
        rooms,
      ],
      ["no channel", () => ({ method: "POST", headers, body: "{}" })],
      ["no session", () => ({ method: "POST", body: JSON.stringify({ channelName: "room 1" }) })],
    ];
    const statuses: number[] = [];
    for (const [name, init, overrides] of cases) {
      const { door, hono } = await bothDoors("/v1/rtc/token", init, overrides);
      expect(door, name).toEqual(hono);
      statuses.push(door.status);
    }
    expect(statuses).toEqual([200, 200, 403, 400, 401]);
  });
});

/** A body sent in 1 KiB chunks without Content-Length, as a streaming client sends it. */
function streamed(bytes: number): ReadableStream<Uint8Array> {
  let left = bytes;
  return new ReadableStream({
    pull(controller) {
      if (left <= 0) return controller.close();
      const size = Math.min(1024, left);
      left -= size;
      controller.enqueue(new TextEncoder().encode("x".repeat(size)));
    },
  });
}
