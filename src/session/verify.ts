/**
 * App-session JWT verification with jose. Returns the uid (the `sub` claim) or throws a DomainError
 * (`session_invalid`, or `session_keys_unavailable` when no key can be had).
 *
 * Two modes, chosen by configuration, usable together during a migration:
 * - a shared secret: HS256 only;
 * - an identity provider's JWKS: RS256, ES256 and EdDSA only.
 * The algorithm lists are pinned per key source, so an HS256 token "signed" with a JWKS public key
 * never reaches a verifier that would accept it, and `none` is never accepted. `exp` is required,
 * `nbf`/`iat` are honoured with a small clock tolerance, `iss`/`aud` are checked when configured
 * (always, with a JWKS).
 *
 * Keys are prepared once per verifier (one verifier per isolate, see `runtime.ts`): the HMAC key is
 * imported once, and the remote JWKS is cached for 5 minutes and fetched at most once per 30 s
 * (`jwks.ts`). When the JWKS cannot be fetched, keys fetched earlier keep working; only with no
 * usable key at all is the answer 503 `session_keys_unavailable` (our dependency's fault, not the
 * caller's). A JWKS always comes with a pinned issuer and audience (config.ts refuses it without).
 * A refused token's log line names the rule that failed (`aud … (expected …)`); the 401 is generic.
 */

import {
  type FlattenedJWSInput,
  type CryptoKey as JoseKey,
  type JWSHeaderParameters,
  type JWTVerifyOptions,
  errors as joseErrors,
  jwtVerify,
} from "jose";
import type { SessionConfig } from "../config.ts";
import { LIMITS, TIMING } from "../constants.ts";
import { UID_RULE } from "../contract.ts";
import { DomainError } from "../errors.ts";
import { isValidUid } from "../uid.ts";
import { KeysUnavailable, RemoteKeySet } from "./jwks.ts";

/** Algorithms accepted with the shared secret. */
export const SECRET_ALGORITHMS = ["HS256"] as const;
/** Algorithms accepted with JWKS keys. `Ed25519` is the fully specified name for EdDSA over Ed25519. */
export const JWKS_ALGORITHMS = ["RS256", "ES256", "EdDSA", "Ed25519"] as const;

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
  return new DomainError("session_invalid", { detail });
}

/** The credential of an `Authorization: Bearer <credential>` header value, or undefined. */
export function parseBearer(header: string | undefined): string | undefined {
  return header ? /^Bearer +(\S+) *$/i.exec(header)?.[1] : undefined;
}

/** A verified app session. */
export interface Session {
  /** The user: the JWT's `sub`, within the uid rule. */
  uid: string;
  /** The JWT's `iat` (Unix seconds), when it has one: what a revocation compares against. */
  issuedAt: number | undefined;
  /** Every verified claim (the RTC channel policy reads its claim from here). */
  claims: Readonly<Record<string, unknown>>;
}

/** Verifies app-session JWTs for one SessionConfig. Create once per isolate and reuse. */
export class SessionVerifier {
  readonly #getKey: (header: JWSHeaderParameters, token: FlattenedJWSInput) => Promise<JoseKey | Uint8Array>;
  readonly #options: JWTVerifyOptions;

  constructor(config: SessionConfig) {
    const algorithms: string[] = [];
    let secretKey: Promise<JoseKey> | undefined;
    let remote: RemoteKeySet | undefined;
    if (config.hs256Secret) {
      algorithms.push(...SECRET_ALGORITHMS);
      secretKey = crypto.subtle.importKey(
        "raw",
        new TextEncoder().encode(config.hs256Secret),
        { name: "HMAC", hash: "SHA-256" },
        false,
        ["verify"],
      );
    }
    if (config.jwksUrl) {
      algorithms.push(...JWKS_ALGORITHMS);
      remote = new RemoteKeySet(config.jwksUrl);
    }
    this.#options = {
      algorithms,
      clockTolerance: TIMING.jwtClockToleranceSeconds,
      requiredClaims: ["exp", "sub"],
      ...(config.issuer ? { issuer: config.issuer } : {}),
      ...(config.audience ? { audience: config.audience } : {}),
    };
    this.#getKey = async (header, token) => {
      // The key source is chosen by the algorithm family; jose has already checked `alg` is allowed.
      if (header.alg === "HS256") return secretKey!;
      return remote!.key(header, token);
    };
    this.keySet = remote;
  }

  /** The identity provider's key set, when one is configured (/readyz checks it). */
  readonly keySet: RemoteKeySet | undefined;

  /** Verifies `jwt` and returns its session, or throws 401 `invalid_session` / 503 `session_keys_unavailable`. */
  async verify(jwt: string): Promise<Session> {
    if (jwt.length > LIMITS.maxJwtLength || !JWT_SHAPE.test(jwt)) throw invalidSession("not a compact JWS");
    if (!isCanonicalBase64url(jwt.slice(jwt.lastIndexOf(".") + 1)))
      throw invalidSession("signature is not canonical base64url");
    let claims: Readonly<Record<string, unknown>>;
    try {
      ({ payload: claims } = await jwtVerify(jwt, this.#getKey, this.#options));
    } catch (error) {
      if (error instanceof KeysUnavailable) {
        throw new DomainError("session_keys_unavailable", { detail: error.message });
      }
      if (error instanceof joseErrors.JWTClaimValidationFailed) throw invalidSession(this.#claimFailure(error));
      if (error instanceof joseErrors.JOSEError) throw invalidSession(error.code);
      throw invalidSession(error instanceof Error ? error.name : "verification failed");
    }
    const { sub, iat } = claims;
    // jose checks that iat is a number but not that it is in the past; a session issued "later" is
    // refused beyond the same tolerance as nbf and exp.
    if (typeof iat === "number" && iat > Date.now() / 1000 + TIMING.jwtClockToleranceSeconds) {
      throw invalidSession("iat is in the future");
    }
    if (!isValidUid(sub)) {
      // The JWT itself verified, so stating the rule tells the caller nothing it could not read.
      const rule = `The session's sub must be ${UID_RULE}.`;
      throw new DomainError("session_invalid", { detail: "sub breaks the uid rule", reason: rule });
    }
    return { uid: sub, issuedAt: typeof iat === "number" ? iat : undefined, claims };
  }

  /**
   * Which claim failed and what was expected, for the log only (the 401 stays generic). The
   * expected issuer and audience are configuration, not secrets; the token's own values are not
   * logged.
   */
  #claimFailure(error: InstanceType<typeof joseErrors.JWTClaimValidationFailed>): string {
    const expected =
      error.claim === "iss" ? this.#options.issuer : error.claim === "aud" ? this.#options.audience : undefined;
    const what = error.reason === "check_failed" ? "mismatch" : error.reason;
    return `${error.claim} ${what}${expected === undefined ? "" : `: expected ${String(expected)}`}`;
  }
}
