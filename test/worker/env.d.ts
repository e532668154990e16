import type { Env as WorkerEnv } from "../../src/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends WorkerEnv {
      /** Test-only: the webhook receiver's URL (scripts/webhook-receiver.ts), `<origin>/events`. */
      WEBHOOK_URL: string;
      /** Test-only: the CommsEase emulator's origin. */
      EMULATOR_URL: string;
      /** Test-only: an emulator of the test app enforcing NetEase's rate cap ("worker" project only). */
      CAPPED_EMULATOR_URL: string;
      /** Test-only: the identity-provider stand-in's origin. */
      IDP_URL: string;
      /** Test-only: private ES256 JWK (JSON) for kid "es-1". */
      IDP_PRIVATE_JWK: string;
      /** Test-only: the real OpenID provider's issuer (test/oidc/provider.ts). */
      OIDC_ISSUER: string;
      /** Test-only: private RS256 JWK (JSON) of the Cloudflare Access stand-in, kid "access-1". */
      ACCESS_PRIVATE_JWK: string;
      /** Test-only: the sg app's secret in the worker-apps project, a Secrets Store binding (test/apps/setup.ts). */
      NIM_APP_SECRET_SG: SecretsStoreSecret;
    }
  }
}
