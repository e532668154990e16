/**
 * What the two server API dialects (v1, v2) hand the emulated app: which operation a request is, the
 * accids it is about (for counters, per-accid faults and trace ids), and how to carry it out.
 */

/** The account operations the emulator serves, by name: what faults and call counters use. */
export const OPERATIONS = ["create", "block", "unblock", "getUinfos", "kick"] as const;
export type Operation = (typeof OPERATIONS)[number];

/** v1 actions by the operation they are, so a fault can still be named by a v1 path. */
export const V1_ACTIONS: Readonly<Record<string, Operation>> = {
  "user/create.action": "create",
  "user/block.action": "block",
  "user/unblock.action": "unblock",
  "user/getUinfos.action": "getUinfos",
};

/** One parsed server API call, ready to run against the account book. */
export interface ParsedCall {
  operation: Operation;
  accids: string[];
  /** Carries the call out and answers it in the dialect's shape. */
  run(): Response;
}
