/** The client token provider, with a fake clock and a scripted fetch. */

import { describe, expect, it } from "vitest";
import { createTokenProvider, TokenProviderError, type TokenProviderOptions } from "../../src/client/index.ts";
import type { TokenResponse } from "../../src/contract.ts";

const MINUTE = 60_000;

/** A scripted Worker: each call takes the next answer; answers are built at call time. */
function harness(start = 1_800_000_000_000, skewMs = 0) {
  const clock = { device: start - skewMs, worker: start };
  const calls: { authorization: string | null; body: unknown }[] = [];
  const sleeps: number[] = [];
  const sessions: boolean[] = [];
  const script: (() => Response | Promise<Response>)[] = [];
  const ok = (ttl = 600, accid = "acc1") => () => {
    const curTime = clock.worker;
    const body: TokenResponse = {
      accid,
      token: `tok-${calls.length}`,
      appKey: "key",
      curTime,
      ttl,
      expiresAt: curTime + ttl * 1000,
      serverTime: curTime,
      refreshAfter: curTime + ttl * 800,
    };
    return Response.json(body);
  };
  const fail = (status: number, error: string, headers: Record<string, string> = {}) => () =>
    Response.json({ error, message: `${error}!` }, { status, headers });
  const advance = (ms: number) => {
    clock.device += ms;
    clock.worker += ms;
  };
  const options = (extra: Partial<TokenProviderOptions> = {}): TokenProviderOptions => ({
    endpoint: "https://tokens.example/v1/token",
    getSessionToken: ({ forceRefresh }) => {
      sessions.push(forceRefresh);
      return forceRefresh ? "session-2" : "session-1";
    },
    fetch: async (_input, init) => {
      calls.push({ authorization: new Headers(init?.headers).get("Authorization"), body: JSON.parse(String(init?.body)) });
      const next = script.shift();
      if (!next) throw new Error("unexpected fetch");
      await Promise.resolve();
      return next();
    },
    now: () => clock.device,
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
      advance(ms);
    },
    ...extra,
  });
  return { clock, calls, sleeps, sessions, script, ok, fail, advance, options };
}

describe("createTokenProvider", () => {
  it("fetches once, serves the cache until refreshAfter, then fetches again", async () => {
    const h = harness();
    h.script.push(h.ok(), h.ok());
    const provider = createTokenProvider(h.options({ ttl: 600 }));
    expect(await provider.getToken()).toBe("tok-1");
    expect(h.calls[0]).toEqual({ authorization: "Bearer session-1", body: { ttl: 600 } });
    h.advance(7 * MINUTE);
    expect(await provider.getToken("acc1")).toBe("tok-1");
    expect(h.calls).toHaveLength(1);
    h.advance(1 * MINUTE + 1);
    expect(await provider.getToken()).toBe("tok-2");
    expect(h.calls).toHaveLength(2);
  });

  it("refreshes by the Worker's clock when the device clock is 10 minutes behind", async () => {
    const h = harness(1_800_000_000_000, 10 * MINUTE);
    h.script.push(h.ok(), h.ok());
    const provider = createTokenProvider(h.options());
    await provider.getToken();
    h.advance(8 * MINUTE + 1); // device clock says only -2 min since issue; the Worker's says 8 min.
    expect(await provider.getToken()).toBe("tok-2");
    expect(h.calls).toHaveLength(2);
  });

  it("does not treat a fresh token as stale when the device clock is 10 minutes ahead", async () => {
    const h = harness(1_800_000_000_000, -10 * MINUTE);
    h.script.push(h.ok());
    const provider = createTokenProvider(h.options());
    await provider.getToken();
    h.advance(5 * MINUTE);
    expect(await provider.getToken()).toBe("tok-1");
    expect(h.calls).toHaveLength(1);
  });

  it("refreshes refreshMargin before expiry even if refreshAfter is later", async () => {
    const h = harness();
    h.script.push(h.ok(60), h.ok(60));
    const provider = createTokenProvider(h.options({ refreshMargin: 20_000 }));
    await provider.getToken();
    h.advance(40_000); // refreshAfter is at 48 s, but expiry minus margin is at 40 s.
    await provider.getToken();
    expect(h.calls).toHaveLength(2);
  });

  it("shares one request among concurrent callers", async () => {
    const h = harness();
    h.script.push(h.ok());
    const provider = createTokenProvider(h.options());
    const tokens = await Promise.all([provider.getToken(), provider.getToken(), provider.getLogin(), provider.getToken()]);
    expect(h.calls).toHaveLength(1);
    expect(tokens[2]).toEqual({ accid: "acc1", token: "tok-1", appKey: "key" });
  });

  it("retries 5xx with backoff, honouring Retry-After", async () => {
    const h = harness();
    h.script.push(h.fail(503, "upstream_unavailable", { "Retry-After": "5" }), h.fail(502, "upstream_error"), h.ok());
    const provider = createTokenProvider(h.options({ retryBaseDelay: 500 }));
    expect(await provider.getToken()).toBe("tok-3");
    expect(h.sleeps).toEqual([5000, 1000]);
  });

  it("retries network errors, then gives up after maxAttempts with the last error", async () => {
    const h = harness();
    let attempts = 0;
    const provider = createTokenProvider(
      h.options({
        maxAttempts: 3,
        fetch: async () => {
          attempts++;
          throw new TypeError("fetch failed");
        },
      }),
    );
    await expect(provider.getToken()).rejects.toMatchObject({ name: "TokenProviderError", code: "network_error" });
    expect(attempts).toBe(3);
    expect(h.sleeps).toEqual([500, 1000]);
  });

  it("caps backoff and applies jitter", async () => {
    const h = harness();
    for (let i = 0; i < 6; i++) h.script.push(h.fail(500, "internal_error"));
    h.script.push(h.ok());
    const provider = createTokenProvider(h.options({ maxAttempts: 7, random: () => 0.5 }));
    await provider.getToken();
    expect(h.sleeps).toEqual([250, 500, 1000, 2000, 4000, 4000]);
  });

  it("asks for a fresh session once after a 401, then succeeds", async () => {
    const h = harness();
    h.script.push(h.fail(401, "invalid_session"), h.ok());
    const provider = createTokenProvider(h.options());
    expect(await provider.getToken()).toBe("tok-2");
    expect(h.sessions).toEqual([false, true]);
    expect(h.calls.map((c) => c.authorization)).toEqual(["Bearer session-1", "Bearer session-2"]);
  });

  it("gives up on a second 401", async () => {
    const h = harness();
    h.script.push(h.fail(401, "invalid_session"), h.fail(401, "invalid_session"));
    const provider = createTokenProvider(h.options());
    await expect(provider.getToken()).rejects.toMatchObject({ code: "invalid_session", status: 401 });
    expect(h.calls).toHaveLength(2);
  });

  it("surfaces 403 account_blocked and other 4xx without retrying", async () => {
    const h = harness();
    h.script.push(h.fail(403, "account_blocked"), h.fail(400, "invalid_request"));
    const provider = createTokenProvider(h.options());
    const blocked = await provider.getToken().catch((e: unknown) => e);
    expect(blocked).toBeInstanceOf(TokenProviderError);
    expect(blocked).toMatchObject({ code: "account_blocked", status: 403, message: "account_blocked!" });
    await expect(provider.getToken()).rejects.toMatchObject({ code: "invalid_request", status: 400 });
    expect(h.calls).toHaveLength(2);
    expect(h.sleeps).toEqual([]);
  });

  it("retries 429 rate_limited after Retry-After", async () => {
    const h = harness();
    h.script.push(h.fail(429, "rate_limited", { "Retry-After": "2" }), h.ok());
    const provider = createTokenProvider(h.options());
    expect(await provider.getToken()).toBe("tok-2");
    expect(h.sleeps).toEqual([2000]);
  });

  it("rejects an answer that is not a token response", async () => {
    const h = harness();
    h.script.push(() => new Response("<html>", { status: 200 }));
    const provider = createTokenProvider(h.options({ maxAttempts: 1 }));
    await expect(provider.getToken()).rejects.toMatchObject({ code: "invalid_response" });
  });

  it("refuses a token for another account than the SDK asks for", async () => {
    const h = harness();
    h.script.push(h.ok(600, "acc1"));
    const provider = createTokenProvider(h.options());
    await expect(provider.getToken("someone-else")).rejects.toMatchObject({ code: "account_mismatch" });
  });

  it("stops when aborted", async () => {
    const h = harness();
    const controller = new AbortController();
    h.script.push(h.fail(503, "upstream_unavailable"));
    const provider = createTokenProvider(
      h.options({
        signal: controller.signal,
        sleep: async () => controller.abort(),
      }),
    );
    await expect(provider.getToken()).rejects.toMatchObject({ code: "aborted" });
    await expect(provider.getToken()).rejects.toMatchObject({ code: "aborted" });
  });

  it("clear() forgets the cached token", async () => {
    const h = harness();
    h.script.push(h.ok(), h.ok());
    const provider = createTokenProvider(h.options());
    await provider.getToken();
    provider.clear();
    expect(await provider.getToken()).toBe("tok-2");
  });
});

describe("the package's ./client entry", () => {
  it("is the built JavaScript, importable by Node", async () => {
    const entry = await import("nim-token-worker/client");
    expect(typeof entry.createTokenProvider).toBe("function");
    expect(new entry.TokenProviderError("network_error", "x")).toBeInstanceOf(Error);
  });
});
