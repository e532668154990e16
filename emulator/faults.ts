/**
 * Injected faults: the next calls of an action (for an accid, on one base) fail in a chosen way, so
 * tests can drive the Worker's retries, failover and rollbacks against the real wire format.
 */

import { dialectAnswer, json } from "./answers.ts";
import type { Operation } from "./dialect.ts";

/** How an injected fault answers. */
export type FaultMode =
  | "http500"
  | "http502"
  | "http503"
  | "code500"
  | "code416"
  | "code403"
  | "malformed"
  | "timeout"
  | "applied_timeout";
export const FAULT_MODES: readonly FaultMode[] = [
  "http500",
  "http502",
  "http503",
  "code500",
  "code416",
  "code403",
  "malformed",
  "timeout",
  // The call takes effect, but its answer never arrives in time: the caller sees a failure for a
  // change that happened (what a timeout or a 5xx after NetEase acted looks like).
  "applied_timeout",
];

export interface Fault {
  accid: string | undefined;
  /** An operation, or "*" for every one. */
  action: Operation | "*";
  mode: FaultMode;
  remaining: number;
  /** Only on this base (default: both). */
  base?: Base;
}

/** Which of NetEase's two bases a call reached. */
export type Base = "primary" | "backup";

/** The faults waiting to happen, in the order they were added. */
export class FaultBook {
  #faults: Fault[] = [];

  /**
   * Adds a fault from a request body; answers 201, or 400 naming what is wrong. `action` names an
   * operation (whichever dialect carries it) or, as before v2, a v1 path (`user/create.action`).
   */
  add(
    body: Partial<Record<keyof Fault | "times", unknown>> | null,
    operations: readonly Operation[],
    v1Actions: Readonly<Record<string, Operation>>,
  ): Response {
    const named = body?.action;
    const action = typeof named === "string" ? (v1Actions[named] ?? named) : named;
    const mode = body?.mode as FaultMode;
    const times = body?.times ?? 1;
    if (typeof action !== "string" || !(operations as readonly string[]).concat("*").includes(action)) {
      return json({ error: `action must be one of ${operations.join(", ")}, a v1 path, or *` }, 400);
    }
    if (!FAULT_MODES.includes(mode)) return json({ error: `mode must be one of ${FAULT_MODES.join(", ")}` }, 400);
    if (!Number.isInteger(times) || (times as number) < 1)
      return json({ error: "times must be a positive integer" }, 400);
    const accid = typeof body?.accid === "string" ? body.accid : undefined;
    const base = body?.base === "primary" || body?.base === "backup" ? body.base : undefined;
    this.#faults.push({ accid, action: action as Operation | "*", mode, remaining: times as number, base });
    return json({ ok: true }, 201);
  }

  /** The fault this call meets, if any (counting it as used). */
  take(action: string, accids: readonly string[], base: Base): Fault | undefined {
    const fault = this.#faults.find(
      (f) =>
        (f.action === "*" || f.action === action) &&
        (f.accid === undefined || accids.includes(f.accid)) &&
        (f.base === undefined || f.base === base),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    return fault;
  }
}

/** How a fault answers, in the dialect of the call it hit. */
export async function faultAnswer(fault: Fault, dialect: "v1" | "v2"): Promise<Response> {
  switch (fault.mode) {
    case "http500":
      return new Response("Internal Server Error", { status: 500 });
    case "http502":
      return new Response("Bad Gateway", { status: 502 });
    case "http503":
      return new Response("Service Unavailable", { status: 503 });
    case "code500":
      return dialectAnswer(dialect, 500, "internal error");
    case "code416":
      return dialectAnswer(dialect, 416, "frequency limit");
    case "code403":
      return dialectAnswer(dialect, 403, "illegal operation");
    case "malformed":
      return new Response("<html>gateway</html>", { status: 200, headers: { "Content-Type": "text/html" } });
    case "timeout":
    case "applied_timeout":
      // Longer than any client timeout; the caller gives up first.
      await new Promise((resolve) => setTimeout(resolve, 30_000));
      return dialectAnswer(dialect, 500, "late");
  }
}
