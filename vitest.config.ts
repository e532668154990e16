import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { applyEdits, modify, parse } from "jsonc-parser";
import { defineConfig } from "vitest/config";
import { appsTestVars, eventsTestVars, SG_SECRET_BINDING, TEST_VARS } from "./test/settings.ts";

/**
 * wrangler.jsonc, copied where no .dev.vars lies beside it: wrangler reads the .dev.vars next to its
 * config, and the tests must run on TEST_VARS alone, never on a developer's own variables (and
 * without a "Using secrets defined in .dev.vars" line per test file). The paths are rewritten, and
 * the Worker is the source itself: the Workers Vitest integration builds src/index.ts (dynamic
 * imports included) rather than wrangler.jsonc's custom build of it (scripts/build-worker.mjs).
 */
function wranglerConfigForTests(): string {
  const root = fileURLToPath(new URL(".", import.meta.url));
  const dir = `${root}.wrangler/test`;
  mkdirSync(dir, { recursive: true });
  let text = readFileSync(`${root}wrangler.jsonc`, "utf8");
  const format = { formattingOptions: { insertSpaces: true, tabSize: 2 } };
  const set = (path: string[], value: unknown) => {
    text = applyEdits(text, modify(text, path, value, format));
  };
  const config = parse(text) as { main?: string; assets?: { directory?: string } };
  if (config.main !== "dist/worker/index.js" || config.assets?.directory !== "./console") {
    throw new Error('wrangler.jsonc: expected "main": "dist/worker/index.js" and the assets in ./console');
  }
  set(["main"], `${root}src/index.ts`);
  set(["assets", "directory"], `${root}console`);
  for (const key of ["build", "no_bundle", "rules"]) set([key], undefined);
  writeFileSync(`${dir}/wrangler.jsonc`, text);
  return `${dir}/wrangler.jsonc`;
}

/**
 * The suites that talk to NetEase's server API. They run twice: once with the default v1 API (with
 * every other suite), once more with NIM_API_VERSION=v2, against the same emulator code serving v2.
 */
const ACCOUNT_SUITES = [
  "accounts",
  "account-objects",
  "chatroom",
  "account-object-failures",
  "admin",
  "netease",
  "netease-block",
  "ready",
  "revoke",
  "token",
].map((name) => `test/worker/${name}.test.ts`);

/** What a project sets beside TEST_VARS: fixed values, or values made from the test servers' URLs. */
type ProjectVars =
  | Record<string, string>
  | ((servers: { emulatorUrl: string; webhookUrl: string }) => Record<string, string>);

/** The Worker, inside workerd, with real KV and the emulator over HTTP on loopback. */
function workerProject(
  name: string,
  include: string[],
  vars: ProjectVars = {},
  { setupFiles = [], secretsStore = false }: { setupFiles?: string[]; secretsStore?: boolean } = {},
) {
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: wranglerConfigForTests() },
        miniflare: {
          bindings: {
            ...TEST_VARS,
            NIM_API_BASE: `${inject("emulatorUrl")}/nimserver`,
            ...(typeof vars === "function"
              ? vars({ emulatorUrl: inject("emulatorUrl"), webhookUrl: inject("webhookUrl") })
              : vars),
            EMULATOR_URL: inject("emulatorUrl"),
            WEBHOOK_URL: inject("webhookUrl"),
            CAPPED_EMULATOR_URL: inject("cappedEmulatorUrl"),
            IDP_URL: inject("idpUrl"),
            IDP_PRIVATE_JWK: inject("idpPrivateJwk"),
            OIDC_ISSUER: inject("oidcIssuer"),
            ACCESS_PRIVATE_JWK: inject("accessPrivateJwk"),
          },
          // A Secrets Store binding (test/apps/setup.ts seeds its value): an app secret read with `await get()`.
          ...(secretsStore
            ? {
                secretsStoreSecrets: {
                  [SG_SECRET_BINDING]: { store_id: "test-store", secret_name: "nim-app-secret-sg" },
                },
              }
            : {}),
        },
      })),
    ],
    test: { name, include, setupFiles, globalSetup: ["./test/global-setup.ts"], testTimeout: 20_000 },
  };
}

export default defineConfig({
  test: {
    // The Worker's own JSON log lines (access log, admin audit) are noise in test output; anything
    // else a test prints (the fuzz suite's case count) is shown.
    onConsoleLog: (log) => !log.trimStart().startsWith('{"level":'),
    projects: [
      workerProject("worker", ["test/worker/**/*.test.ts"]),
      workerProject("worker-v2", ACCOUNT_SUITES, { NIM_API_VERSION: "v2" }),
      // A launch-day burst needs a pacer queue no other test shares, and a rate low enough to fill it.
      workerProject("worker-pacing", ["test/pacing/**/*.test.ts"], { NIM_CREATE_RATE: "2" }),
      // Several NetEase apps from one deployment (NIM_APPS): China and Singapore against the emulator.
      // Account-change events on Queues, delivered to a local receiver (test/events/).
      workerProject("worker-events", ["test/events/**/*.test.ts"], ({ webhookUrl }) => eventsTestVars(webhookUrl)),
      workerProject("worker-apps", ["test/apps/**/*.test.ts"], ({ emulatorUrl }) => appsTestVars(emulatorUrl), {
        setupFiles: ["./test/apps/setup.ts"],
        secretsStore: true,
      }),
      {
        // Code that runs in Node or in apps: scripts, and the client token provider.
        // Some of them spawn Node scripts (the deploy preflight, the import client) while the workerd suites
        // run beside them on two cores: the default 5 s is too tight for that under load.
        test: { name: "node", environment: "node", include: ["test/node/**/*.test.ts"], testTimeout: 30_000 },
      },
    ],
  },
});
