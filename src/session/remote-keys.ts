/**
 * An issuer's remote keys as the token path holds them: `jwks.ts`'s RemoteKeySet, imported with jose
 * on the first token that needs a remote key. Why: jose and the key fetching are a large part of
 * what the token path would otherwise compile on every cold start, and a deployment whose sessions
 * are HS256 never needs them (src/index.ts says why cold starts matter).
 */

import type { FlattenedJWSInput, JWSHeaderParameters } from "jose";
import { loadOnce } from "../core/lazy.ts";
import type { KeySource } from "./issuers.ts";
import type { RemoteKeySet, RemoteKeySetOptions } from "./jwks.ts";
import { KeysUnavailable } from "./jws.ts";

/** Loads `jwks.ts` (tests pass a loader that fails). */
export type KeyModuleLoader = () => Promise<Pick<typeof import("./jwks.ts"), "RemoteKeySet">>;

/** One issuer's remote keys (`jwks.ts` `RemoteKeySet`), loaded on first use. Create once per isolate. */
export class RemoteKeys {
  #set: RemoteKeySet | undefined;
  readonly #loadSet: () => Promise<RemoteKeySet>;

  constructor(
    readonly source: KeySource,
    readonly options: RemoteKeySetOptions = {},
    loadModule: KeyModuleLoader = () => import("./jwks.ts"),
  ) {
    this.#loadSet = loadOnce(async () => {
      const { RemoteKeySet } = await loadModule();
      this.#set = new RemoteKeySet(this.source, this.options);
      return this.#set;
    });
  }

  /**
   * The key set, loaded on first use. A module that fails to load is our fault, not the caller's:
   * KeysUnavailable (503 `session_keys_unavailable`), never a refused session, and the next token
   * tries the load again.
   */
  async #load(): Promise<RemoteKeySet> {
    try {
      return await this.#loadSet();
    } catch (error) {
      throw new KeysUnavailable(
        `the key module failed to load (${error instanceof Error ? error.name : typeof error})`,
      );
    }
  }

  /** The key for a JWS header: `RemoteKeySet.key`. */
  async key(header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> {
    const set = this.#set ?? (await this.#load());
    return (await set.key(header, token)) as CryptoKey;
  }

  /** `RemoteKeySet.discoveredAlgorithms`: undefined until the keys are loaded, and then as it says. */
  get discoveredAlgorithms(): readonly string[] | undefined {
    return this.#set?.discoveredAlgorithms;
  }

  /** `RemoteKeySet.check`: fetches now unless the cool-down forbids it; "ok" or why not. */
  async check(): Promise<string> {
    return (this.#set ?? (await this.#load())).check();
  }
}
