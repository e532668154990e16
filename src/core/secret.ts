/**
 * A secret the Worker holds: a Worker secret (`wrangler secret put`, a string in the Env) or a
 * Secrets Store binding (`secrets_store_secrets`, read with `await binding.get()`).
 *
 * A Worker secret is fixed for the life of a deployment, so its value is handed back as it is: the
 * token path awaits no I/O for it. A Secrets Store secret can be changed in the store without a
 * deployment, so each isolate reads it on first use and again once `STORED_SECRET_LIFETIME_MS` has
 * passed: a rotation in the store reaches every isolate within that time, and a burst of requests
 * costs one read (concurrent readers share it).
 */

import { DomainError } from "./errors.ts";
import { publicValueKind, publicValueRule } from "./published.ts";

/** What the Worker uses of a Secrets Store binding (workerd's `SecretsStoreSecret`). */
export interface StoredSecret {
  get(): Promise<string>;
}

/** How long an isolate keeps a value read from the Secrets Store before it reads it again. */
export const STORED_SECRET_LIFETIME_MS = 60_000;

/** Whether a binding is a Secrets Store secret (anything with a `get` method). */
export function isStoredSecret(binding: unknown): binding is StoredSecret {
  return typeof binding === "object" && binding !== null && typeof (binding as StoredSecret).get === "function";
}

/** A secret's value, read where it is kept. Never log it or put it in an error. */
export class Secret {
  /** The binding's name, for the `misconfigured` detail when it cannot be read. */
  readonly name: string;
  /** The Worker secret's value, or the Secrets Store binding: private, so no serialization shows it. */
  readonly #source: string | StoredSecret;
  readonly #now: () => number;
  #value: string | undefined;
  #readAt = 0;
  #reading: Promise<string> | undefined;

  constructor(name: string, source: string | StoredSecret, now: () => number = Date.now) {
    this.name = name;
    this.#source = source;
    this.#now = now;
    if (typeof source === "string") this.#value = source;
  }

  /** What `JSON.stringify` shows of a secret: its binding's name only. */
  toJSON(): string {
    return `[secret ${this.name}]`;
  }

  /** A Worker secret's value. */
  static of(value: string, name = "secret"): Secret {
    return new Secret(name, value);
  }

  /** Whether the value is read from the Secrets Store (and so may change without a deployment). */
  get stored(): boolean {
    return typeof this.#source !== "string";
  }

  /**
   * The value: at once for a Worker secret or a fresh read; a promise when the store must be read.
   * Throws (or rejects with) `misconfigured` naming the binding when the store has no such secret,
   * it is empty, or it holds a published development value or a placeholder (`published.ts`); a
   * failed read is not kept, so the next request reads again.
   */
  read(): string | Promise<string> {
    const source = this.#source;
    if (typeof source === "string") return source;
    if (this.#value !== undefined && this.#now() - this.#readAt < STORED_SECRET_LIFETIME_MS) return this.#value;
    this.#reading ??= this.#readStore(source).finally(() => {
      this.#reading = undefined;
    });
    return this.#reading;
  }

  async #readStore(source: StoredSecret): Promise<string> {
    let value: string;
    try {
      value = await source.get();
    } catch {
      // Secrets Store's error says only that the secret was not found; its text is not ours to show.
      throw new DomainError("misconfigured", {
        detail: `misconfigured: ${this.name} cannot be read from the Secrets Store`,
      });
    }
    if (typeof value !== "string" || value === "") {
      throw new DomainError("misconfigured", { detail: `misconfigured: ${this.name} is empty in the Secrets Store` });
    }
    // A value this project publishes never belongs in a store: local development uses Worker secrets.
    const kind = publicValueKind(value);
    if (kind) {
      throw new DomainError("misconfigured", {
        detail: `misconfigured: ${this.name} in the Secrets Store (${publicValueRule(kind)})`,
      });
    }
    this.#value = value;
    this.#readAt = this.#now();
    return value;
  }
}

/** The value of `secret` (a Secret, or a plain string where a caller holds the value itself). */
export function secretValue(secret: string | Secret): string | Promise<string> {
  return typeof secret === "string" ? secret : secret.read();
}
