/** The bundle as wrangler builds it for deploy, and its startup time against an empty Hono app. */

import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { gzipSync } from "node:zlib";
import { BUILD, median, ROOT, run } from "./settings.ts";

/** A built Worker: its main module's path, and its sizes (all its modules; the token path's). */
export interface Bundle {
  path: string;
  /** Every module wrangler uploads: bytes and gzip bytes (each module compressed on its own). */
  raw: number;
  gzip: number;
  /** What an isolate compiles and evaluates when it starts: the main module and what it imports statically. */
  startRaw: number;
  startGzip: number;
  /** Modules: how many load at start, and how many only when a request imports them. */
  modules: { atStart: number; lazy: number };
}

/**
 * The production bundle, built by wrangler exactly as `wrangler deploy` would (for this project, its
 * custom build: several modules); `minify: false` keeps the names for a CPU profile.
 */
export function buildBundle(config?: string, name = "reference", { minify = true } = {}): Bundle {
  const outdir = `${BUILD}/${config ? name : "worker"}${minify ? "" : "-unminified"}`;
  rmSync(outdir, { recursive: true, force: true });
  mkdirSync(outdir, { recursive: true });
  execFileSync(
    "wrangler",
    [
      "deploy",
      "--dry-run",
      "--outdir",
      outdir,
      ...(config ? ["--config", config] : []),
      ...(minify || !config ? [] : ["--no-minify"]),
    ],
    {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      // The project's custom build reads WORKER_MINIFY (scripts/build-worker.mjs).
      env: { ...process.env, WRANGLER_SEND_METRICS: "false", WORKER_MINIFY: String(minify) },
    },
  );
  const path = `${outdir}/${config ? "worker" : "index"}.js`;
  const graph = moduleGraph(path);
  const size = (files: string[]) => {
    const contents = files.map((file) => readFileSync(file));
    return {
      raw: contents.reduce((sum, code) => sum + code.length, 0),
      gzip: contents.reduce((sum, code) => sum + gzipSync(code).length, 0),
    };
  };
  const all = size([...graph.atStart, ...graph.lazy]);
  const start = size(graph.atStart);
  return {
    path,
    raw: all.raw,
    gzip: all.gzip,
    startRaw: start.raw,
    startGzip: start.gzip,
    modules: { atStart: graph.atStart.length, lazy: graph.lazy.length },
  };
}

/** An import of a module beside it, as esbuild writes them: `from"./x.js"`, `import("./x.js")`, `import"./x.js"`. */
const IMPORTS = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s*)"(\.{1,2}\/[^"]+)"/g;

/**
 * A built Worker's modules from its main module: those it imports statically, transitively (compiled
 * and evaluated when an isolate starts), and those only reached through `import()` (compiled when a
 * request first imports them).
 */
export function moduleGraph(mainPath: string): { atStart: string[]; lazy: string[] } {
  const edges = (file: string) =>
    [...readFileSync(file, "utf8").matchAll(IMPORTS)].map(([, how, specifier]) => ({
      dynamic: how!.includes("("),
      path: join(dirname(file), specifier!),
    }));
  const walk = (roots: string[], followDynamic: boolean) => {
    const seen = new Set<string>();
    const next = [...roots];
    while (next.length > 0) {
      const file = next.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const edge of edges(file)) if (followDynamic || !edge.dynamic) next.push(edge.path);
    }
    return seen;
  };
  const atStart = walk([mainPath], false);
  const everything = walk([mainPath], true);
  return { atStart: [...atStart], lazy: [...everything].filter((file) => !atStart.has(file)) };
}

/**
 * The modules of a built Worker, as Miniflare takes them (with `modulesRoot` at the main module's
 * directory, so each is named by its path there, as wrangler uploads it): the main module first,
 * every module it imports statically or with `import()`, and its Text modules.
 */
export function bundleModules(bundlePath: string): { type: "ESModule" | "Text"; path: string }[] {
  const { atStart, lazy } = moduleGraph(bundlePath);
  return [...atStart, ...lazy].map((path) => ({ type: path.endsWith(".txt") ? "Text" : "ESModule", path }));
}

/**
 * Startup time, two ways. `wrangler check startup` profiles the Worker's startup in workerd, but its
 * sampler ticks about every 10 ms, so its "active" time comes in ~10 ms quanta (we saw 2.2 and
 * 11–12 ms for the same bundle). The target is judged on the precise figure instead: V8's compile
 * and evaluation of the same bundle, timed around `vm.SourceTextModule` in a fresh Node process
 * with its loader warmed up (bench/startup-probe.mjs). Medians of several runs.
 */
export function measureStartup(
  bundlePath: string,
  withWrangler = true,
  referencePath?: string,
): { wranglerActiveMs: number; v8CompileMs: number; v8EvaluateMs: number; referenceMs: number; pairRatio: number } {
  const profile = `${BUILD}/startup.cpuprofile`;
  const active: number[] = [];
  for (let i = 0; i < (withWrangler ? 3 : 0); i++) {
    // It builds the Worker from wrangler.toml itself (its --worker flag wants a multipart upload bundle).
    run("wrangler", ["check", "startup", "--outfile", profile]);
    const p = JSON.parse(readFileSync(profile, "utf8")) as {
      nodes: { id: number; callFrame: { functionName: string } }[];
      samples: number[];
      timeDeltas: number[];
    };
    const idle = new Set(
      p.nodes.filter((n) => ["(idle)", "(program)", "(root)"].includes(n.callFrame.functionName)).map((n) => n.id),
    );
    let us = 0;
    p.samples.forEach((id, j) => {
      if (!idle.has(id)) us += p.timeDeltas[j] ?? 0;
    });
    active.push(us / 1000);
  }
  const compile: number[] = [];
  const evaluate: number[] = [];
  const reference: number[] = [];
  const ratios: number[] = [];
  const probe = (path: string) =>
    JSON.parse(
      run(process.execPath, ["--experimental-vm-modules", "--no-warnings", `${ROOT}bench/startup-probe.mjs`, path]),
    ) as { compileMs: number; evaluateMs: number };
  // Alternating with the reference, so both see the same moments of a noisy machine.
  for (let i = 0; i < 21; i++) {
    const { compileMs, evaluateMs } = probe(bundlePath);
    compile.push(compileMs);
    evaluate.push(evaluateMs);
    if (referencePath) {
      const r = probe(referencePath);
      reference.push(r.compileMs + r.evaluateMs);
      // Each pair ran back to back: its ratio cancels the machine's slower and faster moments.
      ratios.push((compileMs + evaluateMs) / (r.compileMs + r.evaluateMs));
    }
  }
  return {
    wranglerActiveMs: active.length ? median(active) : Number.NaN,
    v8CompileMs: median(compile),
    v8EvaluateMs: median(evaluate),
    referenceMs: reference.length ? median(reference) : Number.NaN,
    pairRatio: ratios.length ? median(ratios) : Number.NaN,
  };
}

/** What one request, the first of its kind in a fresh isolate, loaded beyond the modules loaded at start. */
export interface LazyLoad {
  method: string;
  path: string;
  status: number;
  /** The modules it imported with `import()`, relative to the main module's directory. */
  loaded: string[];
}

/**
 * The proof that a token request loads nothing lazily: the built Worker evaluated in a fresh V8
 * context (bench/startup-probe.mjs), then asked for an HS256 token (an existing user, its record in a
 * stand-in KV; no other binding may be touched), then for `/healthz`, which loads the Hono app.
 */
export function lazyLoads(
  bundlePath: string,
  env: Record<string, unknown>,
  requests: { method: string; path: string; headers?: Record<string, string>; body?: string }[],
): LazyLoad[] {
  const out = run(process.execPath, [
    "--experimental-vm-modules",
    "--no-warnings",
    `${ROOT}bench/startup-probe.mjs`,
    bundlePath,
    "requests",
    JSON.stringify({ requests, env }),
  ]);
  const dir = dirname(bundlePath);
  return (JSON.parse(out) as { loadedBy: LazyLoad[] }).loadedBy.map((load) => ({
    ...load,
    loaded: load.loaded.map((path) => relative(dir, path)),
  }));
}
