/** POST /v1/token: the answer, the token's validity at NetEase, ttl rules and request errors. */

import { describe, expect, it } from "vitest";
import type { TokenResponse } from "../../src/contract/responses.ts";
import { checkDynamicToken } from "../../src/nim/dynamic-token.ts";
import { call, emulatorLogin, env, expectedAccid, hsJwt, issue, uniqueUid } from "./helpers.ts";

describe("POST /v1/token", () => {
  it("returns NetEase's dynamic token for the uid's accid", async () => {
    const uid = uniqueUid();
    const before = Date.now();
    const response = await issue(await hsJwt(uid));
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    expect(response.headers.get("Content-Type")).toMatch(/^application\/json/);
    const body = await response.json<TokenResponse>();
    expect(Object.keys(body)).toEqual([
      "accid",
      "token",
      "appKey",
      "curTime",
      "ttl",
      "expiresAt",
      "serverTime",
      "refreshAfter",
    ]);
    expect(body.accid).toBe(await expectedAccid(uid));
    expect(body.accid).toMatch(/^[a-z0-9]{32}$/);
    expect(body.appKey).toBe(env.NIM_APP_KEY);
    expect(body.ttl).toBe(600);
    expect(body.curTime).toBeGreaterThanOrEqual(before);
    expect(body.expiresAt).toBe(body.curTime + 600_000);
    expect(body.refreshAfter).toBe(body.curTime + 480_000);
    expect(body.serverTime).toBeGreaterThanOrEqual(body.curTime);
    const check = await checkDynamicToken(body.token, {
      appKey: env.NIM_APP_KEY!,
      accid: body.accid,
      appSecret: env.NIM_APP_SECRET!,
      now: Date.now(),
    });
    expect(check).toEqual({
      ok: true,
      fields: { signature: expect.stringMatching(/^[0-9a-f]{40}$/), curTime: body.curTime, ttl: 600 },
    });
  });

  it("issues a token that passes the emulated NetEase login check", async () => {
    const body = await (await issue(await hsJwt(uniqueUid()))).json<TokenResponse>();
    expect(await emulatorLogin(body.accid, body.token)).toMatchObject({ code: 200 });
    // A well-formed token whose signature is off by one hex digit: only the signature check can refuse it.
    const fields = JSON.parse(atob(body.token)) as { signature: string; curTime: number; ttl: number };
    const last = fields.signature.at(-1) === "0" ? "1" : "0";
    const forged = btoa(JSON.stringify({ ...fields, signature: fields.signature.slice(0, -1) + last }));
    expect(forged).not.toBe(body.token);
    expect((await emulatorLogin(body.accid, forged)).code).toBe(302);
  });

  it("gives the same accid on every request for a uid, and different accids to different uids", async () => {
    const uid = uniqueUid();
    const first = await (await issue(await hsJwt(uid))).json<TokenResponse>();
    const second = await (await issue(await hsJwt(uid), { ttl: 120 })).json<TokenResponse>();
    const other = await (await issue(await hsJwt(uniqueUid()))).json<TokenResponse>();
    expect(second.accid).toBe(first.accid);
    expect(second.ttl).toBe(120);
    expect(other.accid).not.toBe(first.accid);
  });

  it("accepts ttl anywhere in [TOKEN_TTL_MIN, TOKEN_TTL_MAX]", async () => {
    const jwt = await hsJwt(uniqueUid());
    for (const ttl of [60, 61, 3599, 3600]) {
      const response = await issue(jwt, { ttl });
      expect(response.status).toBe(200);
      expect((await response.json<TokenResponse>()).ttl).toBe(ttl);
    }
  });

  it.each([
    [{ ttl: 59 }, "ttl must be a whole number of seconds from 60 to 3600."],
    [{ ttl: 3601 }, "ttl must be a whole number of seconds from 60 to 3600."],
    [{ ttl: 600.5 }, "ttl must be a whole number of seconds from 60 to 3600."],
    [{ ttl: "600" }, "ttl must be a whole number of seconds from 60 to 3600."],
    [{ ttl: null }, "ttl must be a whole number of seconds from 60 to 3600."],
    [{ TTL: 600 }, "Unknown field(s): TTL."],
    [[600], "The body must be a JSON object."],
    ["600", "The body must be a JSON object."],
  ])("answers 400 invalid_request for body %j", async (body, message) => {
    const response = await issue(await hsJwt(uniqueUid()), body);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: "invalid_request", message });
  });

  it("answers 400 for a body that is not JSON and 415 for another content type", async () => {
    const jwt = await hsJwt(uniqueUid());
    const headers = { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" };
    const notJson = await call("/v1/token", { method: "POST", headers, body: "{ttl:" });
    expect(notJson.status).toBe(400);
    expect((await notJson.json<{ message: string }>()).message).toBe("The body is not valid JSON.");
    const form = await call("/v1/token", {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/x-www-form-urlencoded" },
      body: "ttl=600",
    });
    expect(form.status).toBe(415);
    expect((await form.json<{ error: string }>()).error).toBe("unsupported_media_type");
  });

  it("needs application/json for a non-empty body (415 without a content type too), and none for an empty one", async () => {
    const authorization = `Bearer ${await hsJwt(uniqueUid())}`;
    const untyped = await call("/v1/token", {
      method: "POST",
      headers: { Authorization: authorization },
      body: new TextEncoder().encode('{"ttl":600}'), // bytes: fetch adds no Content-Type for them
    });
    expect(untyped.status).toBe(415);
    expect(await untyped.json()).toEqual({
      error: "unsupported_media_type",
      message: "Send the body as application/json.",
    });
    const empty = await call("/v1/token", { method: "POST", headers: { Authorization: authorization } });
    expect(empty.status).toBe(200);
    const typedEmpty = await call("/v1/token", {
      method: "POST",
      headers: { Authorization: authorization, "Content-Type": "application/json" },
      body: "",
    });
    expect(typedEmpty.status).toBe(200);
  });

  it("reads a body of no bytes or only blanks as no body, whatever its type: the default ttl", async () => {
    const authorization = `Bearer ${await hsJwt(uniqueUid())}`;
    const sent: RequestInit[] = [
      // How most clients send a POST without a body.
      { headers: { Authorization: authorization, "Content-Length": "0" }, body: "" },
      { headers: { Authorization: authorization, "Content-Length": "0", "Content-Type": "text/plain" }, body: "" },
      { headers: { Authorization: authorization }, body: " \n\t " },
    ];
    for (const init of sent) {
      const answer = await call("/v1/token", { method: "POST", ...init });
      expect(answer.status, JSON.stringify(init.headers)).toBe(200);
      expect((await answer.json<{ ttl: number }>()).ttl).toBe(Number(env.TOKEN_TTL_DEFAULT));
    }
  });

  it("does not wait for a body declared as Content-Length: 0", async () => {
    // A stream that never ends: a reader that waited for it would never answer.
    const never = new ReadableStream<Uint8Array>({ pull: () => new Promise(() => {}) });
    const answer = await call("/v1/token", {
      method: "POST",
      headers: { Authorization: `Bearer ${await hsJwt(uniqueUid())}`, "Content-Length": "0" },
      body: never,
    });
    expect(answer.status).toBe(200);
  });

  it("checks the session before the body, so strangers learn nothing about the body rules", async () => {
    const response = await issue("bogus.jwt.value", { ttl: 1 });
    expect(response.status).toBe(401);
  });

  it("answers 413 for a body over 8 KiB", async () => {
    const response = await issue(await hsJwt(uniqueUid()), { ttl: 600, pad: "x".repeat(9000) });
    expect(response.status).toBe(413);
    expect((await response.json<{ error: string }>()).error).toBe("payload_too_large");
  });
});

describe("request ids", () => {
  it("echoes a well-formed X-Request-Id and replaces a malformed or overlong one", async () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
    const id = async (value: string) =>
      (await call("/healthz", { headers: { "X-Request-Id": value } })).headers.get("X-Request-Id");
    expect(await id("trace-1234_abcd")).toBe("trace-1234_abcd");
    for (const bad of ["has spaces in it", "semi;colon", 'quote"d', "x".repeat(129), "<script>"]) {
      expect(await id(bad), bad).toMatch(uuid);
    }
    expect(await id("x".repeat(128))).toBe("x".repeat(128));
  });
});

describe("routing", () => {
  it("answers 404 not_found as JSON for unknown paths", async () => {
    const response = await call("/v2/token", { method: "POST" });
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({
      error: "not_found",
      message: "No such endpoint; the API is described at /openapi.json.",
    });
  });

  it("answers 405 with Allow for a wrong method", async () => {
    const response = await call("/v1/token", { method: "GET" });
    expect(response.status).toBe(405);
    expect(response.headers.get("Allow")).toBe("POST");
    expect((await response.json<{ error: string }>()).error).toBe("method_not_allowed");
  });

  it("puts a request id and security headers on every answer", async () => {
    const uid = uniqueUid();
    const answers = [
      await call("/nope"),
      await issue(undefined),
      await call("/healthz"),
      await issue(await hsJwt(uid)),
    ];
    for (const response of answers) {
      expect(response.headers.get("X-Request-Id")).toMatch(/^[A-Za-z0-9._-]{8,128}$/);
      expect(response.headers.get("X-Content-Type-Options")).toBe("nosniff");
      expect(response.headers.get("Strict-Transport-Security")).toBe("max-age=15552000; includeSubDomains");
      expect(response.headers.get("Cross-Origin-Resource-Policy")).toBe("same-origin");
    }
    const echoed = await call("/healthz", { headers: { "X-Request-Id": "trace-12345678" } });
    expect(echoed.headers.get("X-Request-Id")).toBe("trace-12345678");
  });
});
