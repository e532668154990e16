/** The bundle as wrangler builds it for deploy, and its startup time against an empty Hono app. */

import { mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { gzipSync } from "node:zlib";
import { BUILD, median, ROOT, run } from "./settings.ts";

/**
 * The production bundle, built by wrangler exactly as `wrangler deploy` would; `minify: false` keeps
 * the names for a CPU profile.
 */
export function buildBundle(
  config?: string,
  name = "reference",
  { minify = true } = {},
): { path: string; raw: number; gzip: number } {
  const outdir = `${config ? `${BUILD}/${name}` : BUILD}${minify ? "" : "/unminified"}`;
  mkdirSync(outdir, { recursive: true });
  run("wrangler", [
    "deploy",
    "--dry-run",
    "--outdir",
    outdir,
    ...(config ? ["--config", config] : []),
    ...(minify ? [] : ["--no-minify"]),
  ]);
  const path = `${outdir}/${config ? "worker" : "index"}.js`;
  // Every module wrangler uploads counts: the script and its Text modules (the OpenAPI document).
  const files = bundleModules(path).map(({ path: file }) => readFileSync(file));
  return {
    path,
    raw: files.reduce((sum, code) => sum + code.length, 0),
    gzip: files.reduce((sum, code) => sum + gzipSync(code).length, 0),
  };
}

/**
 * The modules of a bundle wrangler built, as Miniflare takes them: the script and the Text modules it
 * imports (the OpenAPI document), each named by its path beside the script, as wrangler uploads them.
 */
export function bundleModules(bundlePath: string): { type: "ESModule" | "Text"; path: string }[] {
  const dir = dirname(bundlePath);
  const texts = [...readFileSync(bundlePath, "utf8").matchAll(/from\s*"\.\/([^"]+\.txt)"/g)].map(([, file]) => ({
    type: "Text" as const,
    path: `${dir}/${file}`,
  }));
  return [{ type: "ESModule", path: bundlePath }, ...texts];
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
