/**
 * Runs once in Node before the tests: starts the CommsEase emulator, an identity-provider stand-in
 * (a JWKS endpoint, and Cloudflare Access's certs endpoint) and a real OpenID provider (panva's oidc-provider) on loopback ports, and hands
 * their URLs to the Vitest config.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair } from "jose";
import type { TestProject } from "vitest/node";
import { startEmulator } from "../emulator/serve.ts";
import { startWebhookReceiver } from "../scripts/webhook-receiver.ts";
import { startOidcProvider } from "./oidc/provider.ts";
import {
  ANALYTICS_READ_TOKEN,
  EVENTS_TEST_SECRET,
  NETEASE_CAP_PER_SECOND,
  TEST_APPS,
  TEST_VARS,
  type TestServers,
} from "./settings.ts";

declare module "vitest" {
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface ProvidedContext extends TestServers {}
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const emulator = await startEmulator({
    appKey: TEST_VARS.NIM_APP_KEY,
    appSecret: TEST_VARS.NIM_APP_SECRET,
    permSecret: TEST_VARS.NERTC_PERM_SECRET,
    // The worker-apps project's two apps (test/apps/), each apart at the emulator.
    apps: [TEST_APPS.cn, TEST_APPS.sg],
  });

  const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
  const publicJwk = { ...(await exportJWK(publicKey)), kid: "es-1", alg: "ES256", use: "sig" };
  const privateJwk = { ...(await exportJWK(privateKey)), kid: "es-1", alg: "ES256" };
  // Cloudflare Access's team keys: RS256, served where Access serves them (/cdn-cgi/access/certs).
  const access = await generateKeyPair("RS256", { extractable: true });
  const accessPublicJwk = { ...(await exportJWK(access.publicKey)), kid: "access-1", alg: "RS256", use: "sig" };
  const accessPrivateJwk = { ...(await exportJWK(access.privateKey)), kid: "access-1", alg: "RS256" };
  const fetches: Record<string, number> = {};
  /** JWKS paths switched off with POST /down<path>: they answer 503 from then on (an IdP outage). */
  const down = new Set<string>();
  /** JWKS paths switched to POST /hang<path>: they never answer in time from then on (a hung IdP). */
  const hung = new Set<string>();
  /** SQL the Analytics Engine stand-in was sent, newest last (GET /analytics/queries). */
  const sqlQueries: string[] = [];
  const idp = createServer((request, response) => {
    const path = request.url ?? "/";
    // Cloudflare's Analytics Engine SQL API, for the console's metrics: one token, canned rows.
    if (request.method === "POST" && /^\/client\/v4\/accounts\/[0-9a-f]{32}\/analytics_engine\/sql$/.test(path)) {
      let sql = "";
      request.on("data", (chunk) => (sql += chunk));
      request.on("end", () => {
        if (request.headers.authorization !== `Bearer ${ANALYTICS_READ_TOKEN}`) {
          response.writeHead(403, { "Content-Type": "application/json" }).end('{"errors":[{"code":10000}]}');
          return;
        }
        sqlQueries.push(sql);
        const data = sql.includes("'token_issued'")
          ? [
              { kind: "im", count: "12" },
              { kind: "rtc", count: "3" },
            ]
          : [];
        response
          .writeHead(200, { "Content-Type": "application/json" })
          .end(JSON.stringify({ meta: [], data, rows: data.length }));
      });
      return;
    }
    if (path === "/analytics/queries") {
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(sqlQueries));
      return;
    }
    if (request.method === "POST" && path.startsWith("/down/")) {
      down.add(path.slice("/down".length));
      response.writeHead(204).end();
      return;
    }
    if (request.method === "POST" && path.startsWith("/hang/")) {
      hung.add(path.slice("/hang".length));
      response.writeHead(204).end();
      return;
    }
    fetches[path] = (fetches[path] ?? 0) + 1;
    if (hung.has(path)) {
      setTimeout(() => response.writeHead(503).end(), 10_000).unref();
    } else if (down.has(path)) {
      response.writeHead(503, { "Content-Type": "text/plain" }).end("unavailable");
    } else if (path === "/jwks.json" || path.startsWith("/jwks/")) {
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ keys: [publicJwk] }));
    } else if (path === "/cdn-cgi/access/certs") {
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify({ keys: [accessPublicJwk] }));
    } else if (path.startsWith("/slow/")) {
      // Never answers in time: longer than the Worker's JWKS fetch timeout.
      setTimeout(() => response.writeHead(503).end(), 10_000).unref();
    } else if (path === "/fetches") {
      response.writeHead(200, { "Content-Type": "application/json" }).end(JSON.stringify(fetches));
    } else {
      response.writeHead(503, { "Content-Type": "text/plain" }).end("unavailable");
    }
  });
  await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
  const { port } = idp.address() as AddressInfo;

  const oidc = await startOidcProvider();

  // NetEase's rate cap, enforced, for the one suite that bursts (test/worker/chatroom.test.ts).
  const capped =
    project.name === "worker"
      ? await startEmulator({
          appKey: TEST_VARS.NIM_APP_KEY,
          appSecret: TEST_VARS.NIM_APP_SECRET,
          rateLimitPerSecond: NETEASE_CAP_PER_SECOND,
        })
      : undefined;

  // The app's backend, for the events suites: verifies each delivery with the Standard Webhooks library.
  const receiver = await startWebhookReceiver({ secret: EVENTS_TEST_SECRET });

  project.provide("emulatorUrl", emulator.url);
  project.provide("webhookUrl", receiver.url);
  project.provide("cappedEmulatorUrl", capped?.url ?? "");
  project.provide("oidcIssuer", oidc.issuer);
  project.provide("idpUrl", `http://127.0.0.1:${port}`);
  project.provide("idpPrivateJwk", JSON.stringify(privateJwk));
  project.provide("accessPrivateJwk", JSON.stringify(accessPrivateJwk));

  return async () => {
    await new Promise((resolve) => idp.close(resolve));
    await oidc.dispose();
    await emulator.dispose();
    await capped?.dispose();
    await receiver.dispose();
  };
}
