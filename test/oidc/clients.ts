/** What the test OpenID provider (provider.ts) registers: shared by it (Node) and the tests (workerd). */

/** The resource (API) whose access tokens the Worker accepts: their `aud`. */
export const OIDC_RESOURCE = "urn:nim-token-worker";
/** Clients registered at the provider: the app (one per ID-token algorithm) and another app. */
export const OIDC_CLIENTS = {
  rs256: { id: "nim-app", alg: "RS256" },
  es256: { id: "nim-app-es", alg: "ES256" },
  eddsa: { id: "nim-app-ed", alg: "EdDSA" },
  other: { id: "other-app", alg: "RS256" },
} as const;
/** Every test client's secret (public: test only). */
export const OIDC_CLIENT_SECRET = "oidc-test-client-secret-0123456789";
/** Where the authorization code flow returns to; never fetched, the tests read the code from it. */
export const OIDC_REDIRECT_URI = "http://127.0.0.1:9/callback";
