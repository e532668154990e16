/**
 * The identity-provider presets against tokens shaped as each provider issues them
 * (test/fixtures/identity-providers.json), signed with test keys served in that provider's own key
 * format at the URL the preset derives, and each provider's own refusals. The key URLs are the
 * providers' real ones, so the verifier is given a fetch that serves them from here; the rest of
 * the path (key import, selection, claims) is the Worker's.
 */

import {
  exportJWK,
  generateKeyPair,
  importPKCS8,
  type CryptoKey as JoseKey,
  type JWTHeaderParameters,
  SignJWT,
} from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { SessionVerifier } from "../../src/session/verify.ts";
import fixtures from "../fixtures/identity-providers.json";
import { ALL_PARSERS } from "../setting-parsers.ts";
import { env, hsJwt, uniqueUid } from "./helpers.ts";

type Shape = {
  settings: Record<string, unknown>;
  keyFormat: "jwks" | "x509";
  keysUrl: string;
  alg?: string;
  certificate?: string;
  privateKey?: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  accessClaims?: Record<string, unknown>;
};
const PROVIDERS = ["firebase", "supabase", "auth0", "clerk", "cognito", "keycloak"] as const;
type Name = (typeof PROVIDERS)[number];
const shapes = fixtures as unknown as Record<Name, Shape>;

const signingKeys = new Map<Name, JoseKey>();
/** What each provider's key URL serves, and how often it was asked. */
const served = new Map<string, { body: string; fetches: number }>();

beforeAll(async () => {
  for (const name of PROVIDERS) {
    const shape = shapes[name];
    const kid = shape.header.kid as string;
    if (shape.keyFormat === "x509") {
      signingKeys.set(name, await importPKCS8(shape.privateKey!, "RS256"));
      served.set(shape.keysUrl, { body: JSON.stringify({ [kid]: shape.certificate }), fetches: 0 });
    } else {
      const { publicKey, privateKey } = await generateKeyPair(shape.alg!, { extractable: true });
      signingKeys.set(name, privateKey);
      const jwk = { ...(await exportJWK(publicKey)), kid, alg: shape.alg, use: "sig" };
      served.set(shape.keysUrl, { body: JSON.stringify({ keys: [jwk] }), fetches: 0 });
    }
  }
});

/** A fetch that answers the providers' key URLs from the fixtures, and nothing else. */
const fixtureFetch: typeof fetch = async (input) => {
  const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
  const found = served.get(url);
  if (!found) return new Response("not a fixture URL", { status: 404 });
  found.fetches += 1;
  return new Response(found.body, { headers: { "Content-Type": "application/json" } });
};

/** The verifier the Worker would build from these SESSION_ISSUERS entries (no secret). */
function verifierFor(...entries: Record<string, unknown>[]): SessionVerifier {
  const config = parseConfig(
    { ...env, SESSION_JWT_SECRET: "", SESSION_ISSUERS: JSON.stringify(entries) } as Env,
    ALL_PARSERS,
  );
  return new SessionVerifier(config.session, { fetch: fixtureFetch });
}

const TIME_CLAIMS = new Set(["iat", "exp", "nbf", "auth_time"]);

/** The provider's token for `uid`, with claims changed by `change` (undefined removes one). */
async function tokenOf(
  name: Name,
  uid: string,
  change: Record<string, unknown> = {},
  options: { claims?: "claims" | "accessClaims"; header?: Record<string, unknown>; key?: JoseKey } = {},
): Promise<string> {
  const shape = shapes[name];
  const now = Math.floor(Date.now() / 1000);
  const claims: Record<string, unknown> = {};
  for (const [claim, value] of Object.entries({ ...shape[options.claims ?? "claims"], ...change })) {
    if (value === undefined) continue;
    claims[claim] = value === "$uid" ? uid : TIME_CLAIMS.has(claim) && typeof value === "number" ? now + value : value;
  }
  // Supabase's sign-in times sit in `amr` entries: relative in the fixture, like the other times.
  if (Array.isArray(claims.amr)) {
    claims.amr = claims.amr.map((entry: { timestamp?: unknown }) =>
      typeof entry.timestamp === "number" ? { ...entry, timestamp: now + entry.timestamp } : entry,
    );
  }
  return new SignJWT(claims)
    .setProtectedHeader({ ...shape.header, ...options.header } as JWTHeaderParameters)
    .sign(options.key ?? signingKeys.get(name)!);
}

async function refusal(verifier: SessionVerifier, jwt: string): Promise<string | undefined> {
  try {
    await verifier.verify(jwt);
    return undefined;
  } catch (error) {
    return (error as { detail?: string }).detail;
  }
}

describe("identity-provider presets", () => {
  for (const name of PROVIDERS) {
    it(`${name}: accepts its tokens as issued, from keys in its own format at its own URL`, async () => {
      const shape = shapes[name];
      const verifier = verifierFor(shape.settings);
      const uid = uniqueUid(name);
      const session = await verifier.verify(await tokenOf(name, uid));
      expect(session.uid).toBe(uid);
      expect(served.get(shape.keysUrl)!.fetches).toBeGreaterThan(0);
      // Another key with the same kid (a forged token) is refused.
      const { privateKey } = await generateKeyPair(shape.keyFormat === "x509" ? "RS256" : shape.alg!);
      expect(await refusal(verifier, await tokenOf(name, uid, {}, { key: privateKey }))).toBe(
        `${name}: signature mismatch`,
      );
      // A kid it does not publish: named in the log.
      expect(await refusal(verifier, await tokenOf(name, uid, {}, { header: { kid: "not-published" } }))).toBe(
        `${name}: unknown kid`,
      );
    });
  }

  it("firebase: refuses auth_time in the future or missing, another project's token, and a wrong issuer", async () => {
    const verifier = verifierFor(shapes.firebase.settings);
    const uid = uniqueUid();
    expect(await refusal(verifier, await tokenOf("firebase", uid, { auth_time: 120 }))).toBe(
      "firebase: auth_time is in the future",
    );
    expect(await refusal(verifier, await tokenOf("firebase", uid, { auth_time: undefined }))).toBe(
      "firebase: auth_time missing",
    );
    expect(await refusal(verifier, await tokenOf("firebase", uid, { aud: "another-project" }))).toBe(
      "firebase: aud mismatch: expected nim-demo-1234",
    );
    expect(
      await refusal(
        verifier,
        await tokenOf("firebase", uid, { iss: "https://securetoken.google.com/another-project" }),
      ),
    ).toBe("firebase: iss mismatch: expected https://securetoken.google.com/nim-demo-1234");
    // Within the clock tolerance a just-signed-in auth_time passes.
    expect((await verifier.verify(await tokenOf("firebase", uid, { auth_time: 5 }))).uid).toBe(uid);
  });

  it("reads each provider's sign-in time, which a refreshed token keeps, and refuses a token without it where the provider always sends it", async () => {
    const now = Math.floor(Date.now() / 1000);
    // What each provider's token says of its sign-in, relative to now, as the fixtures shape it.
    const signedIn: Record<Name, number> = {
      firebase: -600, // auth_time
      supabase: -60, // the earliest amr timestamp
      auth0: 0, // none: iat
      clerk: -60, // iat less fva[0] + 1 minutes: at or before the sign-in
      cognito: -30, // auth_time
      keycloak: -20, // auth_time
    };
    for (const name of PROVIDERS) {
      const verifier = verifierFor(shapes[name].settings);
      const session = await verifier.verify(await tokenOf(name, uniqueUid(name)));
      expect(Math.abs(session.signedInAt! - (now + signedIn[name]) * 1000), name).toBeLessThanOrEqual(1_000);
    }
    // Refreshed an hour after signing in: a new iat, the same sign-in.
    const refreshed = async (name: Name, change: Record<string, unknown>) =>
      (await verifierFor(shapes[name].settings).verify(await tokenOf(name, uniqueUid(name), change))).signedInAt;
    const hourAgo = (now - 3600) * 1000;
    // tokenOf reads the clock again: a second may have ticked since `now`.
    const nearHourAgo = (signedInAt: number | undefined) => expect(signedInAt! - hourAgo).oneOf([0, 1000]);
    nearHourAgo(await refreshed("firebase", { auth_time: -3600, iat: 0 }));
    nearHourAgo(await refreshed("cognito", { auth_time: -3600 }));
    nearHourAgo(await refreshed("keycloak", { auth_time: -3600 }));
    // Supabase: the first factor's time, not a later MFA step's.
    // (Relative to now, as tokenOf writes every time.)
    const amr = [
      { method: "totp", timestamp: -60 },
      { method: "password", timestamp: -3600 },
    ];
    nearHourAgo(await refreshed("supabase", { amr }));
    // Clerk: 59 whole minutes since the first factor was verified: signed in 59 to 60 minutes ago,
    // so no later than an hour ago.
    nearHourAgo(await refreshed("clerk", { fva: [59, -1] }));
    // Where the provider always sends it, a token without it is refused, and the log says why.
    for (const [name, change, why] of [
      ["firebase", { auth_time: undefined }, "auth_time missing"],
      ["cognito", { auth_time: undefined }, "auth_time missing"],
      ["keycloak", { auth_time: undefined }, "auth_time missing"],
      ["keycloak", { auth_time: "yesterday" }, "auth_time is not a time"],
      ["supabase", { amr: undefined }, "amr has no timestamp"],
      ["supabase", { amr: ["pwd"] }, "amr has no timestamp"],
      ["clerk", { fva: undefined }, "fva missing (Clerk session token v2)"],
      ["clerk", { fva: [-1, -1] }, "fva missing (Clerk session token v2)"],
      ["cognito", { auth_time: 600 }, "auth_time is in the future"],
    ] as const) {
      const verifier = verifierFor(shapes[name].settings);
      expect(await refusal(verifier, await tokenOf(name, uniqueUid(), change)), `${name} ${why}`).toBe(
        `${name}: ${why}`,
      );
    }
  });

  it("takes the sign-in time from a claim the operator names: seconds, milliseconds or ISO 8601", async () => {
    const now = Math.floor(Date.now() / 1000);
    const auth0 = { ...shapes.auth0.settings, signInClaim: "https://im.example.com/signed_in" };
    const verifier = verifierFor(auth0);
    const at = async (value: unknown) =>
      verifier.verify(await tokenOf("auth0", uniqueUid(), { "https://im.example.com/signed_in": value }));
    expect((await at(now - 3600)).signedInAt).toBe((now - 3600) * 1000);
    expect((await at((now - 3600) * 1000 + 250)).signedInAt).toBe((now - 3600) * 1000 + 250);
    expect((await at(new Date((now - 60) * 1000).toISOString())).signedInAt).toBe((now - 60) * 1000);
    // Named, it is required.
    expect(await refusal(verifier, await tokenOf("auth0", uniqueUid()))).toBe(
      "auth0: https://im.example.com/signed_in missing",
    );
  });

  it("clerk: refuses a token whose azp is another origin, or that has none", async () => {
    const verifier = verifierFor(shapes.clerk.settings);
    const uid = uniqueUid();
    expect(await refusal(verifier, await tokenOf("clerk", uid, { azp: "https://evil.example.com" }))).toBe(
      "clerk: azp mismatch: expected one of https://app.example.com",
    );
    expect(await refusal(verifier, await tokenOf("clerk", uid, { azp: undefined }))).toMatch(/^clerk: azp mismatch/);
  });

  it("cognito: refuses an access token where ID tokens are required, and the reverse", async () => {
    const idOnly = verifierFor(shapes.cognito.settings);
    const uid = uniqueUid();
    // An access token has no aud: jose refuses it on the audience rule before token_use is read.
    expect(await refusal(idOnly, await tokenOf("cognito", uid, {}, { claims: "accessClaims" }))).toBe(
      "cognito: aud missing: expected 4q7b2n8c5v1x3z6m9k0j2h4g5f",
    );
    // An ID token re-labelled as an access token (same aud) is refused on token_use.
    expect(await refusal(idOnly, await tokenOf("cognito", uid, { token_use: "access" }))).toBe(
      "cognito: token_use mismatch: expected id",
    );
    const accessOnly = verifierFor({ ...shapes.cognito.settings, tokenUse: "access", uidClaim: "username" });
    expect(
      (await accessOnly.verify(await tokenOf("cognito", uid, { username: uid }, { claims: "accessClaims" }))).uid,
    ).toBe(uid);
    expect(await refusal(accessOnly, await tokenOf("cognito", uid, { username: uid }))).toBe(
      "cognito: client_id mismatch: expected 4q7b2n8c5v1x3z6m9k0j2h4g5f",
    );
    expect(
      await refusal(
        accessOnly,
        await tokenOf("cognito", uid, { client_id: "another-client" }, { claims: "accessClaims" }),
      ),
    ).toBe("cognito: client_id mismatch: expected 4q7b2n8c5v1x3z6m9k0j2h4g5f");
  });

  it("cognito: takes the uid from another claim when told, still under the uid rule", async () => {
    const verifier = verifierFor({ ...shapes.cognito.settings, uidClaim: "cognito:username" });
    expect((await verifier.verify(await tokenOf("cognito", uniqueUid(), { "cognito:username": "mei-42" }))).uid).toBe(
      "mei-42",
    );
    await expect(
      verifier.verify(await tokenOf("cognito", uniqueUid(), { "cognito:username": "x".repeat(257) })),
    ).rejects.toMatchObject({
      detail: "cognito:username breaks the uid rule",
    });
  });

  it("supabase: refuses the anon role's audience and another project's tokens", async () => {
    const verifier = verifierFor(shapes.supabase.settings);
    const uid = uniqueUid();
    expect(await refusal(verifier, await tokenOf("supabase", uid, { aud: "anon" }))).toBe(
      "supabase: aud mismatch: expected authenticated",
    );
    expect(
      await refusal(
        verifier,
        await tokenOf("supabase", uid, { iss: "https://zyxwvutsrqponmlkjihg.supabase.co/auth/v1" }),
      ),
    ).toMatch(/^supabase: iss mismatch/);
  });

  it("auth0: needs the issuer's trailing slash and the API identifier among the audiences", async () => {
    const verifier = verifierFor(shapes.auth0.settings);
    const uid = uniqueUid();
    expect(await refusal(verifier, await tokenOf("auth0", uid, { iss: "https://nim-demo.eu.auth0.com" }))).toMatch(
      /^auth0: iss mismatch/,
    );
    expect(await refusal(verifier, await tokenOf("auth0", uid, { aud: "https://other-api.example.com" }))).toBe(
      "auth0: aud mismatch: expected https://im.example.com",
    );
  });

  it("keycloak: takes preferred_username as the uid, and refuses a token without the audience mapper's aud", async () => {
    const verifier = verifierFor(shapes.keycloak.settings);
    const uid = uniqueUid();
    expect((await verifier.verify(await tokenOf("keycloak", uid))).uid).toBe(uid);
    expect(await refusal(verifier, await tokenOf("keycloak", uid, { aud: "account" }))).toBe(
      "keycloak: aud mismatch: expected nim-token-worker",
    );
  });

  it("never verifies HS256 with a provider's public key, nor accepts alg none", async () => {
    const verifier = verifierFor(shapes.firebase.settings);
    const uid = uniqueUid();
    // The classic confusion: HS256 "signed" with the public certificate's text as the HMAC secret.
    const claims = { ...shapes.firebase.claims, sub: uid, user_id: uid };
    const now = Math.floor(Date.now() / 1000);
    const confused = await new SignJWT({ ...claims, iat: now, exp: now + 600, auth_time: now - 60 })
      .setProtectedHeader({ alg: "HS256", kid: shapes.firebase.header.kid as string })
      .sign(new TextEncoder().encode(shapes.firebase.certificate!));
    expect(await refusal(verifier, confused)).toBe("firebase: alg not allowed for this issuer");
    const none = `${btoa(JSON.stringify({ alg: "none" })).replace(/=+$/, "")}.${btoa(JSON.stringify({ ...claims, exp: now + 600 })).replace(/=+$/, "")}.`;
    expect(await refusal(verifier, none)).toBe("not a compact JWS");
  });
});

describe("an OpenID provider's discovery document", () => {
  it("limits the algorithms to those it advertises, follows moved keys, and needs its issuer to match exactly", async () => {
    const issuer = "https://idp.example.com";
    const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: "ec-1", use: "sig" };
    let document: Record<string, unknown> = {
      issuer,
      jwks_uri: `${issuer}/keys`,
      id_token_signing_alg_values_supported: ["RS256"],
    };
    const discoveryFetch: typeof fetch = async (input) => {
      const url = String(input instanceof Request ? input.url : input);
      if (url === `${issuer}/.well-known/openid-configuration`) return Response.json(document);
      if (url === document.jwks_uri) return Response.json({ keys: [jwk] });
      return new Response("no", { status: 404 });
    };
    /** The one-issuer settings of an OpenID provider at `issuer`, as the Worker parses them. */
    const oidcConfig = () =>
      parseConfig(
        { ...env, SESSION_JWT_SECRET: "", SESSION_OIDC_ISSUER: issuer, SESSION_JWT_AUDIENCE: "app" } as Env,
        ALL_PARSERS,
      );
    const verifierNow = () => new SessionVerifier(oidcConfig().session, { fetch: discoveryFetch });
    const uid = uniqueUid();
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ sub: uid, iss: issuer, aud: "app", iat: now, exp: now + 600 })
      .setProtectedHeader({ alg: "ES256", kid: "ec-1" })
      .sign(privateKey);
    // Signed with a key it publishes, but with an algorithm it does not say it uses.
    expect(await refusal(verifierNow(), token)).toBe("oidc: alg not allowed for this issuer");
    document = { ...document, id_token_signing_alg_values_supported: ["RS256", "ES256", "HS256", "none"] };
    expect((await verifierNow().verify(token)).uid).toBe(uid);
    // Advertising HS256 or none changes nothing: they are never accepted from a provider.
    const hs = await hsJwt(uid, { issuer, audience: "app" });
    expect(await refusal(verifierNow(), hs)).toBe("oidc: alg not allowed for this issuer");
    // The provider moves its keys: once the old jwks_uri fails, the document is read again.
    let clock = Date.now();
    const config = oidcConfig();
    const clocked = new SessionVerifier(config.session, { fetch: discoveryFetch, now: () => clock });
    expect((await clocked.verify(token)).uid).toBe(uid);
    document = { ...document, jwks_uri: `${issuer}/moved-keys` };
    clock += 6 * 60_000; // the keys are stale: the refresh fails at the old URL, the stale keys serve
    expect((await clocked.verify(token)).uid).toBe(uid);
    expect(await clocked.keySources[0]!.check()).toBe("HTTP 404 for the JWKS");
    clock += 31_000; // past the cool-down: the document is read again and names the new URL
    expect(await clocked.keySources[0]!.check()).toBe("ok");
    // A document that names another issuer is not followed.
    document = { ...document, issuer: "https://evil.example.com" };
    await expect(verifierNow().verify(token)).rejects.toMatchObject({
      detail: "oidc: no keys: discovery document names another issuer",
    });
  });
});

describe("several issuers at once", () => {
  const entries = () => [
    { ...shapes.firebase.settings, uidPrefix: "" },
    { ...shapes.supabase.settings, uidPrefix: "sb:" },
    { provider: "secret", issuer: "https://staff.example.com", uidPrefix: "staff:" },
  ];

  it("checks each token against the issuer it names only", async () => {
    const config = parseConfig({ ...env, SESSION_ISSUERS: JSON.stringify(entries()) } as Env, ALL_PARSERS);
    const verifier = new SessionVerifier(config.session, { fetch: fixtureFetch });
    const uid = uniqueUid();
    expect((await verifier.verify(await tokenOf("firebase", uid))).uid).toBe(uid);
    expect((await verifier.verify(await tokenOf("supabase", uid))).uid).toBe(`sb:${uid}`);
    expect((await verifier.verify(await hsJwt(uid, { issuer: "https://staff.example.com" }))).uid).toBe(`staff:${uid}`);
    // Supabase's claims signed with Supabase's key but naming Firebase: Firebase's rules and keys apply.
    const crossed = await tokenOf("supabase", uid, { iss: "https://securetoken.google.com/nim-demo-1234" });
    expect(await refusal(verifier, crossed)).toMatch(/^firebase: (alg not allowed for this issuer|unknown kid)$/);
    // The shared secret cannot sign for Firebase, nor for an issuer nobody configured.
    expect(await refusal(verifier, await hsJwt(uid, { issuer: "https://securetoken.google.com/nim-demo-1234" }))).toBe(
      "firebase: alg not allowed for this issuer",
    );
    expect(await refusal(verifier, await hsJwt(uid, { issuer: "https://elsewhere.example.com" }))).toBe(
      "iss names no configured issuer",
    );
    expect(await refusal(verifier, await hsJwt(uid))).toBe("no iss");
  });

  it("lets a secret without a pinned issuer take the tokens no other issuer claims, never a preset's", async () => {
    const list = [
      { ...shapes.firebase.settings, uidPrefix: "" },
      { provider: "secret", uidPrefix: "" },
    ];
    const config = parseConfig({ ...env, SESSION_ISSUERS: JSON.stringify(list) } as Env, ALL_PARSERS);
    const verifier = new SessionVerifier(config.session, { fetch: fixtureFetch });
    const uid = uniqueUid();
    expect((await verifier.verify(await hsJwt(uid))).uid).toBe(uid);
    expect((await verifier.verify(await hsJwt(uid, { issuer: "https://anything.example.com" }))).uid).toBe(uid);
    expect(await refusal(verifier, await hsJwt(uid, { issuer: "https://securetoken.google.com/nim-demo-1234" }))).toBe(
      "firebase: alg not allowed for this issuer",
    );
  });

  it("lets a legacy HS256 secret join a one-line provider (a Supabase project moving to signing keys)", async () => {
    const config = parseConfig({ ...env, SESSION_PROVIDER: "supabase:abcdefghijklmnopqrst" } as Env, ALL_PARSERS);
    const verifier = new SessionVerifier(config.session, { fetch: fixtureFetch });
    const uid = uniqueUid();
    const issuer = "https://abcdefghijklmnopqrst.supabase.co/auth/v1";
    // Supabase's legacy tokens, like its new ones, say when the user signed in in `amr`.
    const amr = [{ method: "password", timestamp: Math.floor(Date.now() / 1000) - 60 }];
    expect((await verifier.verify(await tokenOf("supabase", uid))).uid).toBe(uid);
    expect((await verifier.verify(await hsJwt(uid, { issuer, audience: "authenticated", claims: { amr } }))).uid).toBe(
      uid,
    );
    // The provider's rules hold for the secret's tokens too.
    expect(await refusal(verifier, await hsJwt(uid, { issuer, audience: "anon", claims: { amr } }))).toBe(
      "supabase: aud mismatch: expected authenticated",
    );
    expect(await refusal(verifier, await hsJwt(uid, { issuer, audience: "authenticated" }))).toBe(
      "supabase: amr has no timestamp",
    );
  });
});
