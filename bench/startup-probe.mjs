// Times V8's compile and evaluation of a Worker's modules (argv[2]: its main module), excluding file
// I/O and Node's own loader start-up: the modules its main module imports statically (what workerd
// compiles and evaluates when an isolate starts), not the ones it imports with `import()` (compiled
// when a request first asks for them). Run by bench/startup.ts with --experimental-vm-modules, once
// per process.
//
// With argv[3] = "requests", it then answers requests with the Worker's fetch handler and prints
// which modules each first loaded (the bench's proof that a token request loads nothing lazily).

import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import vm from "node:vm";

const entry = resolve(process.argv[2]);
/** Every module's source and text modules, read before any clock starts. */
const sources = new Map();
const read = (path) => {
  if (!sources.has(path)) sources.set(path, readFileSync(path, "utf8"));
  return sources.get(path);
};
const IMPORTS = /(?:\bfrom\s*|\bimport\s*\(?\s*)"(\.{1,2}\/[^"]+)"/g;
const preload = (path) => {
  if (sources.has(path)) return;
  for (const [, specifier] of read(path).matchAll(IMPORTS)) preload(join(dirname(path), specifier));
};
preload(entry);

// The runtime's own module: a stand-in, so only the Worker's code is timed.
const runtimeModule = new vm.SyntheticModule(
  ["DurableObject", "WorkflowEntrypoint", "WorkerEntrypoint", "RpcTarget"],
  function () {
    for (const name of ["DurableObject", "WorkflowEntrypoint", "WorkerEntrypoint", "RpcTarget"])
      this.setExport(
        name,
        class {
          constructor(ctx, env) {
            this.ctx = ctx;
            this.env = env;
          }
        },
      );
  },
  { identifier: "cloudflare:workers" },
);

/** Modules compiled, by path; and the paths loaded through `import()`, in order. */
const modules = new Map();
const dynamicallyLoaded = [];

function moduleAt(path) {
  let module = modules.get(path);
  if (module) return module;
  if (path.endsWith(".txt")) {
    const text = read(path);
    module = new vm.SyntheticModule(["default"], function () {
      this.setExport("default", text);
    });
  } else {
    module = new vm.SourceTextModule(read(path), {
      identifier: path,
      importModuleDynamically: async (specifier, referrer) => {
        const target = join(dirname(referrer.identifier), specifier);
        dynamicallyLoaded.push(target);
        const loaded = moduleAt(target);
        if (loaded.status === "unlinked") await loaded.link(linker);
        if (loaded.status === "linked") await loaded.evaluate();
        return loaded;
      },
    });
  }
  modules.set(path, module);
  return module;
}

function linker(specifier, referencing) {
  if (specifier === "cloudflare:workers") return runtimeModule;
  if (!specifier.startsWith(".")) throw new Error(`unexpected import ${specifier}`);
  return moduleAt(join(dirname(referencing.identifier), specifier));
}

// Warm up Node's own Fetch and WebCrypto (loaded on first use, unlike workerd's), so a request's
// figures are the Worker's own.
if (process.argv[3] === "requests") {
  const key = await crypto.subtle.importKey("raw", new Uint8Array(32), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
  await crypto.subtle.verify("HMAC", key, await crypto.subtle.sign("HMAC", key, new Uint8Array(1)), new Uint8Array(1));
  await crypto.subtle.digest("SHA-1", new Uint8Array(1));
  const warmRequest = new Request("https://warm.test/", { method: "POST", headers: { a: "b" }, body: "{}" });
  await warmRequest.text();
  await new Response("{}", { headers: { "content-type": "application/json" } }).arrayBuffer();
  crypto.randomUUID();
}
// Warm up Node's own vm/ESM internals so only the Worker's compile and evaluation are timed.
const warm = new vm.SourceTextModule("export default 1;");
await warm.link(() => {});
await warm.evaluate();
const t0 = performance.now();
const main = moduleAt(entry);
await main.link(linker);
const t1 = performance.now();
await main.evaluate();
const t2 = performance.now();
const staticModules = [...modules.keys()];

if (process.argv[3] !== "requests") {
  console.log(JSON.stringify({ compileMs: t1 - t0, evaluateMs: t2 - t1, staticModules }));
} else {
  const { requests, env } = JSON.parse(process.argv[4]);
  const worker = main.namespace.default;
  const loadedBy = [];
  for (const { method, path, headers, body } of requests) {
    const before = dynamicallyLoaded.length;
    const started = performance.now();
    const response = await worker.fetch(
      new Request(`https://worker.bench.test${path}`, { method, headers, body }),
      { ...env, ACCOUNTS: kvFrom(env.ACCOUNTS), ACCOUNT_OBJECTS: unused("ACCOUNT_OBJECTS") },
      { waitUntil() {}, passThroughOnException() {} },
    );
    await response.arrayBuffer();
    const ms = performance.now() - started;
    loadedBy.push({ method, path, status: response.status, ms, loaded: dynamicallyLoaded.slice(before) });
  }
  console.log(JSON.stringify({ staticModules, loadedBy }));
}

/** A read-only KV namespace over `records` (key → text). */
function kvFrom(records) {
  return {
    async get(key, type) {
      const text = records[key] ?? null;
      return text === null || type !== "json" ? text : JSON.parse(text);
    },
  };
}

/** A binding the requests must not touch. */
function unused(name) {
  return new Proxy(
    {},
    {
      get() {
        throw new Error(`${name} used`);
      },
    },
  );
}
