/**
 * Test-only settings shared by the Vitest config (Node) and the tests (workerd). These values are
 * public and used nowhere else.
 */
export const TEST_VARS = {
  NIM_APP_KEY: "testappkey000000000000000000000a",
  NIM_APP_SECRET: "test-app-secret-0123456789",
  SESSION_JWT_SECRET: "test-session-secret-0123456789-abcdefghij",
  ACCID_SECRET: "test-accid-secret-0123456789-abcdefghijkl",
  SESSION_PROVIDER: "",
  SESSION_OIDC_ISSUER: "",
  SESSION_JWKS_URL: "",
  SESSION_JWT_ISSUER: "",
  SESSION_JWT_AUDIENCE: "",
  SESSION_AUTHORIZED_PARTIES: "",
  SESSION_TOKEN_USE: "",
  SESSION_UID_CLAIM: "",
  SESSION_SIGN_IN_CLAIM: "",
  SESSION_ISSUERS: "",
  TOKEN_TTL_DEFAULT: "600",
  TOKEN_TTL_MIN: "60",
  TOKEN_TTL_MAX: "3600",
  RTC_TOKEN_TTL_DEFAULT: "600",
  RTC_TOKEN_TTL_MIN: "60",
  RTC_TOKEN_TTL_MAX: "86399",
  NERTC_PERM_SECRET: "test-nertc-perm-secret-0123456789abcdef",
  RTC_CHANNEL_POLICY: "",
  RTC_POLICY_CLAIM: "",
  RTC_PERM_KEY_TTL: "3600",
  ADMIN_TOKEN: "test-admin-token-0123456789-abcdefghijklmn",
  NIM_APP_SECRET_PREVIOUS: "",
} as const;

/** The read token the Analytics Engine SQL API stand-in accepts (sent as ANALYTICS_READ_TOKEN). */
export const ANALYTICS_READ_TOKEN = "test-analytics-read-token-0123456789";

/** Values the global setup provides to the tests. */
export interface TestServers {
  /** CommsEase emulator origin, e.g. http://127.0.0.1:PORT. */
  emulatorUrl: string;
  /** Identity-provider stand-in origin; `/jwks.json` serves TEST_JWKS public keys. */
  idpUrl: string;
  /** The ES256 private JWK matching kid "es-1" in /jwks.json, as JSON. */
  idpPrivateJwk: string;
  /** The test OpenID provider's issuer (test/oidc/provider.ts). */
  oidcIssuer: string;
  /** The RS256 private JWK of the Access stand-in (kid "access-1", certs at `${idpUrl}/cdn-cgi/access/certs`), as JSON. */
  accessPrivateJwk: string;
}
