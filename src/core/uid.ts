/**
 * The rule for app user ids (uids), in one place: what the session's uid claim and the admin API
 * (its imports included) accept. contract/requests.ts builds `uidSchema` from it for the admin API's
 * bodies.
 */

import { LIMITS } from "./constants.ts";

/** The uid rule in words: what a 400 and the session's 401 detail say. */
export const UID_RULE = `1 to ${LIMITS.maxUidBytes} bytes of UTF-8 text without control characters, and neither "." nor ".."`;

/**
 * The characters a uid may hold: no C0 or C1 control characters (a uid is logged and joined with
 * NUL), and no lone surrogate (with the u flag a well-formed pair is one code point, so only a lone
 * half matches the class). At least one.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the rule.
export const UID_CHARACTERS = /^[^\u0000-\u001f\u007f-\u009f\ud800-\udfff]+$/u;

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
