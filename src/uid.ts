/** The rule for app user ids (uids): what the session JWT's `sub` and the admin API accept. */

import { LIMITS } from "./constants.ts";
import { UID_CHARACTERS } from "./contract.ts";

const utf8 = new TextEncoder();

/**
 * True for a uid that follows `UID_RULE`: exactly what `uidSchema` accepts (a property test holds
 * the two together). Written out because it runs on every token request: the schema's pipe costs a
 * few microseconds and encodes every uid to count its bytes, which a short uid never needs (a UTF-16
 * unit is at most 3 bytes of UTF-8). Control characters are refused so a uid is always safe to log
 * and to join with a NUL separator.
 */
export function isValidUid(value: unknown): value is string {
  if (typeof value !== "string" || value === "." || value === "..") return false;
  if (!UID_CHARACTERS.test(value)) return false;
  return value.length * 3 <= LIMITS.maxUidBytes || utf8.encode(value).length <= LIMITS.maxUidBytes;
}
