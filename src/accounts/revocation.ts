/**
 * The revocation rule: which sessions a uid's "sign out everywhere" (its record's `revokedBefore`)
 * refuses. Pure. The sign-in time comes from each issuer's rule (`session/sign-in.ts`).
 */

/**
 * Whether a session its user signed in to at `signedInAt` (Unix ms; undefined when unknown) falls
 * under a revocation at `revokedBefore` (Unix ms): signed in no later than the revocation's second.
 *
 * Whole seconds, because that is what sign-in claims hold (`auth_time`, `amr`, `iat`): a sign-in in
 * the revocation's own second cannot be told from one just before it, so it is refused, and no
 * session signed in before a sign-out ever survives it; a user who signs in again gets tokens from
 * the next second on. No clock tolerance beyond that, as Firebase's own revocation check has none:
 * the sign-in is the provider's clock and the revocation ours, NTP keeps both well within a second,
 * and a tolerance would lock out a user who signs in again at once. A session whose sign-in time
 * is unknown is refused.
 */
export function isRevoked(signedInAt: number | undefined, revokedBefore: number | undefined): boolean {
  if (revokedBefore === undefined) return false;
  if (signedInAt === undefined) return true;
  return Math.floor(signedInAt / 1000) <= Math.floor(revokedBefore / 1000);
}
