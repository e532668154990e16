/**
 * A real OpenID provider (panva's oidc-provider, started by the global setup; test/oidc/provider.ts)
 * issuing real tokens from its own flows, and the Worker configured with SESSION_OIDC_ISSUER and an
 * audience alone: discovery, its JWKS, RS256/ES256/EdDSA, another client's tokens, a key rotation,
 * and an outage.
 */

import { decodeProtectedHeader } from "jose";
import { describe, expect, it, vi } from "vitest";
import { parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { SessionVerifier } from "../../src/session/verify.ts";
import { OIDC_CLIENT_SECRET, OIDC_CLIENTS, OIDC_REDIRECT_URI, OIDC_RESOURCE } from "../oidc/clients.ts";
import { clientCredentialsToken, loginIdToken, refreshIdToken, signIn } from "../oidc/flows.ts";
import { ALL_PARSERS } from "../setting-parsers.ts";
import { adminCall, env, issue, type Overrides, ownRuntime, seg, uniqueUid } from "./helpers.ts";

const provider = { issuer: env.OIDC_ISSUER, clientSecret: OIDC_CLIENT_SECRET, redirectUri: OIDC_REDIRECT_URI };
const APP_AUDIENCES = [OIDC_RESOURCE, OIDC_CLIENTS.rs256.id, OIDC_CLIENTS.es256.id, OIDC_CLIENTS.eddsa.id];

/** The Worker's settings for this provider: its issuer and the accepted audiences, nothing else. */
function oidcSettings(audiences: readonly string[] = APP_AUDIENCES): Overrides {
  return {
    SESSION_JWT_SECRET: "",
    SESSION_OIDC_ISSUER: env.OIDC_ISSUER,
    SESSION_JWT_AUDIENCE: audiences.join(","),
    ...ownRuntime(),
  };
}

function control(action: "rotate" | "down" | "up"): Promise<Response> {
  return fetch(`${env.OIDC_ISSUER}/__control/${action}`, { method: "POST" });
}

/** A verifier as the Worker builds it, with a clock the test moves (key cache and cool-down). */
function verifierWithClock(): { verifier: SessionVerifier; advance(ms: number): void } {
  let now = Date.now();
  const config = parseConfig({ ...env, ...oidcSettings() } as Env, ALL_PARSERS);
  return {
    verifier: new SessionVerifier(config.session, { now: () => now }),
    advance: (ms) => {
      now += ms;
    },
  };
}

async function detailOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { detail?: string }).detail;
  }
}

describe("a real OpenID provider through SESSION_OIDC_ISSUER", () => {
  it("issues IM tokens for its ID tokens (RS256, ES256, EdDSA) from the authorization code flow", async () => {
    const settings = oidcSettings();
    for (const client of [OIDC_CLIENTS.rs256, OIDC_CLIENTS.es256, OIDC_CLIENTS.eddsa]) {
      const uid = uniqueUid("oidc");
      const idToken = await loginIdToken(provider, client.id, uid);
      expect(decodeProtectedHeader(idToken).alg).toBe(client.alg);
      const response = await issue(idToken, undefined, settings);
      expect(response.status, client.alg).toBe(200);
      const { accid } = await response.json<{ accid: string }>();
      expect(await (await adminCall("GET", `/accounts/${seg(uid)}`)).json()).toMatchObject({ uid, accid });
    }
  });

  it("issues IM tokens for its JWT access tokens from client credentials", async () => {
    const accessToken = await clientCredentialsToken(provider, OIDC_CLIENTS.rs256.id);
    const response = await issue(accessToken, undefined, oidcSettings());
    expect(response.status).toBe(200);
    // A client-credentials token's subject is the client itself.
    expect((await adminCall("GET", `/accounts/${seg(OIDC_CLIENTS.rs256.id)}`)).status).toBe(200);
  });

  it("refuses another client's tokens (aud), saying so only in the log", async () => {
    const settings = oidcSettings();
    const idToken = await loginIdToken(provider, OIDC_CLIENTS.other.id, uniqueUid());
    const logged = vi.spyOn(console, "log");
    try {
      const response = await issue(idToken, undefined, settings);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({
        error: "invalid_session",
        message: "The session token is invalid or expired.",
      });
      const lines = logged.mock.calls.map((args) => String(args[0])).join("\n");
      expect(lines).toContain(`"detail":"oidc: aud mismatch: expected ${APP_AUDIENCES.join(",")}"`);
    } finally {
      logged.mockRestore();
    }
    // The access token is for the resource: a Worker that accepts only the app's ID tokens refuses it.
    const accessToken = await clientCredentialsToken(provider, OIDC_CLIENTS.rs256.id);
    expect((await issue(accessToken, undefined, oidcSettings([OIDC_CLIENTS.rs256.id]))).status).toBe(401);
  });

  it("refuses a discovery document that names another issuer (503, keys unavailable)", async () => {
    // The same provider, configured with a trailing slash its document does not have.
    const settings = { ...oidcSettings(), SESSION_OIDC_ISSUER: `${env.OIDC_ISSUER}/` };
    const response = await issue(await loginIdToken(provider, OIDC_CLIENTS.rs256.id, uniqueUid()), undefined, settings);
    expect(response.status).toBe(503);
    expect((await response.json<{ error: string }>()).error).toBe("session_keys_unavailable");
    const ready = await adminCall("GET", "/ready", undefined, { overrides: settings });
    expect((await ready.json<{ checks: Record<string, { outcome: string }> }>()).checks["keys:oidc"]!.outcome).toBe(
      "discovery document names another issuer",
    );
  });

  it("follows a key rotation: a new kid is fetched (once the cool-down allows), the retired key stops working", async () => {
    const { verifier, advance } = verifierWithClock();
    const before = await loginIdToken(provider, OIDC_CLIENTS.rs256.id, uniqueUid());
    expect((await verifier.verify(before)).uid).toBeTruthy();
    expect((await control("rotate")).status).toBe(204);
    const after = await loginIdToken(provider, OIDC_CLIENTS.rs256.id, uniqueUid());
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    // Within the cool-down of the last fetch an unknown kid does not make it fetch again.
    expect(await detailOf(verifier.verify(after))).toBe("oidc: unknown kid");
    advance(31_000);
    expect((await verifier.verify(after)).uid).toBeTruthy();
    // The rotated-out key is no longer published: a token signed with it no longer verifies.
    advance(31_000);
    expect(await detailOf(verifier.verify(before))).toBe("oidc: unknown kid");
  });

  it("keeps serving from the keys it has while the provider is down, and /readyz says so", async () => {
    const settings = oidcSettings();
    const first = await loginIdToken(provider, OIDC_CLIENTS.es256.id, uniqueUid());
    const second = await loginIdToken(provider, OIDC_CLIENTS.es256.id, uniqueUid());
    expect((await issue(first, undefined, settings)).status).toBe(200);
    const { verifier, advance } = verifierWithClock();
    expect((await verifier.verify(first)).uid).toBeTruthy();
    expect((await control("down")).status).toBe(204);
    try {
      // The Worker: keys fetched a moment ago.
      expect((await issue(second, undefined, settings)).status).toBe(200);
      // Past their 5-minute age the keys are stale; the refresh fails, the stale keys still serve.
      advance(6 * 60_000);
      expect((await verifier.verify(second)).uid).toBeTruthy();
      expect(await verifier.keySources[0]!.check()).toBe("HTTP 503 for the JWKS");
      // A fresh isolate has no keys to fall back on: 503, the provider's outage, not the caller's fault.
      const fresh = await issue(second, undefined, oidcSettings());
      expect(fresh.status).toBe(503);
      const ready = await adminCall("GET", "/ready", undefined, { overrides: oidcSettings() });
      const body = await ready.json<{ failed: string[]; checks: Record<string, { outcome: string }> }>();
      expect(ready.status).toBe(503);
      expect(body.failed).toEqual(["keys:oidc"]);
      expect(body.checks["keys:oidc"]!.outcome).toBe("HTTP 503 for the discovery document");
    } finally {
      await control("up");
    }
  });

  it("signs a user out everywhere for good: the provider's refreshed ID tokens stay refused, a new sign-in is served", async () => {
    const settings = oidcSettings();
    const uid = uniqueUid("oidc-refresh");
    const client = OIDC_CLIENTS.rs256.id;
    const phone = await signIn(provider, client, uid);
    expect((await issue(phone.idToken, undefined, settings)).status).toBe(200);
    // Into the next second, so the revocation comes after the sign-in's auth_time.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // Revoked through this runtime, so its cache has the revocation at once (another isolate's takes
    // up to a minute: docs/security.md#revocation).
    const revoked = await adminCall("POST", `/accounts/${seg(uid)}/revoke`, { kick: false }, { overrides: settings });
    expect(revoked.status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    // The phone's SDK refreshes silently: a new ID token, issued after the revocation, for the same sign-in.
    const refreshed = await refreshIdToken(provider, client, phone.refreshToken);
    const claims = (jwt: string) => JSON.parse(atob(jwt.split(".")[1]!.replaceAll("-", "+").replaceAll("_", "/")));
    expect(claims(refreshed.idToken).iat).toBeGreaterThan(claims(phone.idToken).iat);
    expect(claims(refreshed.idToken).auth_time).toBe(claims(phone.idToken).auth_time);
    const refused = await issue(refreshed.idToken, undefined, settings);
    expect(refused.status).toBe(401);
    expect(await refused.json()).toMatchObject({ error: "session_revoked" });
    // The user signs in again (a new login at the provider): served.
    const again = await signIn(provider, client, uid);
    expect((await issue(again.idToken, undefined, settings)).status).toBe(200);
  });
});
