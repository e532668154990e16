/**
 * Keeps a NERTC Web client's permission key fresh: NERTC (`nertc-web-sdk`) emits
 * `permkey-will-expire` 30 s before the key it holds lapses, and removes the user from the channel
 * (`permkey-timeout`) unless `client.updatePermKey(newKey)` comes first.
 */

import { TokenProviderError } from "./errors.js";
import type { TokenProvider } from "./token-provider.js";

/** What this helper uses of a NERTC Web client (`NERTC.createClient(…)`), so the SDK stays optional. */
export interface PermKeyClient {
  on(event: "permkey-will-expire", listener: () => void): unknown;
  off?(event: "permkey-will-expire", listener: () => void): unknown;
  updatePermKey(permKey: string): Promise<void>;
}

/** Options for keepPermKeyFresh. */
export interface KeepPermKeyFreshOptions {
  /**
   * Told of each failure to renew: a TokenProviderError from the Worker (`final` when asking again
   * cannot help: the user is blocked, signed out everywhere, or no longer granted the channel), or
   * the SDK's own error from `updatePermKey`. NERTC then removes the user when the key lapses.
   */
  onError?: (error: unknown) => void;
}

/**
 * Answers `client`'s `permkey-will-expire` for `channelName`: fetches a new key from the Worker
 * (`provider.refreshRtcToken`) and hands it to `client.updatePermKey`. Returns a function that stops
 * listening (call it when leaving the channel).
 */
export function keepPermKeyFresh(
  client: PermKeyClient,
  provider: Pick<TokenProvider, "refreshRtcToken">,
  channelName: string,
  options: KeepPermKeyFreshOptions = {},
): () => void {
  let stopped = false;
  const renew = async () => {
    const { permKey } = await provider.refreshRtcToken(channelName);
    if (permKey === undefined) {
      throw new TokenProviderError(
        "invalid_response",
        "The Worker issues no permission keys (NERTC_PERM_SECRET unset).",
      );
    }
    // A renewal that finishes after the app left the channel is dropped, not applied.
    if (!stopped) await client.updatePermKey(permKey);
  };
  const listener = () => {
    if (stopped) return;
    renew().catch((error: unknown) => options.onError?.(error));
  };
  client.on("permkey-will-expire", listener);
  return () => {
    stopped = true;
    client.off?.("permkey-will-expire", listener);
  };
}
