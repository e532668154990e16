/**
 * `BENCH_ONLY=profile npm run bench`: where a warm request's CPU goes, from V8's own sampling profiler
 * inside workerd (the Chrome DevTools protocol on Miniflare's inspector port), under the same warm
 * load as the throughput rounds. The bundle is built unminified so functions keep their names.
 * `BENCH_PROFILE` picks the Worker: `hs` (default), `rtc`, `es`, or the minimal issuer's `minimal-hs`,
 * `minimal-es`. It prints the functions with the most self time and writes the whole profile to
 * `bench/.build/<name>.cpuprofile` (open it in Chrome DevTools' Performance panel). `cold`: the first
 * request on fresh isolates instead (`profileColdRequests`).
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import autocannon from "autocannon";
import { convertV4MiniflareOptions, Miniflare } from "miniflare";
import { importDerivationKey } from "../src/accounts/object/derive.ts";
import { coldWorker } from "./cold.ts";
import type { Services } from "./services.ts";
import { benchRecord, hsJwt } from "./services.ts";
import { BUILD, log, RTC_BODY, SECRETS } from "./settings.ts";

/** What can be profiled: which Worker (its name in Miniflare), its origin and the request sent. */
export const PROFILE_TARGETS = {
  hs: { worker: "token-hs", origin: "hs", path: "/v1/token", es: false },
  rtc: { worker: "token-hs", origin: "hs", path: "/v1/rtc/token", es: false },
  es: { worker: "token-es", origin: "es", path: "/v1/token", es: true },
  "minimal-hs": { worker: "minimal", origin: "minimal", path: "/v1/token", es: false },
  "minimal-es": { worker: "minimal", origin: "minimal", path: "/v1/token", es: true },
} as const;

/** A Worker `BENCH_PROFILE` can name. */
export type ProfileTarget = keyof typeof PROFILE_TARGETS;

/** The part of a V8 CPU profile read here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  samples: number[];
  timeDeltas: number[];
}

/** One DevTools-protocol session over the inspector's WebSocket. */
async function inspector(
  url: string,
): Promise<{ send(method: string, params?: object): Promise<unknown>; close(): void }> {
  const socket = new WebSocket(url);
  await new Promise((resolve, reject) => {
    socket.onopen = resolve;
    socket.onerror = reject;
  });
  let id = 0;
  const pending = new Map<number, (result: unknown) => void>();
  socket.onmessage = (event) => {
    const message = JSON.parse(String(event.data)) as { id?: number; result?: unknown };
    if (message.id !== undefined) pending.get(message.id)?.(message.result);
    if (message.id !== undefined) pending.delete(message.id);
  };
  return {
    send: (method, params = {}) =>
      new Promise((resolve) => {
        pending.set(++id, resolve);
        socket.send(JSON.stringify({ id, method, params }));
      }),
    close: () => socket.close(),
  };
}

/** Profiles `target` for `seconds` of saturating warm load after a warm-up; returns the top of the profile. */
export async function profileWorker(
  services: Services,
  inspectorPort: number,
  target: ProfileTarget,
  seconds: number,
): Promise<string> {
  const { worker, origin, path, es } = PROFILE_TARGETS[target];
  const jwts = es ? services.esJwts : services.hsJwts;
  let next = 0;
  const load = (duration: number) =>
    autocannon({
      url: services.origins[origin],
      connections: 10,
      duration,
      requests: [
        {
          method: "POST",
          path,
          ...(path === "/v1/rtc/token" ? { body: RTC_BODY } : {}),
          setupRequest: (request) => {
            request.headers = {
              ...request.headers,
              authorization: `Bearer ${jwts[next++ % jwts.length]}`,
              ...(path === "/v1/rtc/token" ? { "content-type": "application/json" } : {}),
            };
            return request;
          },
        },
      ],
    });
  log(`warming ${target}`);
  await load(3);
  const session = await inspector(`ws://127.0.0.1:${inspectorPort}/core:user:${worker}`);
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: 50 });
  await session.send("Profiler.start");
  log(`profiling ${target} for ${seconds} s`);
  const result = await load(seconds);
  const { profile } = (await session.send("Profiler.stop")) as { profile: CpuProfile };
  session.close();
  const file = `${BUILD}/${target}.cpuprofile`;
  writeFileSync(file, JSON.stringify(profile));

  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  profile.samples.forEach((id, i) => {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const where = url ? ` ${url.split("/").pop()}:${lineNumber + 1}` : "";
    const key = `${functionName || "(anonymous)"}${where}`;
    const micros = profile.timeDeltas[i] ?? 0;
    total += micros;
    self.set(key, (self.get(key) ?? 0) + micros);
  });
  const lines = [...self]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 40)
    .map(([key, micros]) => `${((100 * micros) / total).toFixed(1).padStart(5)} %  ${key}`);
  return [
    `${target}: ${result.requests.average.toFixed(0)} req/s while profiled; self time by function (${file}):`,
    ...lines,
  ].join("\n");
}

/**
 * `BENCH_PROFILE=cold`: where the first HS256 token request on a fresh isolate spends its CPU, for
 * this Worker and the minimal issuer, from V8's sampling profiler inside workerd over `runs` fresh
 * starts each (the same Worker setup as the cold measure, `cold.ts`). A sample's time is capped at
 * twice the median interval: workerd takes no sample while it waits for I/O (the KV read), so the
 * first sample after a wait would otherwise carry the whole wait. Prints, per Worker, the CPU per
 * request by source module (this Worker's unminified chunks carry esbuild's `// src/...` markers)
 * and the functions with the most. Run alone, on unminified bundles.
 */
export async function profileColdRequests(bundlePath: string, minimalPath: string, runs: number): Promise<string> {
  const uid = "bench-cold-profile";
  const { record } = await benchRecord(await importDerivationKey(SECRETS.ACCID_SECRET), uid);
  const jwt = hsJwt(uid, Math.floor(Date.now() / 1000) + 3600);
  const out: string[] = [];
  for (const [which, path] of [
    ["worker", bundlePath],
    ["minimal", minimalPath],
  ] as const) {
    const byModule = new Map<string, number>();
    const byFunction = new Map<string, number>();
    const add = (map: Map<string, number>, key: string, micros: number) => map.set(key, (map.get(key) ?? 0) + micros);
    /** Each chunk's lines → its source module, from esbuild's markers. */
    const modulesOf = new Map<string, (line: number) => string>();
    const moduleAt = (url: string, line: number): string => {
      let find = modulesOf.get(url);
      if (!find) {
        // workerd names a module by its path under the bundle's directory (a URL, or bare).
        const relative = url.replace(/^file:\/\//, "").replace(/^\/+/, "");
        const file = [url, join(dirname(path), relative), join(dirname(path), "chunks", basename(relative))].find(
          (candidate) => existsSync(candidate),
        );
        const lines = file ? readFileSync(file, "utf8").split("\n") : [];
        const marks = lines.flatMap((text, i) => (/^\/\/ (\S+)$/.test(text) ? [[i + 1, text.slice(3)] as const] : []));
        find = (at) => marks.findLast(([start]) => start <= at)?.[1] ?? basename(url);
        modulesOf.set(url, find);
      }
      return find(line);
    };
    for (let run = 0; run < runs; run++) {
      const inspectorPort = 9300 + (run % 50);
      const mf = new Miniflare({
        ...convertV4MiniflareOptions({ host: "127.0.0.1", port: 0, inspectorPort, workers: [coldWorker(which, path)] }),
      });
      try {
        const url = await mf.ready;
        await (await mf.getKVNamespace("ACCOUNTS", which)).put(`uid:${uid}`, record);
        const session = await inspector(`ws://127.0.0.1:${inspectorPort}/core:user:${which}`);
        await session.send("Profiler.enable");
        await session.send("Profiler.setSamplingInterval", { interval: 25 });
        await session.send("Profiler.start");
        const answer = await fetch(new URL("/v1/token", url), {
          method: "POST",
          headers: { authorization: `Bearer ${jwt}` },
        });
        await answer.arrayBuffer();
        if (answer.status !== 200) throw new Error(`${which}: HTTP ${answer.status}`);
        const { profile } = (await session.send("Profiler.stop")) as { profile: CpuProfile };
        session.close();
        const byId = new Map(profile.nodes.map((node) => [node.id, node]));
        const sorted = [...profile.timeDeltas].sort((a, b) => a - b);
        const cap = 2 * (sorted[Math.floor(sorted.length / 2)] ?? 0);
        profile.samples.forEach((id, i) => {
          const { functionName, url: source, lineNumber } = byId.get(id)!.callFrame;
          if (functionName === "(idle)") return;
          const micros = Math.min(profile.timeDeltas[i] ?? 0, cap);
          const module = source ? moduleAt(source, lineNumber + 1) : `(workerd) ${functionName}`;
          add(byModule, module, micros);
          if (source) add(byFunction, `${functionName || "(anonymous)"} (${module})`, micros);
        });
      } finally {
        await mf.dispose();
      }
    }
    const total = [...byModule.values()].reduce((sum, micros) => sum + micros, 0);
    const top = (map: Map<string, number>, count: number) =>
      [...map]
        .sort((a, b) => b[1] - a[1])
        .slice(0, count)
        .map(([key, micros]) => `  ${(micros / runs / 1000).toFixed(3).padStart(6)} ms  ${key}`);
    out.push(
      `${which}: ${(total / runs / 1000).toFixed(2)} ms of CPU in the first request (mean of ${runs} fresh starts); by module:`,
      ...top(byModule, 25),
      "by function:",
      ...top(byFunction, 25),
    );
  }
  return out.join("\n");
}
