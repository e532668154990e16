/**
 * Builds the NetEase client a Worker uses: the dialect `NIM_API_VERSION` names, over a transport of
 * its own. Kept apart from `server-api.ts` (the contract) so the dialects depend on the contract and
 * nothing depends back on them but this file.
 */

import type { NimApiVersion } from "../core/constants.ts";
import { DomainError } from "../core/errors.ts";
import type { Metrics } from "../core/metrics.ts";
import type { ChatroomAddressQuery, NimServerApi, ProbeOutcome } from "./server-api.ts";
import { NimServerApiV1 } from "./server-api-v1.ts";
import { NimServerApiV2 } from "./server-api-v2.ts";
import { NimTransport, type NimTransportOptions } from "./transport.ts";

/** Settings for a NetEase client: the transport's, and the API version (a `Config` has them all). */
export interface NimServerApiOptions extends NimTransportOptions {
  apiVersion: NimApiVersion;
}

/**
 * A NetEase client speaking `options.apiVersion` over a transport of its own (own cool-downs, own 416
 * block). Takes the settings it needs and nothing more, so `nimServerApi(config)` works.
 */
export function nimServerApi(options: NimServerApiOptions, metrics?: Metrics): NimServerApi {
  const { apiBases, appKey, appSecret, timeoutMs, fetch, now } = options;
  const transport = new NimTransport({ apiBases, appKey, appSecret, timeoutMs, fetch, now });
  const api = options.apiVersion === "v2" ? new NimServerApiV2(transport) : new NimServerApiV1(transport);
  return metrics?.dataset ? new FailureCounting(api, metrics) : api;
}

/**
 * Counts every failed NetEase call (`netease_failure`, by action and code) where it happens: in the
 * Worker or in an account object, each with its own METRICS binding, so each failure counts once.
 */
class FailureCounting implements NimServerApi {
  readonly api: NimServerApi;
  readonly metrics: Metrics;

  constructor(api: NimServerApi, metrics: Metrics) {
    this.api = api;
    this.metrics = metrics;
  }

  get version(): NimApiVersion {
    return this.api.version;
  }
  get kickMayLeaveBlocked(): boolean {
    return this.api.kickMayLeaveBlocked;
  }

  createAccount(accid: string): Promise<{ accid: string; created: boolean }> {
    return this.#counted(() => this.api.createAccount(accid));
  }
  blockAccount(accid: string, kick: boolean): Promise<void> {
    return this.#counted(() => this.api.blockAccount(accid, kick));
  }
  unblockAccount(accid: string): Promise<void> {
    return this.#counted(() => this.api.unblockAccount(accid));
  }
  kickAccount(accid: string, blocked: boolean): Promise<void> {
    return this.#counted(() => this.api.kickAccount(accid, blocked));
  }
  existingAccounts(accids: readonly string[]): Promise<Set<string>> {
    return this.#counted(() => this.api.existingAccounts(accids));
  }
  probe(accid: string): Promise<ProbeOutcome> {
    return this.#counted(() => this.api.probe(accid));
  }
  chatroomAddresses(query: ChatroomAddressQuery): Promise<string[]> {
    return this.#counted(() => this.api.chatroomAddresses(query));
  }

  async #counted<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof DomainError && error.upstream) {
        this.metrics.record("netease_failure", [error.upstream.action, error.upstream.code]);
      }
      throw error;
    }
  }
}
