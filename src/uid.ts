/** The rule for app user ids (uids): what the session JWT's `sub` and the admin API accept. */

import * as v from "valibot";
import { uidSchema } from "./contract.ts";

/**
 * True for a uid that follows `UID_RULE` (see `uidSchema`). Control
 * characters are refused so a uid is always safe to log and to join with a NUL separator.
 */
export function isValidUid(value: unknown): value is string {
  return v.is(uidSchema(), value);
}
