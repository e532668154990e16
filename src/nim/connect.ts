/**
 * Builds the NetEase client a Worker uses: the dialect `NIM_API_VERSION` names, over a transport of
 * its own. Kept apart from `server-api.ts` (the contract) so the dialects depend on the contract and
 * nothing depends back on them but this file.
 */

import type { NimApiVersion } from "../constants.ts";
import type { NimServerApi } from "./server-api.ts";
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
export function nimServerApi(options: NimServerApiOptions): NimServerApi {
  const { apiBases, appKey, appSecret, timeoutMs, fetch, now } = options;
  const transport = new NimTransport({ apiBases, appKey, appSecret, timeoutMs, fetch, now });
  return options.apiVersion === "v2" ? new NimServerApiV2(transport) : new NimServerApiV1(transport);
}
