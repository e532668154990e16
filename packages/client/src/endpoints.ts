/**
 * The Worker URLs a provider posts to, derived from its options in this one place. A deployment
 * serves its home NetEase app at `/v1/token`, `/v1/rtc/token`, `/v1/chatroom/address` and
 * `/v1/sessions/revoke`, and each of its apps by name at `/v1/apps/{app}/token`,
 * `/v1/apps/{app}/rtc/token`, `/v1/apps/{app}/chatroom/address` and `/v1/apps/{app}/sessions/revoke`.
 */

import { TokenProviderError } from "./errors.js";

/** An app's name, as the Worker accepts it in `/v1/apps/{app}/…`. */
const APP_NAME = /^[a-z0-9-]{1,32}$/;

/**
 * A token endpoint's parts: `{base}/v1/token` or `{base}/v1/apps/{app}/token`, trailing slash allowed.
 * The base is the shortest that fits, so `…/v1/apps/{app}/token` reads as an app's path.
 */
const TOKEN_PATH = /^(.*?)\/v1(?:\/apps\/([^/?#]+))?\/token\/?$/;

/** What the endpoints are derived from (the provider's options of the same names). */
export interface EndpointOptions {
  endpoint: string;
  app?: string | undefined;
  rtcEndpoint?: string | undefined;
  chatroomEndpoint?: string | undefined;
  revokeEndpoint?: string | undefined;
}

/** Where IM tokens, NERTC tokens, chatroom addresses and sign-out-everywhere go. */
export interface Endpoints {
  token: string;
  rtc: string;
  chatroom: string;
  revoke: string;
}

/**
 * The provider's URLs. Without `app`, `endpoint` is used as given and the others replace its
 * `/v1/token` ending (or `/v1/apps/{app}/token`, keeping that app). With `app`, all are that app's.
 * An explicit `rtcEndpoint`, `chatroomEndpoint` or `revokeEndpoint` wins over the derived one.
 *
 * @throws TokenProviderError `invalid_options` for a malformed `app`, or an `app` with an `endpoint`
 *   that does not end in `/v1/token` (or names another app): silently asking the home app instead
 *   would hand out tokens of the wrong NetEase app.
 */
export function endpointsOf(options: EndpointOptions): Endpoints {
  const { endpoint, app } = options;
  if (app !== undefined && !APP_NAME.test(app)) {
    throw new TokenProviderError(
      "invalid_options",
      `app must be 1 to 32 of a-z, 0-9 and "-" (an app's name in the deployment): got ${JSON.stringify(app)}.`,
    );
  }
  const match = TOKEN_PATH.exec(endpoint);
  let derive: (path: string) => string;
  if (app !== undefined) {
    if (!match || (match[2] !== undefined && match[2] !== app)) {
      throw new TokenProviderError(
        "invalid_options",
        `With app "${app}", endpoint must be the deployment's …/v1/token URL: got ${endpoint}.`,
      );
    }
    const base = `${match[1]}/v1/apps/${encodeURIComponent(app)}`;
    derive = (path) => `${base}${path}`;
  } else if (match) {
    const base = match[2] === undefined ? `${match[1]}/v1` : `${match[1]}/v1/apps/${match[2]}`;
    derive = (path) => `${base}${path}`;
  } else {
    // Not a Worker path we know: every request goes to `endpoint` unless told otherwise (as always).
    derive = () => endpoint;
  }
  return {
    token: app === undefined ? endpoint : derive("/token"),
    rtc: options.rtcEndpoint ?? derive("/rtc/token"),
    chatroom: options.chatroomEndpoint ?? derive("/chatroom/address"),
    revoke: options.revokeEndpoint ?? derive("/sessions/revoke"),
  };
}
