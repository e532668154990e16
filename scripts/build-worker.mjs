// Builds the Worker into dist/worker/ as several ES modules, not one bundle: wrangler.jsonc's
// `build.command`, run by `wrangler deploy`, `wrangler dev` (npm start) and every dry-run.
//
// Why not wrangler's own bundling: it puts every module into one script, dynamic `import()`s
// included (wrapped so they evaluate late, but still compiled on every cold start). Here esbuild
// splits at each dynamic `import()` (`splitting`), and wrangler uploads the pieces as they are
// (`no_bundle` with `rules`), so workerd compiles and evaluates a piece only when a request
// imports it: a token request never loads Hono's app, the admin API, the console, the login callback,
// NetEase's server API or jose. `npm run bench` measures what a token request loads (docs/operations.md).
//
// Plain JavaScript, not TypeScript: wrangler runs it with whatever `node` is on PATH (Workers Builds,
// a laptop's Node 20), which may not strip types. The options mirror wrangler's own bundler (its
// target, conditions and NODE_ENV), so the modules are what `wrangler deploy` would have built.

import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
// Another directory as the first argument: the tests build copies of wrangler.jsonc side by side.
const outdir = resolve(process.argv[2] ?? `${root}dist/worker`);
const minify = process.env.WORKER_MINIFY !== "false";

/**
 * Keeps what an isolate evaluates at start in one module beside the entry's own, not several.
 * esbuild puts each module in a chunk by the set of entry points (the main module and every
 * `import()` target) that reach it, so start code reached by different sets of lazy modules lands in
 * different chunks: each another module to compile at start, and the split moves whenever a lazy
 * module's imports change. A lazy module loads after the main module has run, so having each of them
 * import the entry too costs nothing at run time and gives all start code one reach: one chunk.
 * `lazy`: the `import()` targets, found by a first pass (a target may be loaded before the import
 * that makes it one is seen).
 */
function oneStartChunk(entry, lazy) {
  const entryPath = resolve(root, entry);
  const joined = new Set();
  return {
    name: "one-start-chunk",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (!lazy.has(args.path)) return undefined;
        joined.add(args.path);
        const source = await readFile(args.path, "utf8");
        // Relative, as the source's own imports: an absolute path would put this machine's
        // directory into the uploaded source maps and into the chunks' content hashes.
        const path = relative(dirname(args.path), entryPath).split(sep).join("/");
        const specifier = path.startsWith(".") ? path : `./${path}`;
        return { contents: `${source}\nimport ${JSON.stringify(specifier)};\n`, loader: "ts" };
      });
      // A target this plugin cannot join (not TypeScript, another path to it) would split the
      // start code again without a word: refuse the build instead.
      build.onEnd(() => {
        const missed = [...lazy].filter((path) => !joined.has(path));
        if (missed.length > 0) throw new Error(`one-start-chunk: import() targets not joined: ${missed.join(", ")}`);
      });
    },
  };
}

rmSync(outdir, { recursive: true, force: true });
mkdirSync(outdir, { recursive: true });
const options = {
  absWorkingDir: root,
  entryPoints: { index: "src/index.ts" },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  // wrangler's: workerd's V8 runs es2024 natively.
  target: "es2024",
  platform: "neutral",
  conditions: ["workerd", "worker", "browser"],
  mainFields: ["module", "main"],
  external: ["cloudflare:*"],
  // The OpenAPI document, as a string in the one piece that serves it.
  loader: { ".txt": "text" },
  define: { "process.env.NODE_ENV": '"production"' },
  minify,
  // No __name() wrappers (wrangler.jsonc had keep_names: false for the same reason: startup time).
  keepNames: false,
  sourcemap: "linked",
  chunkNames: "chunks/[name]-[hash]",
  metafile: true,
  logLevel: "warning",
};
// The first pass finds the `import()` targets; the second writes the modules.
const { metafile } = await build({ ...options, write: false, sourcemap: false, minify: false });
const lazy = new Set(
  Object.values(metafile.inputs).flatMap((input) =>
    input.imports.filter((edge) => edge.kind === "dynamic-import").map((edge) => resolve(root, edge.path)),
  ),
);
const result = await build({ ...options, plugins: [oneStartChunk("src/index.ts", lazy)] });
// Outside the uploaded directory: what each piece holds, for the bench (bench/startup.ts).
writeFileSync(`${outdir}-meta.json`, JSON.stringify(result.metafile));
