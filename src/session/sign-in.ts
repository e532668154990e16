/**
 * When a session's user signed in, by each issuer's rule: what a revocation ("sign out everywhere")
 * is compared with. Pure, no I/O.
 *
 * Why not the token's `iat`: every identity provider silently hands the app a new token, with a new
 * `iat`, for the same sign-in (Clerk every minute, Firebase and Supabase every hour), so a device
 * signed out everywhere would be refused once and accepted again at its next refresh. The sign-in
 * time stays the same across those refreshes. Where each provider states it (docs/identity-providers.md
 * cites each source):
 * - `auth_time` (OpenID Connect Core §2; §12.2 keeps it across refreshes): Firebase, Cognito,
 *   Keycloak (its `basic` scope since 25), and any OpenID provider that sends it;
 * - Supabase: the earliest `amr` entry's `timestamp` (its first factor; an MFA step adds later ones);
 * - Clerk: `fva`, the whole minutes since the first factor was verified: `iat` less one minute
 *   more than that is at or before the sign-in, and within a minute of it (taking the later bound
 *   would let a session signed in during the minute before a sign-out through it, on every token
 *   whose `iat` fell in the right part of the minute);
 * - a claim the operator names (`signInClaim`), for what a provider can be taught to send (an Auth0
 *   Action, Clerk's `{{session.created_at}}`).
 * Where a provider states none (Auth0 access tokens, an app's own backend without `auth_time`), `iat`
 * is all there is; the docs say what else to revoke at the provider then.
 */

/** How an issuer's tokens say when their user signed in. */
export type SignInRule =
  /** A time claim: Unix seconds (or ms, for a value past 1e11), or an ISO 8601 string. */
  | { readonly kind: "claim"; readonly claim: string; readonly required: boolean }
  /** Supabase: the earliest `amr[].timestamp`. */
  | { readonly kind: "amr" }
  /** Clerk: `iat` less `fva[0] + 1` minutes. */
  | { readonly kind: "fva" };

/** `auth_time` where present, else `iat`: the rule for issuers that may or may not send it. */
export const AUTH_TIME_OR_IAT: SignInRule = { kind: "claim", claim: "auth_time", required: false };
/** `auth_time`, required: the rule for providers that always send it. */
export const AUTH_TIME: SignInRule = { kind: "claim", claim: "auth_time", required: true };

/** What the log calls the time a rule reads. */
export function signInLabel(rule: SignInRule): string {
  return rule.kind === "claim" ? rule.claim : rule.kind === "amr" ? "amr timestamp" : "fva";
}

/** A claim value this large is milliseconds, not seconds (1e11 seconds is in the year 5138). */
const MS_THRESHOLD = 1e11;

/** A time claim's value as Unix ms, or undefined when it is not one. */
function timeOf(value: unknown): number | undefined {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value <= 0) return undefined;
    return value > MS_THRESHOLD ? value : value * 1000;
  }
  if (typeof value === "string" && value.length <= 40 && /^\d{4}-\d{2}-\d{2}T/.test(value)) {
    const ms = Date.parse(value);
    return Number.isFinite(ms) && ms > 0 ? ms : undefined;
  }
  return undefined;
}

/**
 * When the session's user signed in (Unix ms) under `rule`: `at` undefined when the rule allows the
 * time to be unknown and it is (no `iat` either), or `broken`, what the log says, when a token
 * breaks a rule that requires it.
 */
export function signInTimeOf(
  rule: SignInRule,
  claims: Readonly<Record<string, unknown>>,
): { at: number | undefined; broken?: undefined } | { broken: string } {
  const iat = typeof claims.iat === "number" ? claims.iat * 1000 : undefined;
  switch (rule.kind) {
    case "claim": {
      const raw = Object.hasOwn(claims, rule.claim) ? claims[rule.claim] : undefined;
      if (raw === undefined) return rule.required ? { broken: `${rule.claim} missing` } : { at: iat };
      const at = timeOf(raw);
      return at === undefined ? { broken: `${rule.claim} is not a time` } : { at };
    }
    case "amr": {
      const { amr } = claims;
      let earliest: number | undefined;
      if (Array.isArray(amr)) {
        for (const entry of amr.slice(0, 16)) {
          const stamp =
            typeof entry === "object" && entry !== null ? (entry as { timestamp?: unknown }).timestamp : undefined;
          const at = typeof stamp === "number" ? timeOf(stamp) : undefined;
          if (at !== undefined && (earliest === undefined || at < earliest)) earliest = at;
        }
      }
      return earliest === undefined ? { broken: "amr has no timestamp" } : { at: earliest };
    }
    case "fva": {
      const { fva } = claims;
      const minutes = Array.isArray(fva) ? fva[0] : undefined;
      if (typeof minutes !== "number" || !Number.isSafeInteger(minutes) || minutes < 0) {
        return { broken: "fva missing (Clerk session token v2)" };
      }
      if (iat === undefined) return { broken: "iat missing" };
      return { at: iat - (minutes + 1) * 60_000 };
    }
  }
}
