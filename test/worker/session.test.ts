/** The session JWT matrix: what /v1/token accepts and refuses, in each verification mode. */

import { describe, expect, it } from "vitest";
import { isCanonicalBase64url } from "../../src/session/verify.ts";
import {
  adminCall,
  b64urlJson,
  call,
  env,
  esJwt,
  hsJwt,
  issue,
  jwksSettings,
  respellSignature,
  seg,
  TEST_IDP,
  uniqueUid,
} from "./helpers.ts";

const jwksMode = () => jwksSettings();

async function expectInvalid(response: Response): Promise<void> {
  expect(response.status).toBe(401);
  expect(response.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
  expect(await response.json()).toEqual({
    error: "invalid_session",
    message: "The session token is invalid or expired.",
  });
}

describe("HS256 sessions (shared secret)", () => {
  it("accepts a valid token and uses sub as the uid", async () => {
    const uid = uniqueUid();
    const response = await issue(await hsJwt(uid));
    expect(response.status).toBe(200);
    const { accid } = await response.json<{ accid: string }>();
    // The account was made for exactly that uid: the admin view of the sub names the same accid.
    expect(await (await adminCall("GET", `/accounts/${seg(uid)}`)).json()).toMatchObject({ uid, accid });
    expect((await adminCall("GET", `/accounts/${seg(`${uid}x`)}`)).status).toBe(404);
  });

  it("answers 401 missing_session, showing the expected form, without a bearer token", async () => {
    const jwt = await hsJwt(uniqueUid());
    // No header, an empty one, another scheme, and the JWT without "Bearer " (a common slip).
    for (const authorization of [undefined, "", "Basic dXNlcjpwYXNz", jwt, `Bearer${jwt}`]) {
      const headers: Record<string, string> = authorization === undefined ? {} : { Authorization: authorization };
      const response = await call("/v1/token", { method: "POST", headers });
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe("Bearer");
      expect(await response.json()).toEqual({
        error: "missing_session",
        message: "Send the app session as 'Authorization: Bearer <JWT>'.",
      });
    }
  });

  it("refuses malformed tokens", async () => {
    await expectInvalid(await issue("not.a.jwt!"));
    await expectInvalid(await issue("abc"));
  });

  it("refuses an expired token, beyond the 30 s tolerance", async () => {
    await expectInvalid(await issue(await hsJwt(uniqueUid(), { expiresIn: -31 })));
  });

  it("honours the clock tolerance for a just-expired token", async () => {
    expect((await issue(await hsJwt(uniqueUid(), { expiresIn: -5 }))).status).toBe(200);
  });

  it("refuses a token that is not valid yet (nbf in the future)", async () => {
    await expectInvalid(await issue(await hsJwt(uniqueUid(), { notBefore: Math.floor(Date.now() / 1000) + 120 })));
  });

  it("requires exp", async () => {
    await expectInvalid(await issue(await hsJwt(uniqueUid(), { omitExp: true })));
  });

  it("requires a sub that is a string of 1 to 256 bytes without control characters", async () => {
    await expectInvalid(await issue(await hsJwt(undefined)));
    const rule = { error: "invalid_session", message: expect.stringContaining("sub must be 1 to 256 bytes") };
    for (const sub of ["", "x".repeat(257), "tab\there", 42 as unknown as string]) {
      const response = await issue(await hsJwt(undefined, { claims: { sub } }));
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe('Bearer error="invalid_token"');
      expect(await response.json()).toEqual(rule);
    }
    expect((await issue(await hsJwt(`${"x".repeat(200)}-${crypto.randomUUID()}`.slice(0, 256)))).status).toBe(200);
  });

  it("takes a uid by its UTF-8 bytes: up to 256 work end to end, more are 401 stating the rule, never 5xx", async () => {
    const cjk = `${"数".repeat(85)}a`; // 256 bytes
    const ok = await issue(await hsJwt(cjk));
    expect(ok.status).toBe(200);
    expect((await adminCall("GET", `/accounts/${seg(cjk)}`)).status).toBe(200);
    const rule =
      'The session\'s sub must be 1 to 256 bytes of UTF-8 text without control characters, and neither "." nor "..".';
    for (const sub of [
      "数".repeat(86),
      "😀".repeat(128),
      `${"é".repeat(180)}x`,
      "a\ud800b",
      "a\udc00",
      "c1\u0085x",
      "\u009f",
    ]) {
      const response = await issue(await hsJwt(sub));
      expect(response.status, JSON.stringify(sub)).toBe(401);
      expect(await response.json()).toEqual({ error: "invalid_session", message: rule });
    }
  });

  it("refuses a session issued more than 30 s in the future (iat)", async () => {
    const now = Math.floor(Date.now() / 1000);
    const at = (iat: number) => hsJwt(uniqueUid(), { issuedAt: iat, expiresIn: 86_400 * 2 });
    expect((await issue(await at(now + 20))).status).toBe(200);
    await expectInvalid(await issue(await at(now + 40)));
    await expectInvalid(await issue(await at(now + 86_400)));
  });

  it("refuses a JWT over 8 KiB before verifying it, and accepts one just under", async () => {
    const pad = (size: number) => ({ claims: { pad: "p".repeat(size) } });
    const under = await hsJwt(uniqueUid(), pad(5_500));
    expect(under.length).toBeLessThanOrEqual(8192);
    expect((await issue(under)).status).toBe(200);
    const over = await hsJwt(uniqueUid(), pad(6_500));
    expect(over.length).toBeGreaterThan(8192);
    await expectInvalid(await issue(over));
  });

  it("refuses alg none", async () => {
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${b64urlJson({ alg: "none", typ: "JWT" })}.${b64urlJson({ sub: uniqueUid(), exp: now + 60 })}.`;
    await expectInvalid(await issue(unsigned));
    await expectInvalid(await issue(`${unsigned}x`));
  });

  it("refuses a token signed with another secret or tampered with", async () => {
    await expectInvalid(await issue(await hsJwt(uniqueUid(), {}, "another-secret-that-is-long-enough-000000")));
    const [header, , signature] = (await hsJwt(uniqueUid())).split(".");
    const forged = b64urlJson({ sub: "admin", exp: Math.floor(Date.now() / 1000) + 60 });
    await expectInvalid(await issue(`${header}.${forged}.${signature}`));
  });

  it("refuses a signature respelled with non-zero unused bits (one accepted spelling per session)", async () => {
    const jwt = await hsJwt(uniqueUid());
    const respelled = respellSignature(jwt);
    expect(respelled).not.toBe(jwt);
    expect(atob(respelled.split(".")[2]!.replaceAll("-", "+").replaceAll("_", "/"))).toBe(
      atob(jwt.split(".")[2]!.replaceAll("-", "+").replaceAll("_", "/")),
    );
    await expectInvalid(await issue(respelled));
    expect((await issue(jwt)).status).toBe(200);
  });

  it("refuses asymmetric algorithms when only the secret is configured", async () => {
    await expectInvalid(await issue(await esJwt(uniqueUid())));
  });

  it("checks iss and aud when configured", async () => {
    const settings = { SESSION_JWT_ISSUER: "https://app.example", SESSION_JWT_AUDIENCE: "nim" };
    const uid = uniqueUid();
    expect(
      (await issue(await hsJwt(uid, { issuer: "https://app.example", audience: "nim" }), undefined, settings)).status,
    ).toBe(200);
    await expectInvalid(
      await issue(await hsJwt(uid, { issuer: "https://evil.example", audience: "nim" }), undefined, settings),
    );
    await expectInvalid(
      await issue(await hsJwt(uid, { issuer: "https://app.example", audience: "other" }), undefined, settings),
    );
    await expectInvalid(await issue(await hsJwt(uid), undefined, settings));
  });
});

describe("JWKS sessions (identity provider)", () => {
  it("accepts a valid ES256 token from the JWKS", async () => {
    expect((await issue(await esJwt(uniqueUid()), undefined, jwksMode())).status).toBe(200);
  });

  it("refuses HS256 tokens, including one signed with the JWKS public key as an HMAC secret", async () => {
    const jwks = await (await fetch(`${env.IDP_URL}/jwks.json`)).text();
    await expectInvalid(await issue(await hsJwt(uniqueUid(), {}, jwks), undefined, jwksMode()));
    const publicJwk = JSON.stringify((JSON.parse(jwks) as { keys: unknown[] }).keys[0]);
    await expectInvalid(await issue(await hsJwt(uniqueUid(), {}, publicJwk), undefined, jwksMode()));
    await expectInvalid(await issue(await hsJwt(uniqueUid()), undefined, jwksMode()));
  });

  it("refuses an unknown kid, an expired token and a tampered signature", async () => {
    await expectInvalid(await issue(await esJwt(uniqueUid(), { kid: "unknown" }), undefined, jwksMode()));
    await expectInvalid(await issue(await esJwt(uniqueUid(), { expiresIn: -60 }), undefined, jwksMode()));
    const jwt = await esJwt(uniqueUid());
    const tampered = jwt.slice(0, -4) + (jwt.endsWith("AAAA") ? "BBBB" : "AAAA");
    await expectInvalid(await issue(tampered, undefined, jwksMode()));
  });

  it("refuses an ES256 signature respelled with non-zero unused bits", async () => {
    const jwt = await esJwt(uniqueUid());
    await expectInvalid(await issue(respellSignature(jwt), undefined, jwksMode()));
    expect((await issue(jwt, undefined, jwksMode())).status).toBe(200);
  });

  it("accepts both kinds when both the secret and a JWKS are configured", async () => {
    const both = jwksSettings("/jwks.json", true);
    expect((await issue(await esJwt(uniqueUid()), undefined, both)).status).toBe(200);
    // The pinned issuer and audience apply to every session, whichever key signed it.
    expect((await issue(await hsJwt(uniqueUid(), { ...TEST_IDP }), undefined, both)).status).toBe(200);
    await expectInvalid(await issue(await hsJwt(uniqueUid()), undefined, both));
  });

  it("answers 503 session_keys_unavailable when the JWKS cannot be fetched and no keys are cached", async () => {
    const response = await issue(
      await esJwt(uniqueUid()),
      undefined,
      jwksSettings(`/down-${crypto.randomUUID()}.json`),
    );
    expect(response.status).toBe(503);
    expect(response.headers.get("Retry-After")).toBeTruthy();
    expect((await response.json<{ error: string }>()).error).toBe("session_keys_unavailable");
  });
});

describe("isCanonicalBase64url (known answers)", () => {
  it("accepts only zero unused bits, and refuses a length that encodes no whole byte", () => {
    expect(isCanonicalBase64url("")).toBe(true);
    expect(isCanonicalBase64url("QUJD")).toBe(true); // "ABC", no unused bits
    expect(isCanonicalBase64url("QQ")).toBe(true); // "A": 4 unused bits, all zero
    expect(isCanonicalBase64url("QR")).toBe(false); // same byte, unused bits 0001
    expect(isCanonicalBase64url("QUI")).toBe(true); // "AB": 2 unused bits, zero
    expect(isCanonicalBase64url("QUJ")).toBe(false); // same bytes, unused bits 01
    expect(isCanonicalBase64url("QUJDR")).toBe(false); // 5 characters: 30 bits, no whole last byte
    // The fuzz counterexample from CI: an HS256 signature ending in "Y" (011000) respelled as "b" (011011).
    expect(isCanonicalBase64url("BoZIgcQJpq3-kgLN-WZpNH6eMfi15jiePElx7v1cNrY")).toBe(true);
    expect(isCanonicalBase64url("BoZIgcQJpq3-kgLN-WZpNH6eMfi15jiePElx7v1cNrb")).toBe(false);
  });
});
