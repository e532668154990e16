/**
 * The Worker as `wrangler deploy` uploads it (scripts/build-worker.mjs's modules), served by
 * Miniflare: every piece loaded on first use works, and a piece that fails to load (here: left out
 * of the upload) fails only what needs it, as our fault and in the frame. The worker tests run the
 * sources through the Vitest integration; this is the one test of the built modules themselves.
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningEmulator, startEmulator } from "../../emulator/serve.ts";
import { projectRoot } from "../../scripts/dev-vars.ts";
import { TEST_VARS } from "../settings.ts";

const ISSUER = "https://idp.built-worker.test/";
const AUDIENCE = "built-worker";

let outdir: string;
let emulator: RunningEmulator;
let idp: Server;
let jwksUrl: string;
let esKey: CryptoKey;
const running: Miniflare[] = [];

/** The built modules, by path under `outdir`, but those whose file name starts with one of `omit`. */
function modules(omit: string[]): { type: "ESModule"; path: string }[] {
  const files = readdirSync(outdir, { recursive: true, encoding: "utf8" })
    .filter((file) => file.endsWith(".js"))
    .sort((a, b) => (a === "index.js" ? -1 : b === "index.js" ? 1 : a.localeCompare(b)));
  return files
    .filter((file) => !omit.some((prefix) => relative("chunks", file).startsWith(prefix)))
    .map((file) => ({ type: "ESModule" as const, path: join(outdir, file) }));
}

/** The built Worker on a fresh Miniflare, without the modules named in `omit`; its URL. */
async function serve(omit: string[] = []): Promise<URL> {
  const mf = new Miniflare({
    ...convertV4MiniflareOptions({
      host: "127.0.0.1",
      port: 0,
      workers: [
        {
          name: "built",
          modules: modules(omit),
          modulesRoot: outdir,
          compatibilityDate: "2026-11-01",
          compatibilityFlags: ["nodejs_compat"],
          kvNamespaces: ["ACCOUNTS"],
          durableObjects: {
            ACCOUNT_OBJECTS: { className: "AccountObject", useSQLite: true },
            NIM_CREATE_PACER: { className: "CreatePacer", useSQLite: true },
          },
          bindings: {
            ...TEST_VARS,
            NIM_API_BASE: `${emulator.url}/nimserver`,
            SESSION_ISSUERS: JSON.stringify([
              { provider: "secret", uidPrefix: "" },
              { provider: `jwks:${jwksUrl}`, issuer: ISSUER, audience: AUDIENCE, uidPrefix: "es:" },
            ]),
          },
        },
      ],
    }),
    handleStructuredLogs: () => {},
  });
  running.push(mf);
  return mf.ready;
}

const hsJwt = (uid: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(uid)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(TEST_VARS.SESSION_JWT_SECRET));

const esJwt = (uid: string) =>
  new SignJWT({})
    .setProtectedHeader({ alg: "ES256", kid: "built" })
    .setSubject(uid)
    .setIssuer(ISSUER)
    .setAudience(AUDIENCE)
    .setIssuedAt()
    .setExpirationTime("10m")
    .sign(esKey);

async function token(url: URL, jwt: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const answer = await fetch(new URL("/v1/token", url), {
    method: "POST",
    headers: { authorization: `Bearer ${jwt}` },
  });
  return { status: answer.status, body: (await answer.json()) as Record<string, unknown> };
}

let uids = 0;
const uid = (name: string) => `built-${name}-${process.pid}-${uids++}`;

describe("the built Worker", { timeout: 120_000 }, () => {
  beforeAll(async () => {
    outdir = join(mkdtempSync(join(tmpdir(), "built-worker-")), "worker");
    const build = spawnSync(process.execPath, [`${projectRoot}scripts/build-worker.mjs`, outdir], { encoding: "utf8" });
    expect(build.status, build.stderr).toBe(0);
    emulator = await startEmulator({ appKey: TEST_VARS.NIM_APP_KEY, appSecret: TEST_VARS.NIM_APP_SECRET });
    const pair = await generateKeyPair("ES256", { extractable: true });
    esKey = pair.privateKey;
    const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: "built", alg: "ES256" }] });
    idp = createServer((_req, res) => res.writeHead(200, { "Content-Type": "application/json" }).end(jwks));
    await new Promise<void>((resolve) => idp.listen(0, "127.0.0.1", resolve));
    jwksUrl = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`;
  }, 120_000);

  afterAll(async () => {
    await Promise.all(running.map((mf) => mf.dispose()));
    await emulator?.dispose();
    await new Promise((resolve) => idp?.close(resolve));
    if (outdir) rmSync(join(outdir, ".."), { recursive: true, force: true });
  });

  it("loads each piece on first use: the Hono app, an account object, the remote keys", async () => {
    const url = await serve();
    const first = await token(url, await hsJwt(uid("first"))); // a new uid: its account object creates it
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const es = await token(url, await esJwt(uid("es")));
    expect(es.status, JSON.stringify(es.body)).toBe(200);
    expect((await fetch(new URL("/healthz", url))).status).toBe(200);
    const admin = await fetch(new URL("/admin/v1/accounts/nobody-here", url), {
      headers: { authorization: `Bearer ${TEST_VARS.ADMIN_TOKEN}` },
    });
    expect(await admin.json()).toMatchObject({ error: "not_found" }); // the admin API answered
  });

  it("without the Hono app's module: tokens are issued; any other request is 500 in the frame", async () => {
    const url = await serve(["app-"]);
    expect((await token(url, await hsJwt(uid("no-app")))).status).toBe(200);
    const health = await fetch(new URL("/healthz", url), { headers: { "X-Request-Id": "built-1" } });
    expect(health.status).toBe(500);
    expect(await health.json()).toEqual({ error: "internal_error", message: "An internal error occurred." });
    expect(health.headers.get("X-Request-Id")).toBe("built-1");
    expect(health.headers.get("X-Content-Type-Options")).toBe("nosniff");
  });

  it("without the account object's module: a first-time user is 503 storage_unavailable, never a 4xx", async () => {
    const url = await serve(["object-"]);
    const first = await token(url, await hsJwt(uid("no-object")));
    expect(first.status).toBe(503);
    expect(first.body.error).toBe("storage_unavailable");
  });

  it("without the key module: an ES256 session is 503 session_keys_unavailable, never 401; HS256 still works", async () => {
    const url = await serve(["jwks-"]);
    const es = await token(url, await esJwt(uid("no-keys")));
    expect(es.status).toBe(503);
    expect(es.body.error).toBe("session_keys_unavailable");
    expect((await token(url, await hsJwt(uid("hs")))).status).toBe(200);
  });
});
