/**
 * Operators signed in through Cloudflare Access. Access puts its own RS256 JWT on every request it
 * lets through (`Cf-Access-Jwt-Assertion`); checking it here, not only trusting that Access sits in
 * front, means a request that reaches the Worker some other way (a workers.dev route, a path the
 * Access application does not cover) carries no operator at all. Checks, per Cloudflare's guide
 * "Validate JWTs" (with the session checks of `session/jws.ts`): RS256 only, signed by a key from
 * the team's certs endpoint, `iss` the team's origin, `aud` the application's AUD tag, `exp`
 * required and in the future.
 *
 * The operator named in the audit trail is the assertion's `email`, or for an Access service token
 * (automation) `service-token:<common_name>`. Both are bounded and plain before they are stored.
 * Throws KeysUnavailable when no certs can be had: the caller answers 503, not 401.
 */

import type { FlattenedJWSInput, JWSHeaderParameters } from "jose";
import type { AccessSettings } from "../config.ts";
import { TIMING } from "../core/constants.ts";
import { RemoteKeySet, type RemoteKeySetOptions } from "../session/jwks.ts";
import { ClaimCheck, KeysUnavailable, verifyJws } from "../session/jws.ts";

const RS256_ONLY: ReadonlySet<string> = new Set(["RS256"]);

/** The header Cloudflare Access sets on requests it has let through. */
export const ACCESS_ASSERTION_HEADER = "Cf-Access-Jwt-Assertion";

/** Longest assertion looked at (Access assertions are about 1 KiB): anything longer is refused unread. */
const MAX_ASSERTION_CHARS = 8192;
/** An email or service token name as stored in the audit trail. */
const OPERATOR_NAME = /^[^\s\p{Cc}]{1,254}$/u;

/** Why an assertion was refused, for the log only (never shown: every refusal is the same 401). */
export class AccessRefused extends Error {
  override readonly name = "AccessRefused";
}

/** Checks Access assertions for one team and application. Create once per isolate. */
export class AccessVerifier {
  readonly #keys: RemoteKeySet;
  readonly #claims: ClaimCheck;

  constructor(settings: AccessSettings, options: RemoteKeySetOptions = {}) {
    this.#keys = new RemoteKeySet({ kind: "jwks", url: `${settings.teamOrigin}/cdn-cgi/access/certs` }, options);
    this.#claims = new ClaimCheck({
      required: ["exp"],
      issuer: settings.teamOrigin,
      audience: [...settings.audiences],
      clockTolerance: TIMING.jwtClockToleranceSeconds,
    });
  }

  /** What the last certs fetch did, for /readyz. */
  check(): Promise<string> {
    return this.#keys.check();
  }

  /** The operator an assertion names; throws AccessRefused (or a key-fetch failure) otherwise. */
  async operator(assertion: string): Promise<string> {
    if (assertion.length > MAX_ASSERTION_CHARS) throw new AccessRefused("assertion too long");
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await verifyJws(
        assertion,
        RS256_ONLY,
        async (header, parts) =>
          (await this.#keys.key(header as JWSHeaderParameters, parts as FlattenedJWSInput)) as CryptoKey,
      ));
    } catch (error) {
      // No certs at all (never fetched, endpoint down): not the operator's fault, so not a 401.
      if (error instanceof KeysUnavailable) throw error;
      const code = (error as { code?: unknown }).code;
      throw new AccessRefused(
        typeof code === "string" ? code : error instanceof Error ? error.message : "unverifiable",
      );
    }
    const broken = this.#claims.broken(payload);
    if (broken !== undefined) throw new AccessRefused(broken);
    const { email, common_name: commonName } = payload;
    if (typeof email === "string" && email !== "" && OPERATOR_NAME.test(email)) return email.toLowerCase();
    if (typeof commonName === "string" && OPERATOR_NAME.test(commonName)) return `service-token:${commonName}`;
    throw new AccessRefused("no email or common_name");
  }
}
