/**
 * Who may sign app sessions, and by which rules: the `IssuerRule` every issuer is verified by, the
 * shared HS256 secret's rule, and the checks every issuer's fields share. Pure, no I/O.
 *
 * The identity providers' presets, and the SESSION_ISSUERS list, are `providers.ts`: a module of its
 * own, which a deployment loads only when a setting names a provider (config.ts `loadSettingParsers`),
 * so a deployment on a shared secret compiles none of it on a cold start.
 */

import { AUTH_TIME_OR_IAT, type SignInRule } from "./sign-in.ts";

/** Where an issuer's public keys come from. */
export type KeySource =
  /** A JSON Web Key Set. */
  | { kind: "jwks"; url: string }
  /** Google's map of key id → PEM X.509 certificate (Firebase's documented key format). */
  | { kind: "x509"; url: string }
  /** The issuer's OpenID discovery document, whose `jwks_uri` is then fetched. */
  | { kind: "discovery"; issuer: string };

/** How one issuer's tokens are verified. */
export interface IssuerRule {
  /** A label for logs and /readyz (the preset's name, or the one given): never a secret. */
  name: string;
  /** The exact `iss`; undefined only for a shared secret that accepts any issuer. */
  issuer: string | undefined;
  /** Public keys, for the asymmetric `algorithms`; undefined for a secret-only issuer. */
  keys: KeySource | undefined;
  /** An HS256 key: the only key HS256 is ever verified with. */
  secret: string | undefined;
  /** Asymmetric algorithms accepted with `keys` (never HS*: a public key is no HMAC secret). */
  algorithms: readonly string[];
  /** Accepted audiences, checked in `audienceClaim`; undefined: no audience rule (secrets only). */
  audience: readonly string[] | undefined;
  /** `aud`, or Cognito access tokens' `client_id`. */
  audienceClaim: "aud" | "client_id";
  /** Accepted `azp` values (Clerk: origins); when set, a token must carry one of them. */
  authorizedParties: readonly string[] | undefined;
  /** The claim that becomes the uid (default `sub`). */
  uidClaim: string;
  /**
   * Put before the claim's value to make the uid: this issuer's uid space. `sub` is unique only
   * within its issuer, so two issuers' users are two users unless their entries share a prefix.
   */
  uidPrefix: string;
  /** How its tokens say when their user signed in (what a revocation is compared with). */
  signIn: SignInRule;
  /** Cognito: the `token_use` a token must carry. */
  tokenUse: "id" | "access" | undefined;
}

/** Algorithms accepted from an identity provider that does not pin one. `Ed25519` is EdDSA's fully specified name. */
export const ASYMMETRIC_ALGORITHMS = ["RS256", "PS256", "ES256", "EdDSA", "Ed25519"] as const;

/** A spec that cannot work: `field` is which part (`provider`, `audience`, …), `rule` what it must be. */
export interface SpecProblem {
  field: string;
  rule: string;
}

/** A claim name (also `cognito:username`, or a namespaced URL claim). */
export const CLAIM_NAME = /^[A-Za-z0-9_.:/-]{1,128}$/;
/** An issuer's label. */
export const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** A uid prefix: empty, or a short label ending in a colon (`staff:`), so such uids read plainly. */
const UID_PREFIX = /^([A-Za-z0-9_.-]{1,32}:)?$/;
/** What `uidPrefix` must be, for problems. */
export const UID_PREFIX_RULE = 'empty, or 1 to 32 of A-Z a-z 0-9 _ . - and a ":" (e.g. "staff:")';

/** The rule for an operator's `signInClaim`: `amr` and `fva` by their providers' shapes, any other claim as a time. */
export function signInClaimRule(claim: string): SignInRule {
  if (claim === "amr") return { kind: "amr" };
  if (claim === "fva") return { kind: "fva" };
  return { kind: "claim", claim, required: true };
}

/** Problems with the uid-space and sign-in fields every spec may carry. */
export function commonProblem(spec: {
  uidPrefix?: string | undefined;
  signInClaim?: string | undefined;
}): SpecProblem | undefined {
  if (spec.uidPrefix !== undefined && !UID_PREFIX.test(spec.uidPrefix))
    return { field: "uidPrefix", rule: UID_PREFIX_RULE };
  if (spec.signInClaim !== undefined && !CLAIM_NAME.test(spec.signInClaim))
    return { field: "signInClaim", rule: "a claim name of letters, digits and _ . : / -" };
  return undefined;
}

/**
 * The rule for the shared HS256 secret alone: any issuer unless one is pinned, audience optional
 * (the secret is this app's own, so its tokens are this app's), or what is wrong with it.
 */
export function secretRule(
  secret: string,
  options: {
    issuer?: string | undefined;
    audience?: readonly string[] | undefined;
    uidClaim?: string | undefined;
    name?: string | undefined;
    uidPrefix?: string | undefined;
    signInClaim?: string | undefined;
  },
): IssuerRule | SpecProblem[] {
  const uidClaim = options.uidClaim ?? "sub";
  if (!CLAIM_NAME.test(uidClaim)) return [{ field: "uidClaim", rule: "a claim name of letters, digits and _ . : / -" }];
  if (options.name !== undefined && !NAME.test(options.name))
    return [{ field: "name", rule: "1 to 32 of a-z 0-9 _ - (a label)" }];
  const common = commonProblem(options);
  if (common) return [common];
  return {
    name: options.name ?? "secret",
    issuer: options.issuer,
    keys: undefined,
    secret,
    algorithms: [],
    audience: options.audience,
    audienceClaim: "aud",
    authorizedParties: undefined,
    uidClaim,
    uidPrefix: options.uidPrefix ?? "",
    // The app's own backend: `auth_time` when it puts one in its tokens (the docs ask it to keep the
    // sign-in's in refreshed ones), else `iat`.
    signIn: options.signInClaim === undefined ? AUTH_TIME_OR_IAT : signInClaimRule(options.signInClaim),
    tokenUse: undefined,
  };
}
