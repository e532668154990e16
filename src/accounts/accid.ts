/**
 * Derives accids from uids: hex(HMAC-SHA256(ACCID_SECRET, generation NUL uid)), first 32 characters.
 *
 * Derivation rather than a random id makes racing first requests (in any isolate, anywhere) agree on
 * one accid without coordination. 32 hex characters fit NetEase's accid rules (≤ 32, lowercase) and
 * carry 128 bits, so an accid cannot be linked to its uid without the secret. The generation counts
 * rotations: each rotation derives a fresh accid and the old one is never reused.
 */

import { toHex } from "../nim/digest.ts";

const encoder = new TextEncoder();

/** Imports ACCID_SECRET as an HMAC key. Do this once per isolate. */
export function importAccidKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** The accid for `uid` at `generation` (0 for a uid's first accid). */
export async function deriveAccid(key: CryptoKey, uid: string, generation: number): Promise<string> {
  // uids never contain control characters (session/verify.ts rejects them), so NUL separates unambiguously.
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${generation}\u0000${uid}`));
  return toHex(mac).slice(0, 32);
}
