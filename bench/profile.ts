/**
 * `BENCH_ONLY=profile npm run bench`: where a warm request's CPU goes, from V8's own sampling profiler
 * inside workerd (the Chrome DevTools protocol on Miniflare's inspector port), under the same warm
 * load as the throughput rounds. The bundle is built unminified so functions keep their names.
 * `BENCH_PROFILE` picks the Worker: `hs` (default), `rtc`, `es`, or the minimal issuer's `minimal-hs`,
 * `minimal-es`. It prints the functions with the most self time and writes the whole profile to
 * `bench/.build/<name>.cpuprofile` (open it in Chrome DevTools' Performance panel).
 */

import { writeFileSync } from "node:fs";
import autocannon from "autocannon";
import type { Services } from "./services.ts";
import { BUILD, log, RTC_BODY } from "./settings.ts";

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
