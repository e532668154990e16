import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { TEST_VARS } from "./test/settings.ts";

export default defineConfig({
  test: {
    // The Worker's own JSON log lines (access log, admin audit) are noise in test output; anything
    // else a test prints (the fuzz suite's case count) is shown.
    onConsoleLog: (log) => !log.trimStart().startsWith('{"level":'),
    projects: [
      {
        // The Worker, inside workerd, with real KV and the emulator over HTTP on loopback.
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                ...TEST_VARS,
                NIM_API_BASE: `${inject("emulatorUrl")}/nimserver`,
                EMULATOR_URL: inject("emulatorUrl"),
                IDP_URL: inject("idpUrl"),
                IDP_PRIVATE_JWK: inject("idpPrivateJwk"),
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          globalSetup: ["./test/global-setup.ts"],
          testTimeout: 20_000,
        },
      },
      {
        // Code that runs in Node or in apps: scripts, and the client token provider.
        test: { name: "node", environment: "node", include: ["test/node/**/*.test.ts"] },
      },
    ],
  },
});
