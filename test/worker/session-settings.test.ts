/**
 * The SESSION_* settings: what /healthz refuses (every issuer with public keys needs an audience
 * rule; one way to say each thing), and several issuers at once through the Worker itself.
 */

import { describe, expect, it } from "vitest";
import type { TokenResponse } from "../../src/contract/responses.ts";
import { OIDC_CLIENT_SECRET, OIDC_CLIENTS, OIDC_REDIRECT_URI } from "../oidc/clients.ts";
import { loginIdToken } from "../oidc/flows.ts";
import { adminCall, call, env, esJwt, hsJwt, issue, ownRuntime, seg, TEST_IDP, uniqueUid } from "./helpers.ts";

async function health(
  overrides: Record<string, unknown>,
): Promise<{ status: number; invalid: string[]; missing: string[] }> {
  const response = await call("/healthz", {}, overrides);
  const body = await response.json<{ invalid?: string[]; missing?: string[] }>();
  return { status: response.status, invalid: body.invalid ?? [], missing: body.missing ?? [] };
}

describe("session settings on /healthz", () => {
  it("refuses an OpenID issuer, a JWKS or an audience-needing preset without an audience rule", async () => {
    for (const [overrides, invalid] of [
      [{ SESSION_OIDC_ISSUER: "https://idp.example.com" }, ["SESSION_JWT_AUDIENCE"]],
      [{ SESSION_PROVIDER: "auth0:my-app.eu.auth0.com" }, ["SESSION_JWT_AUDIENCE"]],
      [{ SESSION_PROVIDER: "cognito:eu-west-1_AbC123" }, ["SESSION_JWT_AUDIENCE"]],
      [{ SESSION_PROVIDER: "keycloak:https://sso.example.com/realms/main" }, ["SESSION_JWT_AUDIENCE"]],
      [{ SESSION_PROVIDER: "clerk:clerk.example.com" }, ["SESSION_AUTHORIZED_PARTIES"]],
      [{ SESSION_JWKS_URL: "https://idp.example.com/jwks.json" }, ["SESSION_JWT_ISSUER", "SESSION_JWT_AUDIENCE"]],
      [{ SESSION_ISSUERS: '[{"provider":"oidc:https://idp.example.com"}]' }, ["SESSION_ISSUERS"]],
    ] as const) {
      const found = await health({ ...overrides, SESSION_JWT_SECRET: "" });
      expect(found.status, JSON.stringify(overrides)).toBe(503);
      expect(found.invalid, JSON.stringify(overrides)).toEqual(invalid);
    }
  });

  it("accepts the one-line presets that derive their audience, and each preset with its audience", async () => {
    for (const overrides of [
      { SESSION_PROVIDER: "firebase:my-project-1234" },
      { SESSION_PROVIDER: "supabase:abcdefghijklmnopqrst" },
      { SESSION_PROVIDER: "auth0:my-app.eu.auth0.com", SESSION_JWT_AUDIENCE: "https://im.example.com" },
      { SESSION_PROVIDER: "clerk:clerk.example.com", SESSION_AUTHORIZED_PARTIES: "https://app.example.com" },
      { SESSION_PROVIDER: "cognito:eu-west-1_AbC123", SESSION_JWT_AUDIENCE: "client", SESSION_TOKEN_USE: "access" },
      { SESSION_OIDC_ISSUER: "https://idp.example.com", SESSION_JWT_AUDIENCE: "app", SESSION_UID_CLAIM: "email" },
    ]) {
      expect(await health(overrides), JSON.stringify(overrides)).toMatchObject({ status: 200 });
    }
  });

  it("refuses malformed presets, two ways of saying one issuer, and settings that do not apply", async () => {
    for (const [overrides, invalid] of [
      [{ SESSION_PROVIDER: "firebase" }, ["SESSION_PROVIDER"]],
      [{ SESSION_PROVIDER: "okta:example.okta.com" }, ["SESSION_PROVIDER"]],
      [{ SESSION_PROVIDER: "cognito:not-a-pool", SESSION_JWT_AUDIENCE: "c" }, ["SESSION_PROVIDER"]],
      [{ SESSION_PROVIDER: "oidc:https://idp.example.com", SESSION_JWT_AUDIENCE: "a" }, ["SESSION_PROVIDER"]],
      [{ SESSION_OIDC_ISSUER: "http://idp.example.com", SESSION_JWT_AUDIENCE: "a" }, ["SESSION_OIDC_ISSUER"]],
      [{ SESSION_PROVIDER: "firebase:my-project-1234", SESSION_JWT_AUDIENCE: "x" }, ["SESSION_JWT_AUDIENCE"]],
      [{ SESSION_PROVIDER: "firebase:my-project-1234", SESSION_JWT_ISSUER: "x" }, ["SESSION_JWT_ISSUER"]],
      [
        { SESSION_PROVIDER: "firebase:my-project-1234", SESSION_OIDC_ISSUER: "https://a.example" },
        ["SESSION_OIDC_ISSUER"],
      ],
      [{ SESSION_PROVIDER: "firebase:my-project-1234", SESSION_TOKEN_USE: "id" }, ["SESSION_TOKEN_USE"]],
      [{ SESSION_UID_CLAIM: "bad claim!", SESSION_JWT_SECRET: env.SESSION_JWT_SECRET! }, ["SESSION_UID_CLAIM"]],
      [{ SESSION_TOKEN_USE: "id", SESSION_JWT_SECRET: env.SESSION_JWT_SECRET! }, ["SESSION_TOKEN_USE"]],
      [{ SESSION_ISSUERS: "not json" }, ["SESSION_ISSUERS"]],
      [{ SESSION_ISSUERS: '[{"provider":"firebase:my-project-1234","extra":1}]' }, ["SESSION_ISSUERS"]],
      [
        {
          SESSION_ISSUERS:
            '[{"provider":"firebase:my-project-1234"},{"provider":"firebase:my-project-1234","name":"b"}]',
        },
        ["SESSION_ISSUERS"],
      ],
      [
        { SESSION_ISSUERS: '[{"provider":"firebase:my-project-1234"}]', SESSION_PROVIDER: "firebase:x-project-1" },
        ["SESSION_PROVIDER"],
      ],
    ] as const) {
      const found = await health({ SESSION_JWT_SECRET: "", ...overrides });
      expect(found.status, JSON.stringify(overrides)).toBe(503);
      expect(found.invalid, JSON.stringify(overrides)).toEqual(invalid);
    }
    // A secret nothing uses is refused rather than silently ignored.
    expect((await health({ SESSION_ISSUERS: '[{"provider":"firebase:my-project-1234"}]' })).invalid).toEqual([
      "SESSION_JWT_SECRET",
    ]);
  });
});

describe("several issuers through the Worker", () => {
  it("serves the real OpenID provider, a JWKS and the shared secret side by side, each by its own rules", async () => {
    const settings = {
      ...ownRuntime(),
      SESSION_ISSUERS: JSON.stringify([
        { provider: `oidc:${env.OIDC_ISSUER}`, audience: OIDC_CLIENTS.rs256.id, name: "customers", uidPrefix: "" },
        {
          provider: `jwks:${env.IDP_URL}/jwks/${crypto.randomUUID()}.json`,
          issuer: TEST_IDP.issuer,
          audience: TEST_IDP.audience,
          name: "staff",
          uidPrefix: "staff:",
        },
        { provider: "secret", issuer: "https://backend.example.com", uidPrefix: "backend:" },
      ]),
    };
    const provider = { issuer: env.OIDC_ISSUER, clientSecret: OIDC_CLIENT_SECRET, redirectUri: OIDC_REDIRECT_URI };
    expect(
      (await issue(await loginIdToken(provider, OIDC_CLIENTS.rs256.id, uniqueUid()), undefined, settings)).status,
    ).toBe(200);
    expect((await issue(await esJwt(uniqueUid()), undefined, settings)).status).toBe(200);
    expect(
      (await issue(await hsJwt(uniqueUid(), { issuer: "https://backend.example.com" }), undefined, settings)).status,
    ).toBe(200);
    // The stand-in IdP's key signing for the OpenID provider's issuer: checked against that issuer's keys only.
    expect(
      (
        await issue(
          await esJwt(uniqueUid(), { issuer: env.OIDC_ISSUER, audience: OIDC_CLIENTS.rs256.id }),
          undefined,
          settings,
        )
      ).status,
    ).toBe(401);
    // The secret signing for the staff issuer, and a secret token with no issuer at all.
    expect(
      (
        await issue(
          await hsJwt(uniqueUid(), { issuer: TEST_IDP.issuer, audience: TEST_IDP.audience }),
          undefined,
          settings,
        )
      ).status,
    ).toBe(401);
    expect((await issue(await hsJwt(uniqueUid()), undefined, settings)).status).toBe(401);
    // The readiness checks name each issuer's keys (for an operator).
    const ready = await adminCall("GET", "/ready", undefined, { overrides: settings });
    const { checks } = await ready.json<{ checks: Record<string, { ok: boolean }> }>();
    expect(Object.keys(checks).filter((name) => name.startsWith("keys:"))).toEqual(["keys:customers", "keys:staff"]);
    expect(checks["keys:customers"]!.ok && checks["keys:staff"]!.ok).toBe(true);
  });

  /** Staff from the stand-in identity provider (uids `staff:<sub>`), customers from the app's backend (bare subs). */
  const apart = (customers: Record<string, unknown> = { uidPrefix: "" }) => ({
    ...ownRuntime(),
    SESSION_ISSUERS: JSON.stringify([
      {
        provider: `jwks:${env.IDP_URL}/jwks/${crypto.randomUUID()}.json`,
        issuer: TEST_IDP.issuer,
        audience: TEST_IDP.audience,
        name: "staff",
        uidPrefix: "staff:",
      },
      { provider: "secret", issuer: "https://backend.example.com", ...customers },
    ]),
  });

  it("keeps two issuers' users apart: the same sub at each is two uids, two accounts, two accids", async () => {
    const settings = apart();
    const sub = uniqueUid("1001");
    const staff = await issue(await esJwt(sub), undefined, settings);
    const customer = await issue(await hsJwt(sub, { issuer: "https://backend.example.com" }), undefined, settings);
    expect([staff.status, customer.status]).toEqual([200, 200]);
    const staffAccid = (await staff.json<TokenResponse>()).accid;
    const customerAccid = (await customer.json<TokenResponse>()).accid;
    expect(staffAccid).not.toBe(customerAccid);
    // The admin API names the staff member's uid plainly, and each uid has its own account.
    const staffView = await adminCall("GET", `/accounts/${seg(`staff:${sub}`)}`);
    expect(await staffView.json()).toMatchObject({ uid: `staff:${sub}`, accid: staffAccid });
    expect(await (await adminCall("GET", `/accounts/${seg(sub)}`)).json()).toMatchObject({
      uid: sub,
      accid: customerAccid,
    });
    // A customer whose sub reads like a staff uid does not become that staff member: the uid
    // belongs to the issuer with the longest prefix it starts with.
    const spoof = await issue(
      await hsJwt(`staff:${sub}`, { issuer: "https://backend.example.com" }),
      undefined,
      settings,
    );
    expect(spoof.status).toBe(401);
    expect(await spoof.json()).toMatchObject({ error: "invalid_session" });
  });

  it("shares users between two entries only when both say so with the same prefix, and refuses a list that leaves it unsaid", async () => {
    const sub = uniqueUid("moving");
    const shared = apart({ uidPrefix: "staff:" });
    const fromIdp = await issue(await esJwt(sub), undefined, shared);
    const fromBackend = await issue(await hsJwt(sub, { issuer: "https://backend.example.com" }), undefined, shared);
    expect((await fromIdp.json<TokenResponse>()).accid).toBe((await fromBackend.json<TokenResponse>()).accid);
    // Several entries, one without a uidPrefix: refused, naming SESSION_ISSUERS, rather than shared.
    const unsaid = apart({});
    expect(await health(unsaid)).toMatchObject({ status: 503, invalid: ["SESSION_ISSUERS"] });
    expect((await issue(await esJwt(sub), undefined, unsaid)).status).toBe(500);
    // A prefix that is not a plain label ending in ":" is refused too.
    expect(await health(apart({ uidPrefix: "staff" }))).toMatchObject({ status: 503, invalid: ["SESSION_ISSUERS"] });
  });
});
