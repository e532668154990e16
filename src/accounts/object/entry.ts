/**
 * The Durable Object class bound as ACCOUNT_OBJECTS: one instance per uid (`idFromName(uid)`).
 *
 * Every method hands its call to `AccountOperations` (`object.ts`), which this class imports on its
 * first call. Why: the Worker's main module must export this class, and every module the main module
 * imports is compiled on every cold start of every isolate, also the ones at the edge that only
 * issue tokens and never run an account object. Loaded here, the object's code, NetEase's server API
 * and the account changes are compiled only in an isolate that runs an object (`npm run bench`
 * checks what a token request loads). Calls stay in order: each waits on the same import, and
 * `AccountOperations` queues them as they arrive.
 */

import { DurableObject } from "cloudflare:workers";
import { loadOnce } from "../../core/lazy.ts";
import { logLine } from "../../core/log.ts";
import type { Env } from "../../env.ts";
import type { AccountOperations } from "./object.ts";

type Operations = AccountOperations;

/** See the module's comment. */
export class AccountObject extends DurableObject<Env> {
  /**
   * The object's operations, loaded on its first call. A failed import fails that call (the Worker
   * answers 503 `storage_unavailable`) and is tried again on the next one: one failure must not
   * leave the object failing every call, its alarm included.
   */
  readonly #load = loadOnce(async (): Promise<Operations> => {
    try {
      const { AccountOperations } = await import("./object.ts");
      return new AccountOperations(this.ctx, this.env);
    } catch (error) {
      logLine("error", {
        event: "module_load_failed",
        module: "accounts/object",
        detail: error instanceof Error ? error.name : typeof error,
      });
      throw error;
    }
  });

  async get(...call: Parameters<Operations["get"]>): ReturnType<Operations["get"]> {
    return (await this.#load()).get(...call);
  }

  async history(...call: Parameters<Operations["history"]>): Promise<ReturnType<Operations["history"]>> {
    return (await this.#load()).history(...call);
  }

  async provision(...call: Parameters<Operations["provision"]>): ReturnType<Operations["provision"]> {
    return (await this.#load()).provision(...call);
  }

  async withRtcUid(...call: Parameters<Operations["withRtcUid"]>): ReturnType<Operations["withRtcUid"]> {
    return (await this.#load()).withRtcUid(...call);
  }

  async bind(...call: Parameters<Operations["bind"]>): ReturnType<Operations["bind"]> {
    return (await this.#load()).bind(...call);
  }

  async block(...call: Parameters<Operations["block"]>): ReturnType<Operations["block"]> {
    return (await this.#load()).block(...call);
  }

  async unblock(...call: Parameters<Operations["unblock"]>): ReturnType<Operations["unblock"]> {
    return (await this.#load()).unblock(...call);
  }

  async rotate(...call: Parameters<Operations["rotate"]>): ReturnType<Operations["rotate"]> {
    return (await this.#load()).rotate(...call);
  }

  async revoke(...call: Parameters<Operations["revoke"]>): ReturnType<Operations["revoke"]> {
    return (await this.#load()).revoke(...call);
  }

  override async alarm(): Promise<void> {
    return (await this.#load()).alarm();
  }
}
