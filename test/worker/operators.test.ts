/**
 * The operator's side: Cloudflare Access sign-in (against a stand-in certs endpoint with a locally
 * signed assertion), the same-origin rule on changes, the audit trail in each account object, look-up
 * by accid and RTC uid, and the console's files.
 */

import { runInDurableObject } from "cloudflare:test";
import { importJWK, SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { AccountObject } from "../../src/accounts/object/entry.ts";
import type { HistoryEntry } from "../../src/accounts/object/results.ts";
import type { AdminAccount, HistoryResponse } from "../../src/contract/responses.ts";
import { LIMITS } from "../../src/core/constants.ts";
import { CONSOLE_CSP } from "../../src/http/routes/console.ts";
import {
  adminCall,
  call,
  env,
  hsJwt,
  issueRtc,
  type Overrides,
  registerAtNetEase,
  seg,
  stockAccid,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";

const AUD = "4714c1358e65fe4b408ad6d432a5f878f08194bdb4752441fd56faefa9b2b6f2";
/** Access on, with the stand-in's certs; the admin token stays set too. */
const withAccess = (): Overrides => ({ ACCESS_TEAM_DOMAIN: env.IDP_URL, ACCESS_AUD: AUD });

interface AssertionOptions {
  aud?: string;
  iss?: string;
  email?: string | null;
  commonName?: string;
  expiresIn?: number | null;
  alg?: "RS256";
  kid?: string;
}

/** An Access assertion signed with the stand-in team key (kid access-1), as Access would send it. */
async function assertion(options: AssertionOptions = {}): Promise<string> {
  const key = await importJWK(JSON.parse(env.ACCESS_PRIVATE_JWK), "RS256");
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = { type: "app", identity_nonce: "n0nce", country: "NL" };
  if (options.email !== null) claims.email = options.email ?? "Ops.Person@example.com";
  if (options.commonName) claims.common_name = options.commonName;
  let jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: options.alg ?? "RS256", kid: options.kid ?? "access-1" })
    .setIssuer(options.iss ?? env.IDP_URL)
    .setAudience(options.aud ?? AUD)
    .setSubject("7335d417-61da-459d-899c-0a01c76a2f94")
    .setIssuedAt(now - 10)
    .setNotBefore(now - 10);
  if (options.expiresIn !== null) jwt = jwt.setExpirationTime(now + (options.expiresIn ?? 300));
  return jwt.sign(key);
}

function accessCall(
  method: string,
  path: string,
  jwt: string | undefined,
  init: { body?: unknown; headers?: Record<string, string>; overrides?: Overrides; token?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { ...init.headers };
  if (jwt !== undefined) headers["Cf-Access-Jwt-Assertion"] = jwt;
  if (init.token) headers.Authorization = `Bearer ${init.token}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  return call(
    `/admin/v1${path}`,
    { method, headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) },
    init.overrides ?? withAccess(),
  );
}

async function history(uid: string, query = ""): Promise<HistoryResponse> {
  const response = await adminCall("GET", `/accounts/${seg(uid)}/history${query}`);
  expect(response.status).toBe(200);
  return response.json();
}

describe("Cloudflare Access sign-in", () => {
  it("names the operator by the assertion's email, and records it in the history", async () => {
    const jwt = await assertion();
    const me = await accessCall("GET", "/operator", jwt);
    expect(me.status).toBe(200);
    expect(await me.json()).toEqual({ operator: "ops.person@example.com", via: "access" });

    const uid = uniqueUid();
    await tokenFor(uid);
    const blocked = await accessCall("POST", `/accounts/${seg(uid)}/block`, jwt, { body: { kick: false } });
    expect(blocked.status).toBe(200);
    const [latest] = (await history(uid)).entries;
    expect(latest).toMatchObject({ operator: "ops.person@example.com", operation: "block", detail: "no kick" });
  });

  it("names an Access service token by its common name", async () => {
    const jwt = await assertion({ email: null, commonName: "a1b2c3.access" });
    const me = await accessCall("GET", "/operator", jwt);
    expect(await me.json()).toEqual({ operator: "service-token:a1b2c3.access", via: "access" });
  });

  it("refuses a wrong AUD, an expired or unexpiring assertion, another issuer, another key, and a forged one — all the same 401", async () => {
    const good = await assertion();
    const [header, payload] = good.split(".");
    const refused = [
      await assertion({ aud: "another-application-aud-tag" }),
      await assertion({ expiresIn: -120 }),
      await assertion({ expiresIn: null }),
      await assertion({ iss: "https://someone-else.cloudflareaccess.com" }),
      await assertion({ kid: "unknown-key" }),
      await assertion({ email: null }),
      `${header}.${payload}.${"A".repeat(342)}`,
      // alg none, with the good claims
      `${btoa(JSON.stringify({ alg: "none", kid: "access-1" })).replace(/=+$/, "")}.${payload}.`,
      "not-a-jwt",
      "x".repeat(9000),
    ];
    const bodies = new Set<string>();
    for (const jwt of refused) {
      const response = await accessCall("GET", "/operator", jwt);
      expect(response.status, jwt.slice(0, 40)).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="admin"');
      bodies.add(await response.text());
    }
    // A wrong admin token is answered exactly the same.
    bodies.add(
      await (
        await adminCall("GET", "/operator", undefined, { token: "wrong-token-0123456789-abcdefghijklmnop" })
      ).text(),
    );
    expect([...bodies]).toEqual([JSON.stringify({ error: "unauthorized", message: "Admin authorization required." })]);
  });

  it("does not fall back to the admin token when an assertion is present but invalid", async () => {
    const expired = await assertion({ expiresIn: -120 });
    const response = await accessCall("GET", "/operator", expired, { token: env.ADMIN_TOKEN });
    expect(response.status).toBe(401);
    // Without an assertion the token still works beside Access (automation).
    const token = await accessCall("GET", "/operator", undefined, { token: env.ADMIN_TOKEN });
    expect(await token.json()).toEqual({ operator: "admin token", via: "admin_token" });
  });

  it("opens the admin API with Access alone, and refuses bearer tokens there", async () => {
    const overrides = { ...withAccess(), ADMIN_TOKEN: "" };
    expect((await accessCall("GET", "/operator", await assertion(), { overrides })).status).toBe(200);
    const bearer = await accessCall("GET", "/operator", undefined, { overrides, token: env.ADMIN_TOKEN });
    expect(bearer.status).toBe(401);
  });

  it("answers 503 (not 401) when the team's certs cannot be had, and /readyz names keys:access", async () => {
    const overrides = { ACCESS_TEAM_DOMAIN: "http://127.0.0.1:9", ACCESS_AUD: AUD };
    const response = await accessCall("GET", "/operator", await assertion(), { overrides });
    expect(response.status).toBe(503);
    expect((await response.json<{ error: string }>()).error).toBe("session_keys_unavailable");
    // The readiness checks name the certs for an operator (with the admin token: Access's own
    // assertions cannot be checked now); /readyz tells anyone a key source failed.
    const ready = await adminCall("GET", "/ready", undefined, { overrides });
    expect((await ready.json<{ failed: string[] }>()).failed).toContain("keys:access");
    expect((await (await call("/readyz", {}, overrides)).json<{ failed: string[] }>()).failed).toContain("keys");
    const fine = await adminCall("GET", "/ready", undefined, { overrides: withAccess() });
    expect((await fine.json<{ checks: Record<string, { ok: boolean }> }>()).checks["keys:access"]?.ok).toBe(true);
  });

  it("refuses half a configuration", async () => {
    for (const overrides of [
      { ACCESS_TEAM_DOMAIN: env.IDP_URL },
      { ACCESS_AUD: AUD },
      { ...withAccess(), ACCESS_AUD: "bad tag!" },
    ]) {
      const health = await call("/healthz", {}, overrides);
      expect(health.status).toBe(503);
    }
    const plainHttp = await call("/healthz", {}, { ACCESS_TEAM_DOMAIN: "http://team.example.com", ACCESS_AUD: AUD });
    expect(plainHttp.status).toBe(503);
  });
});

describe("same-origin rule on admin changes", () => {
  it("refuses a change sent by a browser from another origin, before any credential is looked at", async () => {
    const uid = uniqueUid();
    await tokenFor(uid);
    const crossOrigin: Record<string, string>[] = [
      { Origin: "https://evil.example" },
      { "Sec-Fetch-Site": "cross-site" },
      { "Sec-Fetch-Site": "same-site" },
      { Origin: "https://nim-token-worker.test", "Sec-Fetch-Site": "cross-site" },
    ];
    for (const headers of crossOrigin) {
      const response = await accessCall("POST", `/accounts/${seg(uid)}/block`, await assertion(), {
        body: {},
        headers,
      });
      expect(response.status, JSON.stringify(headers)).toBe(403);
      expect((await response.json<{ error: string }>()).error).toBe("forbidden");
    }
    const record = await adminCall("GET", `/accounts/${seg(uid)}`);
    expect((await record.json<AdminAccount>()).status).toBe("active");
    // The console's own requests, and tools that send no Origin, pass; reads pass from anywhere.
    const own = await accessCall("POST", `/accounts/${seg(uid)}/block`, await assertion(), {
      body: {},
      headers: { Origin: "https://nim-token-worker.test", "Sec-Fetch-Site": "same-origin" },
    });
    expect(own.status).toBe(200);
    // Where the admin API is off it is 404 for every path, a cross-origin change included.
    const off = await accessCall("POST", `/accounts/${seg(uid)}/block`, undefined, {
      body: {},
      headers: { Origin: "https://evil.example" },
      overrides: { ADMIN_TOKEN: "" },
    });
    expect(off.status).toBe(404);
    const read = await accessCall("GET", `/accounts/${seg(uid)}`, await assertion(), {
      headers: { Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" },
    });
    expect(read.status).toBe(200);
  });
});

describe("audit trail", () => {
  it("records first use, operator changes, replays and failures, newest first, with before and after", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    await adminCall("POST", `/accounts/${seg(uid)}/block`, {}, { requestId: "audit-block-1" });
    await adminCall("POST", `/accounts/${seg(uid)}/block`, {}, { requestId: "audit-block-1" });
    await adminCall("POST", `/accounts/${seg(uid)}/unblock`, {}, { requestId: "audit-unblock-1" });
    const rotated = await (await adminCall("POST", `/accounts/${seg(uid)}/rotate`, {})).json<AdminAccount>();
    const { entries, next } = await history(uid);
    expect(next).toBeNull();
    const strip = ({ id: _id, at: _at, ...rest }: HistoryEntry) => rest;
    expect(entries.map(strip)).toEqual([
      {
        operator: "admin token",
        operation: "rotate",
        requestId: expect.any(String),
        outcome: "done",
        replayed: false,
        before: { status: "active", accid },
        after: { status: "active", accid: rotated.accid },
      },
      {
        operator: "admin token",
        operation: "unblock",
        requestId: "audit-unblock-1",
        outcome: "done",
        replayed: false,
        before: { status: "blocked", accid },
        after: { status: "active", accid },
      },
      {
        operator: "admin token",
        operation: "block",
        detail: "kick",
        requestId: "audit-block-1",
        outcome: "replayed",
        replayed: true,
        before: { status: "blocked", accid },
        after: { status: "blocked", accid },
      },
      {
        operator: "admin token",
        operation: "block",
        detail: "kick",
        requestId: "audit-block-1",
        outcome: "done",
        replayed: false,
        before: { status: "active", accid },
        after: { status: "blocked", accid },
      },
      {
        operator: "user",
        operation: "create",
        outcome: "done",
        replayed: false,
        before: null,
        after: { status: "active", accid },
      },
    ]);
    expect(entries[0]!.at).toBeGreaterThanOrEqual(entries[4]!.at);
    expect(entries[0]!.id).toBeGreaterThan(entries[1]!.id);
  });

  it("records a refused operator action, and the user's own sign-out everywhere", async () => {
    const nobody = uniqueUid();
    expect((await adminCall("POST", `/accounts/${seg(nobody)}/block`, {})).status).toBe(404);
    const [failed] = (await history(nobody)).entries;
    expect(failed).toMatchObject({
      operation: "block",
      outcome: "failed:account_not_found",
      before: null,
      after: null,
    });

    const uid = uniqueUid();
    await tokenFor(uid);
    const signOut = await call("/v1/sessions/revoke", {
      method: "POST",
      headers: { Authorization: `Bearer ${await hsJwt(uid)}` },
    });
    expect(signOut.status).toBe(200);
    const [latest] = (await history(uid)).entries;
    expect(latest).toMatchObject({ operator: "user", operation: "revoke", detail: "kick", outcome: "done" });
  });

  it("pages through history with limit and before, and refuses a bad query", async () => {
    const uid = uniqueUid();
    await tokenFor(uid);
    for (let i = 0; i < 4; i++) await adminCall("POST", `/accounts/${seg(uid)}/${i % 2 ? "unblock" : "block"}`, {});
    const first = await history(uid, "?limit=2");
    expect(first.entries.map((e) => e.operation)).toEqual(["unblock", "block"]);
    const second = await history(uid, `?limit=2&before=${first.next}`);
    expect(second.entries.map((e) => e.operation)).toEqual(["unblock", "block"]);
    const third = await history(uid, `?limit=2&before=${second.next}`);
    expect(third.entries.map((e) => e.operation)).toEqual(["create"]);
    expect(third.next).toBeNull();
    for (const query of ["?limit=0", "?limit=101", "?limit=abc", "?before=-1", "?limit=2&since=1", "?limit=1.5"]) {
      const response = await adminCall("GET", `/accounts/${seg(uid)}/history${query}`);
      expect(response.status, query).toBe(400);
    }
  });

  it(`keeps the last ${LIMITS.historyEntriesKept} entries of a uid`, async () => {
    const uid = uniqueUid();
    await tokenFor(uid);
    const stub = env.ACCOUNT_OBJECTS!.get(env.ACCOUNT_OBJECTS!.idFromName(uid)) as DurableObjectStub<AccountObject>;
    await runInDurableObject(stub, (_object, state) => {
      const sql = state.storage.sql;
      // The ledger's own insert path, many times: rows the oldest of which must go.
      for (let i = 0; i < LIMITS.historyEntriesKept + 5; i++) {
        sql.exec(
          "INSERT INTO history (at, operator, operation, outcome) VALUES (?, 'system', 'block', 'done')",
          Date.now(),
        );
      }
    });
    await adminCall("POST", `/accounts/${seg(uid)}/block`, {});
    await runInDurableObject(stub, (_object, state) => {
      const [row] = state.storage.sql.exec<{ n: number }>("SELECT COUNT(*) AS n FROM history").toArray();
      expect(row!.n).toBe(LIMITS.historyEntriesKept);
    });
    expect((await history(uid, "?limit=1")).entries[0]!.operation).toBe("block");
  });
});

describe("look-up by accid and RTC uid", () => {
  it("finds a user by derived accid (any case), stock accid and RTC uid", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    const byAccid = await adminCall("GET", `/accounts?accid=${accid.toUpperCase()}`);
    expect((await byAccid.json<AdminAccount>()).uid).toBe(uid);

    const rtc = await issueRtc(await hsJwt(uid), { channelName: "room-1" });
    const { uid: rtcUid } = await rtc.json<{ uid: number }>();
    const byRtc = await adminCall("GET", `/accounts?rtcUid=${rtcUid}`);
    expect(await byRtc.json<AdminAccount>()).toMatchObject({ uid, accid, rtcUid });

    const stock = stockAccid();
    await registerAtNetEase(stock);
    const stockUid = uniqueUid();
    expect((await adminCall("PUT", `/accounts/${seg(stockUid)}`, { accid: stock })).status).toBe(201);
    const byStock = await adminCall("GET", `/accounts?accid=${stock}`);
    expect((await byStock.json<AdminAccount>()).uid).toBe(stockUid);
  });

  it("answers 404 for an unknown accid and 400 for a query that is not exactly one of the two", async () => {
    expect((await adminCall("GET", `/accounts?accid=${stockAccid()}`)).status).toBe(404);
    for (const query of ["", "?accid=a&rtcUid=1", "?rtcUid=0", "?rtcUid=x", "?accid=", "?uid=alice"]) {
      expect((await adminCall("GET", `/accounts${query}`)).status, query).toBe(400);
    }
  });
});

describe("operator console", () => {
  it("serves the page, its script and its styles under a strict policy", async () => {
    const page = await call("/admin");
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(page.headers.get("Content-Security-Policy")).toBe(CONSOLE_CSP);
    expect(CONSOLE_CSP).toContain("default-src 'self'");
    expect(CONSOLE_CSP).toContain("frame-ancestors 'none'");
    expect(CONSOLE_CSP).not.toContain("unsafe-inline");
    const html = await page.text();
    expect(html).toContain('<script type="module" src="/admin/console.js"></script>');
    expect(html).not.toMatch(/<script>(?!<\/script>)/); // no inline script (the policy would block it)
    const script = await call("/admin/console.js");
    expect(script.headers.get("Content-Type")).toMatch(/javascript/);
    expect(await script.text()).toContain("/admin/v1");
    expect((await call("/admin/console.css")).headers.get("Content-Type")).toMatch(/^text\/css/);
  });

  it("serves nothing where the admin API is off, and nothing but its own files", async () => {
    expect((await call("/admin", {}, { ADMIN_TOKEN: "" })).status).toBe(404);
    expect((await call("/admin", {}, { ADMIN_TOKEN: "", ...withAccess() })).status).toBe(200);
    for (const path of ["/admin/index.html", "/admin/other.js", "/admin/../wrangler.jsonc"]) {
      expect((await call(path)).status, path).toBe(404);
    }
  });
});
