/**
 * App-session JWT verification. Returns the session (its uid from the issuer's uid claim)
 * or throws a DomainError (`invalid_session`, or `session_keys_unavailable` when no key can be had).
 *
 * One or more issuers (`issuers.ts`), each with its own rules. A token is checked only against the
 * issuer its `iss` names (a shared secret without a pinned issuer takes the tokens no other issuer
 * claims); with a single issuer the claim rules check `iss`. The algorithms are pinned per
 * issuer and per key kind: HS256 is only ever verified with the shared secret and the asymmetric
 * algorithms only with the issuer's public keys, so a token "signed" with a public key as an HMAC
 * secret never verifies, and `none` is never accepted. `exp` is required, `nbf`/`iat` are honoured
 * with a small clock tolerance, and every issuer with public keys has an audience rule (config.ts
 * refuses one without).
 *
 * Keys are prepared once per verifier (one verifier per isolate, see `runtime.ts`): HMAC keys are
 * imported once, and remote keys are cached for 5 minutes and fetched at most once per 30 s
 * (`jwks.ts`). When they cannot be fetched, keys fetched earlier keep working; only with no usable
 * key at all is the answer 503 `session_keys_unavailable` (our dependency's fault, not the caller's).
 * The signature and the claims are checked on WebCrypto by `jws.ts`; jose imports and selects the
 * remote keys (`jwks.ts`, loaded on the first token that needs one: `remote-keys.ts`). A refused token's log line names the issuer and the rule that failed (`firebase: aud
 * mismatch: expected …`, `unknown kid`, `alg not allowed for this issuer`); the 401 is generic.
 */

import type { FlattenedJWSInput, JWSHeaderParameters } from "jose";
import { LIMITS, TIMING } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import { isValidUid, UID_RULE } from "../core/uid.ts";
import type { IssuerRule } from "./issuers.ts";
import type { RemoteKeySetOptions } from "./jwks.ts";
import {
  ClaimCheck,
  type JwsHeader,
  type JwsParts,
  JwtRefused,
  KeysUnavailable,
  unverifiedClaims,
  verifyJws,
} from "./jws.ts";
import { RemoteKeys } from "./remote-keys.ts";
import type { SessionConfig } from "./settings.ts";
import { signInLabel, signInTimeOf } from "./sign-in.ts";

/** Algorithms accepted with a shared secret. */
export const SECRET_ALGORITHMS = ["HS256"] as const;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Whether a base64url segment (no padding) is the one canonical spelling of its bytes: the bits
 * after the last whole byte must be zero (RFC 4648 §3.5 lets decoders reject them otherwise).
 *
 * Why: jose, like most decoders, ignores those bits, so the last character of a signature can be
 * swapped for one of up to 15 others and the JWT still verifies. Such a token is no forgery (the
 * signature bytes are the same), but a session would then have several accepted spellings, which
 * defeats anything keyed on the token string (revocation lists, replay caches, log fingerprints).
 * Header and payload are covered by the signature itself; only the signature segment is malleable.
 */
export function isCanonicalBase64url(segment: string): boolean {
  const tailBits = (segment.length * 6) % 8;
  if (tailBits === 0) return true;
  if (tailBits === 6) return false; // length % 4 === 1 encodes no whole byte
  const last = B64URL.indexOf(segment[segment.length - 1]!);
  return (last & ((1 << tailBits) - 1)) === 0;
}

/** The error for a session that fails a check. `detail` (logged only) says which. */
function invalidSession(detail: string): DomainError {
  return new DomainError("invalid_session", { detail });
}

/** The credential of an `Authorization: Bearer <credential>` header value, or undefined. */
export function parseBearer(header: string | undefined): string | undefined {
  return header ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
}

/** A verified app session. */
export interface Session {
  /** The user: the issuer's uid prefix and uid claim (`sub` unless configured), within the uid rule. */
  uid: string;
  /**
   * When the user signed in to this session (Unix ms), by the issuer's sign-in rule (`sign-in.ts`):
   * what a revocation compares against. Undefined when the issuer's tokens need not say and this
   * one has no `iat` either.
   */
  signedInAt: number | undefined;
  /** Every verified claim (the RTC channel policy reads its claim from here). */
  claims: Readonly<Record<string, unknown>>;
  /** The name of the issuer that verified it (`firebase`, a SESSION_ISSUERS entry's name): an app may be matched on it. */
  issuer: string;
}

/** One issuer's key source, as /readyz checks it. */
export interface KeySourceCheck {
  /** The issuer's label (`firebase`, `oidc`, a configured name). */
  name: string;
  /** Fetches the keys now unless their cool-down forbids it; "ok" or why not. */
  check(): Promise<string>;
}

/** One issuer, ready to verify: its rule, its keys, its algorithms and its claim rules. */
class IssuerVerifier {
  /** The algorithms this issuer's tokens may use. */
  readonly algorithms: ReadonlySet<string>;
  readonly claims: ClaimCheck;
  readonly remote: RemoteKeys | undefined;
  readonly #secretKey: Promise<CryptoKey> | undefined;

  constructor(
    readonly rule: IssuerRule,
    keyOptions: RemoteKeySetOptions,
  ) {
    const algorithms = [...rule.algorithms];
    if (rule.secret) {
      algorithms.push(...SECRET_ALGORITHMS);
      this.#secretKey = crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(rule.secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
    }
    if (rule.keys) this.remote = new RemoteKeys(rule.keys, keyOptions);
    this.algorithms = new Set(algorithms);
    this.claims = new ClaimCheck({
      required: ["exp", rule.uidClaim],
      clockTolerance: TIMING.jwtClockToleranceSeconds,
      ...(rule.issuer ? { issuer: rule.issuer } : {}),
      // Cognito access tokens name their client in `client_id`, checked below; `aud` is checked here.
      ...(rule.audience && rule.audienceClaim === "aud" ? { audience: [...rule.audience] } : {}),
    });
  }

  /** The key for a token whose algorithm is already allowed: the kind is chosen by the algorithm. */
  readonly getKey = (header: JwsHeader, parts: JwsParts): Promise<CryptoKey> =>
    // Not an async function: the secret's key is already a promise, and wrapping it again costs a
    // turn of the microtask queue on every HS256 request.
    header.alg === "HS256" ? this.#secretKey! : this.#remoteKey(header, parts);

  async #remoteKey(header: JwsHeader, parts: JwsParts): Promise<CryptoKey> {
    const key = await this.remote!.key(header as JWSHeaderParameters, parts as FlattenedJWSInput);
    const discovered = this.remote!.discoveredAlgorithms;
    if (discovered && !discovered.includes(header.alg)) throw invalidSession("alg not allowed for this issuer");
    return key;
  }

  /** The provider's own rules, beyond jose's (what each documents a verifier must check): the one broken, if any. */
  brokenProviderRule(claims: Readonly<Record<string, unknown>>): string | undefined {
    const rule = this.rule;
    if (rule.audienceClaim === "client_id" && !rule.audience!.includes(claims.client_id as string)) {
      return `client_id mismatch: expected ${rule.audience!.join(" or ")}`;
    }
    if (rule.tokenUse !== undefined && claims.token_use !== rule.tokenUse) {
      return `token_use mismatch: expected ${rule.tokenUse}`;
    }
    if (rule.authorizedParties && !rule.authorizedParties.includes(claims.azp as string)) {
      return `azp mismatch: expected one of ${rule.authorizedParties.join(", ")}`;
    }
    return undefined;
  }
}

/** A session refused by `issuer`'s rules; the log names the issuer before the rule. */
function refusedBy(issuer: IssuerVerifier, detail: string): DomainError {
  return invalidSession(`${issuer.rule.name}: ${detail}`);
}

/** Options for a verifier; tests set them, the Worker uses the defaults. */
export type SessionVerifierOptions = RemoteKeySetOptions;

/** Verifies app-session JWTs for one SessionConfig. Create once per isolate and reuse. */
export class SessionVerifier {
  readonly #byIssuer = new Map<string, IssuerVerifier>();
  /** The shared secret without a pinned issuer: takes what no other issuer claims. */
  readonly #anyIssuer: IssuerVerifier | undefined;
  /** With one issuer, no `iss` look-up: its claim rules check it. */
  readonly #only: IssuerVerifier | undefined;
  /** The uid prefixes of the issuers, longest first; empty when all share one (no uid can stray). */
  readonly #prefixes: readonly string[];

  constructor(config: SessionConfig, options: SessionVerifierOptions = {}) {
    const verifiers = config.issuers.map((rule) => new IssuerVerifier(rule, options));
    let anyIssuer: IssuerVerifier | undefined;
    for (const verifier of verifiers) {
      if (verifier.rule.issuer === undefined) anyIssuer = verifier;
      else this.#byIssuer.set(verifier.rule.issuer, verifier);
    }
    this.#anyIssuer = anyIssuer;
    this.#only = verifiers.length === 1 ? verifiers[0] : undefined;
    const prefixes = [...new Set(config.issuers.map((rule) => rule.uidPrefix))];
    this.#prefixes = prefixes.length > 1 ? prefixes.sort((a, b) => b.length - a.length) : [];
    this.keySources = verifiers.flatMap(({ rule, remote }) =>
      remote ? [{ name: rule.name, check: () => remote.check() }] : [],
    );
  }

  /** Each issuer's remote key source (/readyz checks them). */
  readonly keySources: readonly KeySourceCheck[];

  /** Verifies `jwt` and returns its session, or throws 401 `invalid_session` / 503 `session_keys_unavailable`. */
  async verify(jwt: string): Promise<Session> {
    if (jwt.length > LIMITS.maxJwtLength || !JWT_SHAPE.test(jwt)) throw invalidSession("not a compact JWS");
    if (!isCanonicalBase64url(jwt.slice(jwt.lastIndexOf(".") + 1)))
      throw invalidSession("signature is not canonical base64url");
    const issuer = this.#only ?? this.#issuerOf(jwt);
    let claims: Readonly<Record<string, unknown>>;
    try {
      ({ payload: claims } = await verifyJws(jwt, issuer.algorithms, issuer.getKey));
    } catch (error) {
      if (error instanceof KeysUnavailable) {
        throw new DomainError("session_keys_unavailable", { detail: `${issuer.rule.name}: ${error.message}` });
      }
      if (error instanceof JwtRefused) throw refusedBy(issuer, error.message);
      if (error instanceof DomainError) throw refusedBy(issuer, error.detail ?? "refused");
      throw refusedBy(issuer, error instanceof Error ? error.name : "verification failed");
    }
    const broken = issuer.claims.broken(claims) ?? issuer.brokenProviderRule(claims);
    if (broken !== undefined) throw refusedBy(issuer, broken);
    const { iat } = claims;
    // jose checks that iat is a number but not that it is in the past; a session issued "later" is
    // refused beyond the same tolerance as nbf and exp.
    if (typeof iat === "number" && iat > Date.now() / 1000 + TIMING.jwtClockToleranceSeconds) {
      throw refusedBy(issuer, "iat is in the future");
    }
    const { uidClaim, uidPrefix } = issuer.rule;
    const value = claims[uidClaim];
    const uid = typeof value === "string" && uidPrefix !== "" ? `${uidPrefix}${value}` : value;
    if (!isValidUid(uid)) {
      // The JWT itself verified, so stating the rule tells the caller nothing it could not read.
      const rule = `The session's ${uidClaim} must be ${UID_RULE}.`;
      throw new DomainError("invalid_session", { detail: `${uidClaim} breaks the uid rule`, reason: rule });
    }
    // Each uid belongs to the issuer whose prefix is the longest it starts with: a user of the issuer
    // without a prefix whose sub happens to read "staff:1001" is not the staff issuer's user 1001.
    if (this.#prefixes.length > 0 && this.#prefixes.find((prefix) => uid.startsWith(prefix)) !== uidPrefix) {
      throw refusedBy(issuer, `${uidClaim} falls in another issuer's uid space`);
    }
    const signIn = signInTimeOf(issuer.rule.signIn, claims);
    if (signIn.broken !== undefined) throw refusedBy(issuer, signIn.broken);
    if (signIn.at !== undefined && signIn.at > Date.now() + TIMING.jwtClockToleranceSeconds * 1000) {
      throw refusedBy(issuer, `${signInLabel(issuer.rule.signIn)} is in the future`);
    }
    return { uid, signedInAt: signIn.at, claims, issuer: issuer.rule.name };
  }

  /** The issuer a token names (read before verifying, only to pick the rules it is verified by). */
  #issuerOf(jwt: string): IssuerVerifier {
    const claims = unverifiedClaims(jwt);
    if (!claims) throw invalidSession("payload is not a JWT claims set");
    const { iss } = claims;
    const found = (typeof iss === "string" ? this.#byIssuer.get(iss) : undefined) ?? this.#anyIssuer;
    if (!found) throw invalidSession(iss === undefined ? "no iss" : "iss names no configured issuer");
    return found;
  }
}
