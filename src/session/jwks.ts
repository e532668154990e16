/**
 * An identity provider's JWKS, fetched and cached per isolate.
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
  type FlattenedJWSInput,
  type CryptoKey as JoseKey,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  errors as joseErrors,
} from "jose";
import { LIMITS, TIMING } from "../constants.ts";

/** Thrown when no key can be had at all: never fetched, and the fetch failed or is cooling down. */
export class KeysUnavailable extends Error {
  override readonly name = "KeysUnavailable";
}

/** Timing of one key set; defaults from `TIMING`. */
export interface RemoteKeySetOptions {
  /** Keys older than this are fetched again (and kept in use if that fails). */
  maxAgeMs?: number;
  /** Minimum time between two fetches, whatever the first one's outcome. */
  cooldownMs?: number;
  /** A fetch that takes longer has failed. */
  timeoutMs?: number;
  now?: () => number;
}

type KeySelector = ReturnType<typeof createLocalJWKSet>;

/** One remote JWKS. Create once per isolate and reuse. */
export class RemoteKeySet {
  readonly #url: string;
  readonly #maxAgeMs: number;
  readonly #cooldownMs: number;
  readonly #timeoutMs: number;
  readonly #now: () => number;
  #keys: { select: KeySelector; fetchedAt: number } | undefined;
  #lastAttempt = Number.NEGATIVE_INFINITY;
  #lastFailure = "never fetched";
  #inflight: Promise<void> | undefined;

  constructor(url: string, options: RemoteKeySetOptions = {}) {
    this.#url = url;
    this.#maxAgeMs = options.maxAgeMs ?? TIMING.jwksCacheMaxAgeMs;
    this.#cooldownMs = options.cooldownMs ?? TIMING.jwksCooldownMs;
    this.#timeoutMs = options.timeoutMs ?? TIMING.jwksFetchTimeoutMs;
    this.#now = options.now ?? (() => Date.now());
  }

  /** The key for a JWS header (jose's key-resolver signature). */
  async key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<JoseKey> {
    const now = this.#now();
    if (!this.#keys || now - this.#keys.fetchedAt >= this.#maxAgeMs) {
      // Stale keys are used at once while another request refreshes them; without any, wait.
      if (!(this.#keys && this.#inflight)) await this.#refresh();
    }
    if (!this.#keys) throw new KeysUnavailable(`JWKS: ${this.#lastFailure}`);
    try {
      return await this.#keys.select(header, token);
    } catch (error) {
      // A kid we do not know may be a key the provider added since: fetch again, once per cool-down.
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || !this.#mayFetch()) throw error;
      await this.#refresh();
      return this.#keys.select(header, token);
    }
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
        this.#keys = { select: createLocalJWKSet(jwks), fetchedAt: this.#now() };
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
    let response: Response;
    try {
      response = await fetch(this.#url, {
        headers: { Accept: "application/json" },
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
      throw new Error(timedOut ? `no answer within ${this.#timeoutMs} ms` : "network error");
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`HTTP ${response.status}`);
    }
    const text = await response.text();
    if (text.length > LIMITS.maxJwksBytes) throw new Error("JWKS too large");
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error("JWKS is not JSON");
    }
    const keys = (body as { keys?: unknown } | null)?.keys;
    if (!Array.isArray(keys)) throw new Error("JWKS has no keys array");
    return {
      keys: keys.filter((key): key is JSONWebKeySet["keys"][number] => typeof key === "object" && key !== null),
    };
  }
}
