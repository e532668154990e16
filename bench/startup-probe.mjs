// Times V8's compile and evaluation of one ES module bundle (argv[2]), excluding file I/O and
// Node's own loader start-up. Run by bench/run.ts with --experimental-vm-modules, once per process.

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import vm from "node:vm";

const code = readFileSync(process.argv[2], "utf8");
// Text modules (the OpenAPI document) are strings that workerd hands over without parsing any
// JavaScript: read and wrapped before the clock starts, so only the JavaScript's cost is timed.
const textModules = new Map();
for (const [, specifier] of code.matchAll(/from\s*"(\.\/[^"]+\.txt)"/g)) {
  const text = readFileSync(join(dirname(process.argv[2]), specifier), "utf8");
  textModules.set(
    specifier,
    new vm.SyntheticModule(["default"], function () {
      this.setExport("default", text);
    }),
  );
}
// Warm up Node's own vm/ESM internals so only the bundle's compile and evaluation are timed.
const warm = new vm.SourceTextModule("export default 1;");
await warm.link(() => {});
await warm.evaluate();
const t0 = performance.now();
const mod = new vm.SourceTextModule(code, { identifier: "worker.js" });
// The one import a Worker bundle keeps is the runtime's own `cloudflare:workers` (the Durable Object
// base class); a stand-in is linked so only the bundle itself is timed.
const runtimeModule = new vm.SyntheticModule(["DurableObject"], function () {
  this.setExport("DurableObject", class DurableObject {});
});
await mod.link((specifier) => {
  if (specifier === "cloudflare:workers") return runtimeModule;
  if (textModules.has(specifier)) return textModules.get(specifier);
  throw new Error(`unexpected import ${specifier}`);
});
const t1 = performance.now();
await mod.evaluate();
const t2 = performance.now();
console.log(JSON.stringify({ compileMs: t1 - t0, evaluateMs: t2 - t1 }));
