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
  // Every success written (weight 1), so a test can count them; test/worker/metrics.test.ts samples.
  METRICS_SAMPLE_INTERVAL: "1",
  // As `npm start` sets it: the tests' NetEase is the emulator on loopback (core/published.ts).
  LOCAL_DEVELOPMENT: "true",
} as const;

/**
 * The two NetEase apps of the worker-apps project (test/apps/): China and Singapore, each with its own
 * key and secrets, which the emulator serves beside the one-app suites' app.
 */
export const TEST_APPS = {
  cn: {
    appKey: "testappkeycn00000000000000000000",
    appSecret: "test-cn-app-secret-0123456789",
    permSecret: "test-cn-nertc-perm-secret-0123456789",
  },
  sg: {
    appKey: "testappkeysg00000000000000000000",
    appSecret: "test-sg-app-secret-0123456789",
    permSecret: "test-sg-nertc-perm-secret-0123456789",
  },
} as const;

/** The Secrets Store binding that holds the sg app's secret in the worker-apps project (seeded by test/apps/setup.ts). */
export const SG_SECRET_BINDING = "NIM_APP_SECRET_SG";

/** The one-app settings TEST_VARS sets, blanked: a deployment with NIM_APPS leaves them unset. */
export const ONE_APP_BLANK: Readonly<Record<string, string>> = Object.fromEntries(
  [
    "NIM_APP_KEY",
    "NIM_API_BASE",
    "TOKEN_TTL_DEFAULT",
    "TOKEN_TTL_MIN",
    "TOKEN_TTL_MAX",
    "RTC_TOKEN_TTL_DEFAULT",
    "RTC_TOKEN_TTL_MIN",
    "RTC_TOKEN_TTL_MAX",
    "RTC_PERM_KEY_TTL",
  ].map((name) => [name, ""]),
);

/**
 * The worker-apps project's settings: NIM_APPS with `cn` (Worker secrets, v1) and `sg` (its app
 * secret in the Secrets Store, v2, its own ttl bounds), both at the emulator; the one-app settings blank.
 */
export function appsTestVars(emulatorUrl: string): Record<string, string> {
  const apiBase = `${emulatorUrl}/nimserver`;
  const apps = [
    {
      name: "cn",
      appKey: TEST_APPS.cn.appKey,
      apiBase,
      secret: "NIM_APP_SECRET_CN",
      rtcPermSecret: "NERTC_PERM_SECRET_CN",
    },
    {
      name: "sg",
      appKey: TEST_APPS.sg.appKey,
      region: "sg",
      apiBase,
      apiVersion: "v2",
      secret: SG_SECRET_BINDING,
      rtcPermSecret: "NERTC_PERM_SECRET_SG",
      tokenTtl: { default: 300, max: 1800 },
    },
  ];
  return {
    ...ONE_APP_BLANK,
    NIM_APPS: JSON.stringify(apps),
    NIM_APP_SECRET_CN: TEST_APPS.cn.appSecret,
    NERTC_PERM_SECRET_CN: TEST_APPS.cn.permSecret,
    NERTC_PERM_SECRET_SG: TEST_APPS.sg.permSecret,
  };
}

/** The read token the Analytics Engine SQL API stand-in accepts (sent as ANALYTICS_READ_TOKEN). */
export const ANALYTICS_READ_TOKEN = "test-analytics-read-token-0123456789";

/** Values the global setup provides to the tests. */
/** The events suites' signing secret (Standard Webhooks form): 32 bytes, base64. */
export const EVENTS_TEST_SECRET = "whsec_dGVzdC1ldmVudHMtc2VjcmV0LTAxMjM0NTY3ODlhYmNkZWY=";

/** What the events suites (test/events/) set beside TEST_VARS: two attempts, a second apart. */
export function eventsTestVars(webhookUrl: string): Record<string, string> {
  return {
    EVENTS_WEBHOOK_URL: webhookUrl,
    EVENTS_WEBHOOK_SECRET: EVENTS_TEST_SECRET,
    EVENTS_MAX_ATTEMPTS: "2",
    EVENTS_RETRY_DELAY: "1",
  };
}

export interface TestServers {
  /** CommsEase emulator origin, e.g. http://127.0.0.1:PORT. */
  emulatorUrl: string;
  /** The webhook receiver's URL (scripts/webhook-receiver.ts), `<origin>/events`. */
  webhookUrl: string;
  /** Identity-provider stand-in origin; `/jwks.json` serves TEST_JWKS public keys. */
  idpUrl: string;
  /** The ES256 private JWK matching kid "es-1" in /jwks.json, as JSON. */
  idpPrivateJwk: string;
  /** The test OpenID provider's issuer (test/oidc/provider.ts). */
  oidcIssuer: string;
  /** The RS256 private JWK of the Access stand-in (kid "access-1", certs at `${idpUrl}/cdn-cgi/access/certs`), as JSON. */
  accessPrivateJwk: string;
  /**
   * A second emulator of the test app that enforces NetEase's rate cap (100 calls a second, then 416
   * and ten seconds refused), for the chatroom burst; only the "worker" project has one ("" elsewhere).
   */
  cappedEmulatorUrl: string;
}

/** NetEase's rate cap per app, as the capped emulator enforces it. */
export const NETEASE_CAP_PER_SECOND = 100;
