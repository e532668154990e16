/** The rule for app user ids (uids): what the session JWT's `sub` and the admin API accept. */

import { LIMITS } from "./constants.ts";

// Control characters are refused so a uid is always safe to log and to join with a NUL separator.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** True for a string of 1 to 256 characters with no control characters. */
export function isValidUid(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 && value.length <= LIMITS.maxUidLength && !CONTROL.test(value);
}
