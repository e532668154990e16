/**
 * What an account object derives from a uid with ACCID_SECRET: its accids and its RTC uid.
 *
 * Derivation rather than random ids makes racing first requests (in any isolate, anywhere) agree
 * without coordination, and the HMAC keeps both unlinkable to the uid without the secret.
 *
 *   accid   = hex(HMAC-SHA256(ACCID_SECRET, generation NUL uid)), first 32 characters
 *   rtc uid = first 53 bits of HMAC-SHA256(ACCID_SECRET, "rtc" NUL attempt NUL uid), 0 read as 1
 *
 * 32 hex characters fit NetEase's accid rules (at most 32, lowercase) and carry 128 bits. The
 * generation counts rotations: each derives a fresh accid, and an old one is never reused. NERTC
 * takes a positive integer, and JavaScript callers need it below 2^53; 53 bits make a collision
 * between two users unlikely (about n² / 2^54 for n users) but not impossible, so a uid whose
 * candidate is taken moves on to the next attempt (see `AccountChanges`). uids never contain control
 * characters (the uid rule), so NUL separates unambiguously.
 */

import { toHex } from "../../nim/digest.ts";

const encoder = new TextEncoder();

/** Imports ACCID_SECRET as the HMAC key both derivations use. Do this once per isolate. */
export function importDerivationKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** The accid for `uid` at `generation` (0 for a uid's first accid). */
export async function deriveAccid(key: CryptoKey, uid: string, generation: number): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${generation}\u0000${uid}`));
  return toHex(mac).slice(0, 32);
}

/** The RTC uid candidate for `uid` at `attempt` (0 first): an integer from 1 to 2^53 − 1. */
export async function deriveRtcUid(key: CryptoKey, uid: string, attempt: number): Promise<number> {
  const mac = new DataView(await crypto.subtle.sign("HMAC", key, encoder.encode(`rtc\u0000${attempt}\u0000${uid}`)));
  // The first 53 bits: 21 from the first word, 32 from the second (exact, below 2^53).
  const value = (mac.getUint32(0) & 0x1f_ffff) * 2 ** 32 + mac.getUint32(4);
  return value === 0 ? 1 : value;
}
