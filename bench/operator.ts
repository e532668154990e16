/**
 * The operator of the launch-day burst (bench/burst.ts), in a thread of its own: five seconds in, it
 * blocks a known user and times the answer and when NetEase (the emulator) has the account blocked.
 *
 * Why a thread: the 3,000 simulated users share the bench process's event loop, and under the burst
 * that loop reads an answer seconds after workerd sent it. Timed there, the block measured the load
 * generator: the Worker had answered 0.65 s after the request arrived, the loop saw it 7.2 s after it
 * was sent. An operator is another client on another machine; a thread with its own event loop (and
 * its own connection pool) is the nearest this bench gets to one.
 */

import { parentPort, workerData } from "node:worker_threads";

/** What the burst hands the operator. */
export interface OperatorTask {
  origin: string;
  emulatorUrl: string;
  adminToken: string;
  uid: string;
  accid: string;
  delayMs: number;
}

/** What the operator reports: the answer's status and time, and when NetEase had the block (ms). */
export interface OperatorResult {
  status: number;
  ms: number;
  netEaseMs: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function blockMidBurst(task: OperatorTask): Promise<OperatorResult> {
  await sleep(task.delayMs);
  const at = performance.now();
  let netEaseMs = Number.NaN;
  const watching = (async () => {
    while (Number.isNaN(netEaseMs) && performance.now() - at < 30_000) {
      const account = (await (await fetch(`${task.emulatorUrl}/emulator/accounts/${task.accid}`)).json()) as {
        blocked: boolean;
      };
      if (account.blocked) netEaseMs = performance.now() - at;
      else await sleep(20);
    }
  })();
  const answer = await fetch(`${task.origin}/admin/v1/accounts/${encodeURIComponent(task.uid)}/block`, {
    method: "POST",
    headers: { authorization: `Bearer ${task.adminToken}`, "content-type": "application/json" },
    body: JSON.stringify({ kick: false }),
  });
  await answer.body?.cancel();
  const ms = performance.now() - at;
  await watching;
  return { status: answer.status, ms, netEaseMs };
}

if (parentPort) parentPort.postMessage(await blockMidBurst(workerData as OperatorTask));
