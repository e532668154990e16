/**
 * What the two server API dialects (v1, v2) hand the emulated app: which operation a request is, the
 * accids it is about (for counters, per-accid faults and trace ids), and how to carry it out.
 */

import type { AccountBook } from "./accounts.ts";
import type { ChatroomBook } from "./chatrooms.ts";

/** The books a call reads and changes: v1 and v2 are two views of the same ones. */
export interface Books {
  accounts: AccountBook;
  chatrooms: ChatroomBook;
}

/**
 * The operations the emulator serves, by name: what faults and call counters use. The account
 * operations first, then the chatroom ones (named after their v1 actions; v2's calls are the same
 * operations: `POST chatrooms` createChatroom, `GET chatrooms/{id}` getChatroom, `PATCH
 * …/update_status` toggleCloseStat, `GET …/address` requestAddr).
 */
export const OPERATIONS = [
  "create",
  "block",
  "unblock",
  "getUinfos",
  "kick",
  "createChatroom",
  "getChatroom",
  "toggleCloseStat",
  "requestAddr",
] as const;
export type Operation = (typeof OPERATIONS)[number];

/** v1 actions by the operation they are, so a fault can still be named by a v1 path. */
export const V1_ACTIONS: Readonly<Record<string, Operation>> = {
  "user/create.action": "create",
  "user/block.action": "block",
  "user/unblock.action": "unblock",
  "user/getUinfos.action": "getUinfos",
  "chatroom/create.action": "createChatroom",
  "chatroom/get.action": "getChatroom",
  "chatroom/toggleCloseStat.action": "toggleCloseStat",
  "chatroom/requestAddr.action": "requestAddr",
};

/** One parsed server API call, ready to run against the books. */
export interface ParsedCall {
  operation: Operation;
  accids: string[];
  /**
   * Bookkeeping for the emulator-only inspection, done when the call is counted (before an injected
   * fault or a repeated trace id answers it), so every call that reached the app shows.
   */
  note?: () => void;
  /** Carries the call out and answers it in the dialect's shape. */
  run(): Response;
}
