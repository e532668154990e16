/** Helpers shared by the worker-apps project's tests (apps `cn` and `sg` of test/settings.ts). */

import { TEST_APPS } from "../settings.ts";
import { env, jwksSettings, TEST_IDP } from "../worker/helpers.ts";

/** One of the project's two apps. */
export type AppName = keyof typeof TEST_APPS;

/** The emulator's endpoint `path` for `app` (its `?appKey=`). */
export function atNetEase(app: AppName, path: string, init?: RequestInit): Promise<Response> {
  const separator = path.includes("?") ? "&" : "?";
  return fetch(`${env.EMULATOR_URL}${path}${separator}appKey=${TEST_APPS[app].appKey}`, init);
}

/**
 * Two session issuers at once: `backend` (HS256, the test secret, uids as they are) and `partner`
 * (the identity-provider stand-in's JWKS, uids prefixed `partner:`), the one-issuer settings blank.
 */
export function backendAndPartnerIssuers(): Record<string, string> {
  return {
    ...jwksSettings(),
    SESSION_JWKS_URL: "",
    SESSION_JWT_ISSUER: "",
    SESSION_JWT_AUDIENCE: "",
    SESSION_JWT_SECRET: env.SESSION_JWT_SECRET!,
    SESSION_ISSUERS: JSON.stringify([
      { provider: "secret", name: "backend", uidPrefix: "" },
      {
        provider: `jwks:${env.IDP_URL}/jwks.json`,
        issuer: TEST_IDP.issuer,
        audience: TEST_IDP.audience,
        name: "partner",
        uidPrefix: "partner:",
      },
    ]),
  };
}
