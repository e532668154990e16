/**
 * The revocation rule: which sessions a uid's "sign out everywhere" (its record's `revokedBefore`)
 * refuses. Pure. The sign-in time comes from each issuer's rule (`session/sign-in.ts`).
 */

/**
 * Whether a session its user signed in to at `signedInAt` (Unix ms; undefined when unknown) falls
 * under a revocation at `revokedBefore` (Unix ms). Compared in whole seconds, with no tolerance, as
 * Firebase's own revocation check compares `auth_time` with `tokensValidAfterTime`: sign-in times
 * are whole seconds, so a sign-in in the revocation's own second stands, and a tolerance would lock
 * out a user who signs in again at once (the sign-in is the provider's clock, the revocation ours:
 * NTP keeps both within well under a second). A session whose sign-in time is unknown is refused.
 */
export function isRevoked(signedInAt: number | undefined, revokedBefore: number | undefined): boolean {
  if (revokedBefore === undefined) return false;
  if (signedInAt === undefined) return true;
  return signedInAt < Math.floor(revokedBefore / 1000) * 1000;
}
