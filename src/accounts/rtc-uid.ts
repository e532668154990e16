/**
 * Derives RTC uids: the first 53 bits of HMAC-SHA256(ACCID_SECRET, "rtc" NUL attempt NUL uid).
 *
 * NERTC identifies a user in a channel by a positive integer; JavaScript callers need it below 2^53.
 * Deriving it (like the accid) makes racing first requests agree without coordination, and the HMAC
 * keeps it unlinkable to the uid without the secret. 53 bits make a collision between two users
 * unlikely (about n² / 2^54 for n users) but not impossible, so the store keeps a reverse mapping and
 * a uid whose candidate is taken moves on to the next attempt.
 */

const encoder = new TextEncoder();

/** The RTC uid candidate for `uid` at `attempt` (0 first): an integer from 1 to 2^53 − 1. */
export async function deriveRtcUid(key: CryptoKey, uid: string, attempt: number): Promise<number> {
  const mac = new DataView(await crypto.subtle.sign("HMAC", key, encoder.encode(`rtc\u0000${attempt}\u0000${uid}`)));
  // The first 53 bits: 21 from the first word, 32 from the second (exact, below 2^53).
  const value = (mac.getUint32(0) & 0x1f_ffff) * 2 ** 32 + mac.getUint32(4);
  return value === 0 ? 1 : value;
}
