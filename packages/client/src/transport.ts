/**
 * One request to the Worker (a token, chatroom addresses, a sign-out), with the retries that can
 * help: network errors, 5xx and 429 with capped exponential backoff, full jitter and `Retry-After`; a
 * 401 asks the app for a fresh session once, except `session_revoked` (the user signed out
 * everywhere: only a new sign-in helps). Everything else is final. An answer that arrives after its
 * sign-in ended is discarded. Without `getSessionToken` it asks anonymously: no `Authorization`, and
 * a 401 is final.
 */

import { isErrorBody, isTimed, parseRetryAfter } from "./answers.js";
import { TokenProviderError } from "./errors.js";
import type { Epoch, Lifecycle, WorkerClock } from "./session.js";

/** The longest backoff between two attempts (ms). */
const MAX_DELAY_MS = 8_000;

/** What the transport needs. */
export interface TransportOptions {
  fetch: typeof fetch;
  /** The app's session; undefined for an anonymous request (a visitor without a session). */
  getSessionToken: ((options: { forceRefresh: boolean }) => string | Promise<string>) | undefined;
  maxAttempts: number;
  retryBaseDelay: number;
  random: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  clock: WorkerClock;
  lifecycle: Lifecycle;
}

/** The global fetch, called on `globalThis` (a detached browser fetch throws) and looked up per call. */
export const globalFetch: typeof fetch = (input, init) => globalThis.fetch(input, init);

/** Fetches one token answer for `owner`'s sign-in, accepting only bodies `accept` recognises. */
export type FetchToken = <T>(
  owner: Epoch,
  url: string,
  body: () => unknown,
  accept: (value: unknown) => value is T,
) => Promise<T>;

/** Builds the function that fetches a token with retries. */
export function createTransport(options: TransportOptions): FetchToken {
  const { getSessionToken, maxAttempts, retryBaseDelay, random, sleep, clock, lifecycle } = options;

  async function attemptOnce<T>(
    owner: Epoch,
    url: string,
    authorization: string | undefined,
    requestBody: unknown,
    accept: (value: unknown) => value is T,
  ): Promise<{ token: T } | { error: TokenProviderError; retryAfterMs?: number }> {
    let response: Response;
    let body: unknown;
    const sentAt = clock.deviceNow();
    try {
      response = await options.fetch(url, {
        method: "POST",
        headers:
          authorization === undefined
            ? { "Content-Type": "application/json" }
            : { Authorization: authorization, "Content-Type": "application/json" },
        body: JSON.stringify(requestBody),
        signal: owner.controller.signal,
      });
      body = await response.json().catch(() => undefined);
    } catch {
      lifecycle.assertCurrent(owner);
      return { error: new TokenProviderError("network_error", "Could not reach the token service.") };
    }
    // A fetch that ignored the abort still lands here: its answer must not outlive the sign-out.
    lifecycle.assertCurrent(owner);
    if (response.ok) {
      if (!accept(body)) {
        const message = "The token service answered with an unexpected body.";
        return { error: new TokenProviderError("invalid_response", message, response.status) };
      }
      // Token answers carry the Worker's clock (their `accept` requires it); others may not.
      if (isTimed(body)) clock.learn(body.serverTime, sentAt, clock.deviceNow());
      return { token: body };
    }
    const error = isErrorBody(body)
      ? new TokenProviderError(body.error, body.message, response.status)
      : new TokenProviderError(
          response.status >= 500 ? "upstream_unavailable" : "invalid_response",
          `HTTP ${response.status}`,
          response.status,
        );
    return { error, retryAfterMs: parseRetryAfter(response.headers.get("Retry-After"), clock.deviceNow()) };
  }

  return async function fetchToken<T>(
    owner: Epoch,
    url: string,
    body: () => unknown,
    accept: (value: unknown) => value is T,
  ): Promise<T> {
    let forceRefresh = false;
    let reauthenticated = false;
    for (let attempt = 1; ; attempt++) {
      lifecycle.assertCurrent(owner);
      // Anonymous requests carry no session at all (not an empty one).
      const authorization =
        getSessionToken === undefined ? undefined : `Bearer ${await getSessionToken({ forceRefresh })}`;
      lifecycle.assertCurrent(owner);
      const outcome = await attemptOnce(owner, url, authorization, body(), accept);
      if ("token" in outcome) return outcome.token;
      const { error, retryAfterMs } = outcome;
      if (error.status === 401 && error.code !== "session_revoked" && authorization !== undefined && !reauthenticated) {
        // The session may simply have expired: ask the app for a new one, once.
        reauthenticated = true;
        forceRefresh = true;
        attempt--;
        continue;
      }
      const retryable =
        error.code === "network_error" || error.status === 429 || (error.status !== undefined && error.status >= 500);
      if (!retryable || attempt >= maxAttempts) throw error;
      const backoff = random() * Math.min(MAX_DELAY_MS, retryBaseDelay * 2 ** (attempt - 1));
      await sleep(Math.max(backoff, retryAfterMs ?? 0), owner.controller.signal);
    }
  };
}
