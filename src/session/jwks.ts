/**
 * An identity provider's public keys, fetched and cached per isolate: a JWKS, Google's x509
 * certificate map (Firebase), or an OpenID discovery document and then its `jwks_uri`.
 *
 * Why not jose's `createRemoteJWKSet`: its cool-down starts only after a *successful* fetch, so
 * while the provider answers 500 every JWT with an unknown `kid` fetches again, and with a stale
 * cache and a hanging provider every request waits the full timeout. Here every fetch, whatever
 * its outcome, starts the cool-down: the provider is asked at most once per cool-down, one fetch at
 * a time (callers share the one in flight), and the last keys fetched keep working while it is down
 * or slow. jose still selects and imports the key (`createLocalJWKSet`).
 */

import {
  createLocalJWKSet,
  exportJWK,
  type FlattenedJWSInput,
  importX509,
  type CryptoKey as JoseKey,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  errors as joseErrors,
} from "jose";
import { LIMITS, TIMING } from "../core/constants.ts";
import { isFetchTimeout } from "../core/errors.ts";
import { isFetchableUrl } from "../core/setting-values.ts";
import { ASYMMETRIC_ALGORITHMS, type KeySource } from "./issuers.ts";
import { JwtRefused, KeysUnavailable } from "./jws.ts";

/** jose's key-selection error codes, as a refusal names them. */
const JOSE_FAILURES: Record<string, string> = {
  ERR_JWKS_NO_MATCHING_KEY: "unknown kid",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "several keys match the kid",
  ERR_JOSE_NOT_SUPPORTED: "alg not allowed for this issuer",
};

/** Timing of one key set; defaults from `TIMING`. */
export interface RemoteKeySetOptions {
  /** Keys older than this are fetched again (and kept in use if that fails). */
  maxAgeMs?: number;
  /** Minimum time between two fetches, whatever the first one's outcome. */
  cooldownMs?: number;
  /** A fetch that takes longer has failed. */
  timeoutMs?: number;
  now?: () => number;
  /** The fetch to use (tests serve a provider's key format from fixtures). */
  fetch?: typeof fetch;
}

/** What an issuer's discovery document said, kept until fetching the keys it names fails. */
interface Discovered {
  jwksUri: string;
  /** The signing algorithms it advertises that we accept (never HS*, never none). */
  algorithms: readonly string[];
}

type KeySelector = ReturnType<typeof createLocalJWKSet>;

/** One issuer's remote keys. Create once per isolate and reuse. */
export class RemoteKeySet {
  readonly #source: KeySource;
  readonly #fetchImpl: typeof fetch;
  #discovered: Discovered | undefined;
  #rediscover = false;
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  /**
   * The fetched key set: jose's selector over it, and the keys it already selected, by alg and kid.
   * jose's selection filters every key of the set and copies the header on each call; a warm path
   * asks for the same one or two keys thousands of times between fetches.
   */
  #keys: { select: KeySelector; selected: Map<string, JoseKey>; fetchedAt: number } | undefined;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #lastFailure = "never fetched";
  #inflight: Promise<void> | undefined;

  constructor(source: KeySource, options: RemoteKeySetOptions = {}) {
    this.#source = source;
    this.#fetchImpl = options.fetch ?? ((input, init) => fetch(input, init));
    this.#maxAgeMs = options.maxAgeMs ?? TIMING.jwksCacheMaxAgeMs;
    this.#cooldownMs = options.cooldownMs ?? TIMING.jwksCooldownMs;
    this.#timeoutMs = options.timeoutMs ?? TIMING.jwksFetchTimeoutMs;
    this.#now = options.now ?? (() => Date.now());
  }

  /**
   * The key for a JWS header (jose's key-resolver signature). Throws KeysUnavailable when there are
   * no keys, and JwtRefused naming the rule when none of them fits (an unknown kid).
   */
  async key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<JoseKey> {
    try {
      return await this.#key(header, token);
    } catch (error) {
      if (error instanceof joseErrors.JOSEError) throw new JwtRefused(JOSE_FAILURES[error.code] ?? error.code);
      throw error;
    }
  }

  async #key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<JoseKey> {
    const now = this.#now();
    if (!this.#keys || now - this.#keys.fetchedAt >= this.#maxAgeMs) {
      // Stale keys are used at once while another request refreshes them; without any, wait.
      if (!(this.#keys && this.#inflight)) await this.#refresh();
    }
    const keys = this.#keys;
    if (!keys) throw new KeysUnavailable(`no keys: ${this.#lastFailure}`);
    // A compact JWS has no unprotected header: the protected header's alg and kid pick the key.
    const id = `${header.alg} ${header.kid ?? ""}`;
    const known = keys.selected.get(id);
    if (known) return known;
    try {
      const key = await keys.select(header, token);
      keys.selected.set(id, key);
      return key;
    } catch (error) {
      // A kid we do not know may be a key the provider added since: fetch again, once per cool-down.
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || !this.#mayFetch()) throw error;
      await this.#refresh();
      return (this.#keys ?? keys).select(header, token);
    }
  }

  /**
   * The algorithms the issuer's discovery document advertises (within ours), once it has been
   * read; undefined for other key sources, which pin theirs in the rule.
   */
  get discoveredAlgorithms(): readonly string[] | undefined {
    return this.#discovered?.algorithms;
  }

  /** What the last fetch did, for /readyz: "ok", or why it failed. */
  get lastOutcome(): string {
    return this.#keys && this.#lastFailure === "" ? "ok" : this.#lastFailure;
  }

  /** Fetches now unless the cool-down forbids it; a fetch already in flight is shared. */
  async check(): Promise<string> {
    if (this.#mayFetch() || this.#inflight) await this.#refresh();
    return this.lastOutcome;
  }

  #mayFetch(): boolean {
    return this.#now() - this.#lastAttempt >= this.#cooldownMs;
  }

  #refresh(): Promise<void> {
    if (this.#inflight) return this.#inflight;
    if (!this.#mayFetch()) return Promise.resolve();
    this.#lastAttempt = this.#now();
    this.#inflight = this.#fetch()
      .then((jwks) => {
        this.#keys = { select: createLocalJWKSet(jwks), selected: new Map(), fetchedAt: this.#now() };
        this.#lastFailure = "";
      })
      .catch((error: unknown) => {
        this.#lastFailure = error instanceof Error ? error.message : "fetch failed";
      })
      .finally(() => {
        this.#inflight = undefined;
      });
    return this.#inflight;
  }

  async #fetch(): Promise<JSONWebKeySet> {
    const source = this.#source;
    if (source.kind === "x509") return certificatesToJwks(await this.#getJson(source.url, "certificates"));
    let body: unknown;
    if (source.kind === "jwks") body = await this.#getJson(source.url, "JWKS");
    else {
      try {
        body = await this.#getJson((await this.#discover(source.issuer)).jwksUri, "JWKS");
      } catch (error) {
        // The provider may have moved its keys: read its discovery document again next time (what
        // it said last still holds until then, its algorithm list included).
        this.#rediscover = true;
        throw error;
      }
    }
    const keys = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new Error("JWKS has no keys array");
    return {
      keys: keys.filter((key): key is JSONWebKeySet["keys"][number] => typeof key === "object" && key !== null),
    };
  }

  /**
   * The discovery document, kept until a key fetch fails (it names where the keys are; the keys
   * themselves rotate, the document rarely changes). OpenID Connect Discovery §4.3: its `issuer`
   * must be exactly the one configured, or an attacker who can serve that path could name another
   * issuer's keys.
   */
  async #discover(issuer: string): Promise<Discovered> {
    if (this.#discovered && !this.#rediscover) return this.#discovered;
    const document = (await this.#getJson(
      `${issuer.replace(/\/+$/, "")}/.well-known/openid-configuration`,
      "discovery document",
    )) as Record<string, unknown> | null;
    if (document?.issuer !== issuer) throw new Error("discovery document names another issuer");
    const jwksUri = document.jwks_uri;
    if (typeof jwksUri !== "string" || !isFetchableUrl(jwksUri))
      throw new Error("discovery document has no usable jwks_uri");
    const advertised = document.id_token_signing_alg_values_supported;
    // RS256 is the one algorithm OpenID Connect requires every provider to support.
    const listed = Array.isArray(advertised)
      ? advertised.filter((alg): alg is string => typeof alg === "string")
      : ["RS256"];
    const algorithms = ASYMMETRIC_ALGORITHMS.filter((alg) => listed.includes(alg));
    if (algorithms.length === 0) throw new Error("discovery document advertises no algorithm we accept");
    this.#discovered = { jwksUri, algorithms };
    this.#rediscover = false;
    return this.#discovered;
  }

  async #getJson(url: string, what: string): Promise<unknown> {
    let response: Response;
    try {
      response = await this.#fetchImpl(url, {
        headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const timedOut = isFetchTimeout(error);
      throw new Error(timedOut ? `no answer within ${this.#timeoutMs} ms` : "network error");
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status} for the ${what}`);
    }
    const text = await response.text();
    if (text.length > LIMITS.maxJwksBytes) throw new Error(`${what} too large`);
    try {
      return JSON.parse(text);
    } catch {
      throw new Error(`${what} is not JSON`);
    }
  }
}

/**
 * Google's certificate map ({kid: PEM certificate}) as a JWKS of RS256 keys. Only the public key of
 * each certificate is used, as Firebase documents; its validity dates are Google's rotation
 * schedule, which the map itself already follows (a key leaves the map when it is retired).
 */
async function certificatesToJwks(body: unknown): Promise<JSONWebKeySet> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new Error("certificates are not a map");
  const keys: JSONWebKeySet["keys"] = [];
  for (const [kid, pem] of Object.entries(body)) {
    if (typeof pem !== "string") continue;
    try {
      const key = await importX509(pem, "RS256", { extractable: true });
      keys.push({ ...(await exportJWK(key)), kid, alg: "RS256", use: "sig" });
    } catch {
      // One unreadable certificate must not take the others down with it.
    }
  }
  if (keys.length === 0) throw new Error("no usable certificate");
  return { keys };
}
