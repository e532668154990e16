/**
 * Compact JWS signature and JWT claims checks for app sessions, on WebCrypto directly.
 *
 * Why not jose's `jwtVerify`, which this replaced on the token path: a CPU profile of workerd under
 * warm load put jose's generic JWS/JWT path at a large share of the whole request (header snapshots and
 * spreads, byte concatenation, re-checking the CryptoKey's algorithm on every call), for a job that
 * here has one shape: a compact JWT, algorithms pinned per issuer, keys already imported. The
 * signature itself is WebCrypto's either way. jose still imports and selects the keys (`jwks.ts`),
 * and test/worker/jws.test.ts checks this module against jose's `jwtVerify` on the same tokens.
 *
 * Semantics follow jose's (RFC 7515/7519), stricter in two places: a header with `crit` is refused,
 * since a session JWT has no critical extension we understand (jose would accept `crit: ["b64"]`
 * with `b64: true`), and a time claim must be a finite number (JSON's `1e400` parses as Infinity,
 * which jose would take as an `exp` that never comes).
 */

/** Thrown when no key can be had at all: never fetched, and the fetch failed or is cooling down. */
export class KeysUnavailable extends Error {
  override readonly name = "KeysUnavailable";
}

/** A token refused: `detail` names the rule, for the log only. */
export class JwtRefused extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = "JwtRefused";
  }
}

/**
 * WebCrypto's verify parameters, and the key it must be, for each algorithm we accept. A Map, not an
 * object literal: `alg` comes from the token, and "constructor" or "__proto__" must find nothing.
 */
const ALGORITHMS = new Map<
  string,
  { verify: string | { name: string; hash?: string; saltLength?: number }; key: KeyShape }
>([
  ["HS256", { verify: "HMAC", key: { name: "HMAC", hash: "SHA-256" } }],
  ["RS256", { verify: "RSASSA-PKCS1-v1_5", key: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256", minModulus: 2048 } }],
  [
    "PS256",
    { verify: { name: "RSA-PSS", saltLength: 32 }, key: { name: "RSA-PSS", hash: "SHA-256", minModulus: 2048 } },
  ],
  ["ES256", { verify: { name: "ECDSA", hash: "SHA-256" }, key: { name: "ECDSA", namedCurve: "P-256" } }],
  ["EdDSA", { verify: "Ed25519", key: { name: "Ed25519" } }],
  ["Ed25519", { verify: "Ed25519", key: { name: "Ed25519" } }],
]);

interface KeyShape {
  name: string;
  hash?: string;
  namedCurve?: string;
  minModulus?: number;
}

/** The parts of a compact JWS, as jose's key resolvers take them. */
export interface JwsParts {
  protected: string;
  payload: string;
  signature: string;
}

/** The protected header: what the key resolver reads (`alg`, `kid`). */
export type JwsHeader = { alg: string; kid?: string } & Record<string, unknown>;

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });
const encoder = new TextEncoder();

/** base64url (no padding) to bytes; throws on any other character. */
function fromBase64url(text: string): Uint8Array<ArrayBuffer> {
  const native = (Uint8Array as { fromBase64?: (text: string, options: object) => Uint8Array<ArrayBuffer> }).fromBase64;
  if (native) return native(text, { alphabet: "base64url" });
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

/** A base64url segment as a JSON object, or undefined when it is not one. */
function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(decoder.decode(fromBase64url(segment)));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Protected headers already parsed, by their base64url text. An issuer signs every session with the
 * same header (`{"alg":"HS256","typ":"JWT"}`, or with its key's `kid`), so parsing it once saves a
 * decode and a JSON parse on every request. Only the parse is remembered, never a verdict: the
 * signature over the header is checked on every token. Frozen, as requests share them; bounded, as
 * the text comes from callers (cleared when full: a handful of issuers and keys fill a few entries).
 */
const parsedHeaders = new Map<string, Readonly<Record<string, unknown>> | undefined>();
const PARSED_HEADERS_MAX = 64;

/** The protected header segment as a JSON object (see `parsedHeaders`), or undefined when it is not one. */
function headerObject(segment: string): Readonly<Record<string, unknown>> | undefined {
  if (parsedHeaders.has(segment)) return parsedHeaders.get(segment);
  const header = jsonObject(segment);
  if (parsedHeaders.size >= PARSED_HEADERS_MAX) parsedHeaders.clear();
  parsedHeaders.set(segment, header && Object.freeze(header));
  return header;
}

/** A compact JWT's payload, read without verifying it (to pick the issuer whose rules then verify it). */
export function unverifiedClaims(jwt: string): Record<string, unknown> | undefined {
  const first = jwt.indexOf(".");
  return first < 0 ? undefined : jsonObject(jwt.slice(first + 1, jwt.indexOf(".", first + 1)));
}

/** Keys already checked against their algorithm (a CryptoKey's `algorithm` is a fresh object per read). */
const checkedKeys = new WeakMap<CryptoKey, string>();

/** Refuses a key that is not the kind its algorithm needs (jose's `checkCryptoKey` and modulus rule). */
function checkKey(alg: string, key: CryptoKey, shape: KeyShape): void {
  if (checkedKeys.get(key) === alg) return;
  const algorithm = key.algorithm as {
    name: string;
    hash?: { name: string };
    namedCurve?: string;
    modulusLength?: number;
  };
  const fits =
    algorithm.name === shape.name &&
    (shape.hash === undefined || algorithm.hash?.name === shape.hash) &&
    (shape.namedCurve === undefined || algorithm.namedCurve === shape.namedCurve) &&
    (shape.minModulus === undefined || (algorithm.modulusLength ?? 0) >= shape.minModulus) &&
    key.usages.includes("verify") &&
    key.type === (shape.name === "HMAC" ? "secret" : "public");
  if (!fits) throw new JwtRefused(`key unusable for ${alg}`);
  checkedKeys.set(key, alg);
}

/**
 * Verifies a compact JWS's signature and returns its header and payload (a JSON object).
 * `allowed` pins the algorithms; `keyFor` resolves the key once the algorithm is allowed.
 */
export async function verifyJws(
  jwt: string,
  allowed: ReadonlySet<string>,
  keyFor: (header: JwsHeader, parts: JwsParts) => Promise<CryptoKey>,
): Promise<{ header: JwsHeader; payload: Record<string, unknown> }> {
  const first = jwt.indexOf(".");
  const second = jwt.indexOf(".", first + 1);
  if (first < 0 || second < 0 || jwt.indexOf(".", second + 1) >= 0) throw new JwtRefused("not a valid JWS");
  const parts: JwsParts = {
    protected: jwt.slice(0, first),
    payload: jwt.slice(first + 1, second),
    signature: jwt.slice(second + 1),
  };
  const header = headerObject(parts.protected);
  if (!header || typeof header.alg !== "string" || header.alg === "" || header.crit !== undefined) {
    throw new JwtRefused("not a valid JWS");
  }
  const { alg } = header;
  const algorithm = allowed.has(alg) ? ALGORITHMS.get(alg) : undefined;
  if (!algorithm) throw new JwtRefused("alg not allowed for this issuer");
  const key = await keyFor(header as JwsHeader, parts);
  checkKey(alg, key, algorithm.key);
  let signature: Uint8Array<ArrayBuffer>;
  try {
    signature = fromBase64url(parts.signature);
  } catch {
    throw new JwtRefused("not a valid JWS");
  }
  let valid = false;
  try {
    valid = await crypto.subtle.verify(algorithm.verify, key, signature, encoder.encode(jwt.slice(0, second)));
  } catch {
    // WebCrypto throws for a malformed signature (wrong length for the curve, say): no match either way.
  }
  if (!valid) throw new JwtRefused("signature mismatch");
  const payload = jsonObject(parts.payload);
  if (!payload) throw new JwtRefused("not a valid JWT");
  return { header: header as JwsHeader, payload };
}

/** What a session's claims must satisfy (jose's JWTVerifyOptions, as this service uses them). */
export interface ClaimRules {
  /** Claims that must be present (`exp` among them). */
  required: readonly string[];
  /** `iss` must equal this, when set. */
  issuer?: string;
  /** `aud` (a string, or an array of strings) must name one of these, when set. */
  audience?: readonly string[];
  /** Seconds of clock skew allowed on `exp` and `nbf`. */
  clockTolerance: number;
}

/** Checks a JWT's claims against one issuer's rules; built once per issuer. */
export class ClaimCheck {
  readonly #rules: ClaimRules;
  /** Claims that must be present, in the order jose reports the first one missing. */
  readonly #presence: readonly string[];

  constructor(rules: ClaimRules) {
    this.#rules = rules;
    const presence = [...rules.required];
    if (rules.audience) presence.push("aud");
    if (rules.issuer !== undefined) presence.push("iss");
    this.#presence = [...new Set(presence.reverse())];
  }

  /**
   * The first rule `claims` break, as the log names it (`exp missing`, `iss mismatch: expected …`,
   * `expired`), or undefined. jose's order: presence, `iss`, `aud`, then `iat`, `nbf`, `exp`, each
   * time claim a finite number when present.
   */
  broken(claims: Record<string, unknown>, now = Date.now()): string | undefined {
    const { issuer, audience, clockTolerance } = this.#rules;
    for (const claim of this.#presence) {
      if (!Object.hasOwn(claims, claim)) return `${claim} missing${this.#expected(claim)}`;
    }
    if (issuer !== undefined && claims.iss !== issuer) return `iss mismatch${this.#expected("iss")}`;
    if (audience) {
      const { aud } = claims;
      const named =
        typeof aud === "string"
          ? audience.includes(aud)
          : Array.isArray(aud) && audience.some((expected) => aud.includes(expected));
      if (!named) return `aud mismatch${this.#expected("aud")}`;
    }
    const seconds = Math.floor(now / 1000);
    const { iat, nbf, exp } = claims;
    if (iat !== undefined && !Number.isFinite(iat)) return "iat invalid";
    if (nbf !== undefined && !Number.isFinite(nbf)) return "nbf invalid";
    if (typeof nbf === "number" && nbf > seconds + clockTolerance) return "nbf mismatch";
    if (exp !== undefined && !Number.isFinite(exp)) return "exp invalid";
    if (typeof exp === "number" && exp <= seconds - clockTolerance) return "expired";
    return undefined;
  }

  /** What `iss` or `aud` had to be (configuration, not a secret); the token's own value is never logged. */
  #expected(claim: string): string {
    const { issuer, audience } = this.#rules;
    if (claim === "iss" && issuer !== undefined) return `: expected ${issuer}`;
    if (claim === "aud" && audience) return `: expected ${audience.join(",")}`;
    return "";
  }
}
