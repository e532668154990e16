/**
 * A real OpenID provider for the tests: panva's `oidc-provider` (an OpenID Certified
 * implementation), on a loopback port, issuing real ID tokens (authorization code flow with its own
 * development login, and refreshed ones from its refresh tokens, each with `auth_time`) and real JWT
 * access tokens (client credentials), signed with RS256, ES256 or EdDSA keys it publishes in its
 * discovery document and JWKS.
 *
 * The tests steer it over HTTP: `POST /__control/rotate` replaces its RSA signing key (a new kid; the
 * old key is no longer published, as after a completed rollover), `POST /__control/down` makes every
 * answer a 503 (an outage) and `POST /__control/up` ends it. Runs in Node (global setup).
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import Provider from "oidc-provider";
import { OIDC_CLIENT_SECRET, OIDC_CLIENTS, OIDC_REDIRECT_URI, OIDC_RESOURCE } from "./clients.ts";

type Jwk = Awaited<ReturnType<typeof exportJWK>>;

async function signingKey(alg: "RS256" | "ES256" | "EdDSA", kid: string): Promise<Jwk> {
  const { privateKey } = await generateKeyPair(alg, {
    extractable: true,
    ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}),
  });
  return { ...(await exportJWK(privateKey)), kid, use: "sig" };
}

function configuration(keys: Jwk[]): ConstructorParameters<typeof Provider>[1] {
  return {
    clients: Object.values(OIDC_CLIENTS).map(({ id, alg }) => ({
      client_id: id,
      client_secret: OIDC_CLIENT_SECRET,
      grant_types: ["authorization_code", "client_credentials", "refresh_token"],
      response_types: ["code"],
      redirect_uris: [OIDC_REDIRECT_URI],
      token_endpoint_auth_method: "client_secret_post",
      id_token_signed_response_alg: alg,
      // auth_time in every ID token, refreshed ones included (OpenID Connect Core §12.2 keeps the
      // sign-in's), as Firebase, Cognito and Keycloak send it.
      require_auth_time: true,
    })),
    // A refresh token with every code (not only for offline_access): apps refresh silently.
    issueRefreshToken: async (_ctx, client) => client.grantTypeAllowed("refresh_token"),
    jwks: { keys },
    findAccount: (_ctx, sub) => ({ accountId: sub, claims: () => ({ sub }) }),
    features: {
      devInteractions: { enabled: true },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => OIDC_RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: () => ({
          scope: "im",
          audience: OIDC_RESOURCE,
          accessTokenFormat: "jwt",
          jwt: { sign: { alg: "ES256" } },
        }),
      },
    },
    // Fixed lifetimes (the defaults print a notice each time they are used).
    ttl: {
      AccessToken: 600,
      ClientCredentials: 600,
      IdToken: 600,
      AuthorizationCode: 60,
      Interaction: 600,
      Session: 3600,
      Grant: 3600,
    },
    renderError: (ctx, out) => {
      ctx.type = "json";
      ctx.body = out;
    },
  };
}

/** A running provider: its issuer URL and how to stop it. */
export interface RunningOidcProvider {
  issuer: string;
  dispose(): Promise<void>;
}

/** Starts the provider on a loopback port. */
export async function startOidcProvider(): Promise<RunningOidcProvider> {
  // Its development-only features (in-memory store, dev login) warn at first use of each instance;
  // the tests use them on purpose. This runs in the global setup's process only.
  const warn = console.warn;
  console.warn = (line: unknown, ...rest: unknown[]) => {
    if (!String(line).includes("oidc-provider WARNING")) warn(line, ...rest);
  };
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const others = [await signingKey("ES256", "ec-1"), await signingKey("EdDSA", "ed-1")];
  let rsaGeneration = 1;
  const build = async () => {
    const provider = new Provider(
      issuer,
      configuration([await signingKey("RS256", `rsa-${rsaGeneration}`), ...others]),
    );
    return provider.callback();
  };
  let handle = await build();
  let down = false;
  server.on("request", async (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url ?? "/";
    if (request.method === "POST" && path.startsWith("/__control/")) {
      const action = path.slice("/__control/".length);
      if (action === "rotate") {
        rsaGeneration += 1;
        handle = await build();
      } else if (action === "down" || action === "up") down = action === "down";
      response.writeHead(action === "rotate" || action === "down" || action === "up" ? 204 : 404).end();
      return;
    }
    if (down) {
      response.writeHead(503, { "Content-Type": "text/plain" }).end("unavailable");
      return;
    }
    handle(request, response);
  });
  return {
    issuer,
    dispose: () =>
      new Promise<void>((resolve) => server.close(() => resolve())).finally(() => {
        console.warn = warn;
      }),
  };
}
