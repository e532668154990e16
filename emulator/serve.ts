/**
 * Starts the CommsEase emulator in a local workerd through Miniflare, on a loopback port.
 * Used by `npm start`, the test suite's global setup and the benchmark, so all three run the same
 * emulator. The emulator's TypeScript is bundled with esbuild in memory first (Miniflare runs
 * JavaScript only).
 */

import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { checkApps, type EmulatedApp } from "./apps.ts";

export type { EmulatedApp } from "./apps.ts";

/**
 * Options for startEmulator. `appKey`, `appSecret` and `permSecret` are the first app (the one the
 * emulator-only endpoints serve without `?appKey=`); `apps` are any further ones, each kept apart.
 */
export interface EmulatorOptions {
  appKey: string;
  appSecret: string;
  /** NERTC's permSecret: joins that send a permission key have it checked (omit: keys are ignored). */
  permSecret?: string;
  /** Further apps, each with its own accounts, calls, faults, stats and rate limit (appKeys must differ). */
  apps?: EmulatedApp[];
  /** Loopback port; 0 picks a free one. */
  port?: number;
  /** Directory to persist accounts in; omit for in-memory state. */
  persistTo?: string;
  /** getUinfos with an unknown accid: leave it out ("omit", default) or fail the batch with 414 ("fail"). */
  getUinfosUnknown?: "omit" | "fail";
  /** Server API calls allowed per second, per app; over it, 416 and about 10 s of refusals (default: no limit). */
  rateLimitPerSecond?: number;
}

/** A running emulator. */
export interface RunningEmulator {
  /** Base URL, e.g. `http://127.0.0.1:8788`; the server API is under `${url}/nimserver`. */
  url: string;
  dispose(): Promise<void>;
}

/** Bundles emulator/worker.ts into one ES module. */
export async function bundleEmulator(): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL("./worker.ts", import.meta.url))],
    bundle: true,
    format: "esm",
    platform: "neutral",
    target: "es2022",
    external: ["cloudflare:workers", "node:*"],
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0]!.text;
}

/** Starts the emulator and resolves once it answers. Throws on an app without key or secret, or a key twice. */
export async function startEmulator(options: EmulatorOptions): Promise<RunningEmulator> {
  const { appKey, appSecret, permSecret } = options;
  const apps = checkApps([{ appKey, appSecret, ...(permSecret ? { permSecret } : {}) }, ...(options.apps ?? [])]);
  // Miniflare 5's option shape is new; its converter takes the documented v4 shape. Persistence
  // is a top-level v5 option (the v4 per-binding `*Persist` options are not converted).
  const mf = new Miniflare({
    ...convertV4MiniflareOptions({
      modules: true,
      script: await bundleEmulator(),
      compatibilityDate: "2026-11-01",
      // Node's crypto: the emulator's signing code is written apart from the Worker's (emulator/netease.ts).
      compatibilityFlags: ["nodejs_compat"],
      // Kept resident: call counters, nonces and injected faults live in memory, and an idle object
      // would otherwise be evicted between test phases and lose them.
      durableObjects: { COMMSEASE: { className: "CommsEase", useSQLite: true, unsafePreventEviction: true } },
      bindings: {
        EMULATOR_APPS: JSON.stringify(apps),
        EMULATOR_GETUINFOS_UNKNOWN: options.getUinfosUnknown ?? "omit",
        EMULATOR_RATE_LIMIT: String(options.rateLimitPerSecond ?? 0),
      },
      host: "127.0.0.1",
      port: options.port ?? 0,
    }),
    logRequests: false,
    ...(options.persistTo ? { resourcePersistencePath: options.persistTo } : {}),
  });
  const url = (await mf.ready).origin;
  return { url, dispose: () => mf.dispose() };
}
