/** Latency under a moderate open-loop load, timed per request with a microsecond clock. */

import { Agent, request } from "node:http";

/**
 * Latency under the same moderate load for every Worker: an open-loop generator sends `rate`
 * requests a second for `seconds` (keep-alive connections, as many in flight as needed) and times
 * each answer with a microsecond clock. At saturation (the throughput rounds), a closed-loop load's
 * latency is just connections ÷ throughput, so it says nothing the throughput ratio does not; at an
 * equal, moderate load it shows what the Worker itself adds to each request. autocannon's
 * percentiles are whole milliseconds, too coarse for answers that take one, hence this loop.
 */
export async function measureLatency(
  origin: string,
  method: string,
  path: string,
  headersFor: () => Record<string, string>,
  rate: number,
  seconds: number,
  /** A body to send with each request (the NERTC scenarios'). */
  body?: string,
): Promise<{ p50: number; p99: number; count: number; failures: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const { hostname, port } = new URL(origin);
  const latencies: number[] = [];
  let failures = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const started = process.hrtime.bigint();
      const req = request({ host: hostname, port, method, path, agent, headers: headersFor() }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode !== 200) failures++;
          latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
          resolve();
        });
      });
      req.on("error", () => {
        failures++;
        resolve();
      });
      req.end(body);
    });
  const total = rate * seconds;
  const inFlight: Promise<void>[] = [];
  const t0 = performance.now();
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(one());
  }
  await Promise.all(inFlight);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return { p50: at(0.5), p99: at(0.99), count: latencies.length, failures };
}
