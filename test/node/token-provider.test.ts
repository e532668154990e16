/** The client token provider, with a fake clock and a scripted fetch. */

import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  createChatroomProviders,
  createTokenProvider,
  getAnonymousChatroomAddresses,
  keepPermKeyFresh,
  type PermKeyClient,
  type RtcTokenResponse,
  TokenProviderError,
  type TokenProviderOptions,
  type TokenResponse,
} from "../../packages/client/src/index.ts";

// Timers are fake in every test: the background refresh is scheduled with setTimeout, and a test
// moves time on with `tick` (clock and timers together) or `advance` (clock only, no timer fires).
beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
});
afterEach(() => {
  vi.useRealTimers();
});

const MINUTE = 60_000;

/** A scripted Worker: each call takes the next answer; answers are built at call time. */
function harness(start = 1_800_000_000_000, skewMs = 0) {
  const clock = { device: start - skewMs, worker: start };
  type Call = { url: string; authorization: string | null; body: unknown };
  const calls: Call[] = [];
  const sleeps: number[] = [];
  const sessions: boolean[] = [];
  /** The app's current session JWT (a sign-in changes it). */
  const user = { session: "session-1" };
  /** Answers in order; each may read the request it answers. */
  const script: ((call: Call) => Response | Promise<Response>)[] = [];
  const ok =
    (ttl = 600, accid = "acc1") =>
    () => {
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
  const fail =
    (status: number, error: string, headers: Record<string, string> = {}) =>
    () =>
      Response.json({ error, message: `${error}!` }, { status, headers });
  /** A scripted POST /v1/rtc/token answer for the channel in the request. */
  const rtc =
    (ttl = 3600, uid = 4242) =>
    () => {
      const curTime = clock.worker;
      const { channelName } = calls.at(-1)!.body as { channelName: string };
      const body: RtcTokenResponse = {
        uid,
        channelName,
        token: `rtc-${calls.length}`,
        appKey: "key",
        curTime,
        ttl,
        expiresAt: curTime + ttl * 1000,
        serverTime: curTime,
        refreshAfter: curTime + ttl * 800,
      };
      return Response.json(body);
    };
  /** The same with a permission key of `keyTtl` seconds (the Worker's key counts whole seconds). */
  const rtcKeyed =
    (ttl = 600, keyTtl = 3600, privilege = 44) =>
    () => {
      const answer = rtc(ttl)();
      return answer.json().then((body: RtcTokenResponse) => {
        const keyTime = Math.floor(body.curTime / 1000);
        return Response.json({
          ...body,
          permKey: `key-${calls.length}`,
          privilege,
          permKeyTtl: keyTtl,
          permKeyExpiresAt: (keyTime + keyTtl) * 1000,
        });
      });
    };
  /** A scripted POST /v1/chatroom/address answer for the room in the request it answers. */
  const room =
    (addresses = ["weblink-1.example:443", "weblink-2.example:443"], accid = "acc1", anonymous = false) =>
    (call: Call) => {
      const { roomId } = call.body as { roomId: string };
      return Response.json({ roomId, accid, addresses, anonymous });
    };
  const advance = (ms: number) => {
    clock.device += ms;
    clock.worker += ms;
  };
  /** Moves the clocks and the fake timers on together, letting due background refreshes run. */
  const tick = async (ms: number) => {
    advance(ms);
    await vi.advanceTimersByTimeAsync(ms);
  };
  /** A fetch answer held until `release()`: a request in flight. */
  const held = (answer: (call: Call) => Response | Promise<Response>) => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    return {
      answer: async (call: Call) => {
        await gate;
        return answer(call);
      },
      release,
    };
  };
  const options = (extra: Partial<TokenProviderOptions> = {}): TokenProviderOptions => ({
    endpoint: "https://tokens.example/v1/token",
    getSessionToken: ({ forceRefresh }) => {
      sessions.push(forceRefresh);
      return forceRefresh ? "session-2" : user.session;
    },
    fetch: async (_input, init) => {
      const call = {
        url: String(_input),
        authorization: new Headers(init?.headers).get("Authorization"),
        body: JSON.parse(String(init?.body)),
      };
      calls.push(call);
      const next = script.shift();
      if (!next) throw new Error("unexpected fetch");
      await Promise.resolve();
      return next(call);
    },
    now: () => clock.device,
    random: () => 1,
    sleep: async (ms) => {
      sleeps.push(ms);
      advance(ms);
    },
    ...extra,
  });
  return { clock, calls, sleeps, sessions, user, script, ok, rtc, rtcKeyed, room, fail, advance, tick, held, options };
}

describe("createTokenProvider", () => {
  it("fetches once, serves the cache until refreshAfter, then fetches again", async () => {
    const h = harness();
    h.script.push(h.ok(), h.ok());
    const provider = createTokenProvider(h.options({ ttl: 600 }));
    expect(await provider.getToken()).toBe("tok-1");
    expect(h.calls[0]).toEqual({
      url: "https://tokens.example/v1/token",
      authorization: "Bearer session-1",
      body: { ttl: 600 },
    });
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
    const tokens = await Promise.all([
      provider.getToken(),
      provider.getToken(),
      provider.getLogin(),
      provider.getToken(),
    ]);
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

describe("signOutEverywhere", () => {
  it("posts the session to /v1/sessions/revoke, answers revokedBefore, and then behaves as after clear()", async () => {
    const h = harness();
    h.script.push(h.ok(), () => Response.json({ revokedBefore: 1_800_000_000_123 }), h.ok());
    const provider = createTokenProvider(h.options());
    expect(await provider.getToken()).toBe("tok-1");
    expect(await provider.signOutEverywhere()).toEqual({ revokedBefore: 1_800_000_000_123 });
    expect(h.calls[1]).toEqual({
      url: "https://tokens.example/v1/sessions/revoke",
      authorization: "Bearer session-1",
      body: {},
    });
    // The cached token is forgotten: the next sign-in fetches anew.
    h.user.session = "session-3";
    expect(await provider.getToken()).toBe("tok-3");
    expect(h.calls[2]!.authorization).toBe("Bearer session-3");
  });

  it("clears even when the Worker cannot be told, and says why", async () => {
    const h = harness();
    h.script.push(h.ok(), h.fail(400, "invalid_request"), h.ok());
    const provider = createTokenProvider(h.options());
    await provider.getToken();
    await expect(provider.signOutEverywhere()).rejects.toMatchObject({ code: "invalid_request", status: 400 });
    expect(await provider.getToken()).toBe("tok-3");
  });

  it("treats session_revoked as final: no fresh-session retry, no background refresh", async () => {
    const h = harness();
    h.script.push(h.fail(401, "session_revoked"));
    const provider = createTokenProvider(h.options());
    const error = await provider.getToken().catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "session_revoked", status: 401, final: true });
    expect(h.sessions).toEqual([false]);
    expect(h.calls).toHaveLength(1);
    await h.tick(60 * MINUTE);
    expect(h.calls).toHaveLength(1);
  });
});

describe("the nim-token-worker-client package entry", () => {
  it("is the built JavaScript, importable by Node, and built from the current source", async () => {
    const entry = await import("nim-token-worker-client");
    expect(typeof entry.createTokenProvider).toBe("function");
    expect(new entry.TokenProviderError("network_error", "x")).toBeInstanceOf(Error);
    // A stale build (npm test builds the client first) would miss what the source exports now.
    const source = await import("../../packages/client/src/index.ts");
    expect(Object.keys(entry).sort()).toEqual(Object.keys(source).sort());
  });
});

describe("sign-out: nothing fetched for an earlier session is returned after clear()", () => {
  /** User A's request is in flight; A signs out and B signs in. */
  function signOutDuringFlight() {
    const h = harness();
    const a = h.held(h.ok(600, "accA"));
    h.script.push(a.answer, h.ok(600, "accB"));
    const provider = createTokenProvider(h.options());
    const forA = provider.getLogin();
    return { h, a, provider, forA };
  }

  it("clear during flight: A's waiting caller is rejected, A's answer is discarded", async () => {
    const { h, a, provider, forA } = signOutDuringFlight();
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    h.user.session = "session-B";
    a.release();
    await expect(forA).rejects.toMatchObject({ name: "TokenProviderError", code: "cleared" });
    expect(provider.peek()).toBeUndefined();
    expect(await provider.getLogin()).toMatchObject({ accid: "accB" });
    expect(h.calls.map((c) => c.authorization)).toEqual(["Bearer session-1", "Bearer session-B"]);
  });

  it("clear then an immediate call: a fresh request with the new session, not A's flight", async () => {
    const { h, a, provider, forA } = signOutDuringFlight();
    forA.catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    h.user.session = "session-B";
    const forB = provider.getToken("accB");
    a.release();
    expect(await forB).toBe("tok-2");
    expect(h.calls).toHaveLength(2);
    expect(h.calls[1]!.authorization).toBe("Bearer session-B");
  });

  it("clear then a later call (after A's answer arrived): never served from A's answer", async () => {
    const { h, a, provider, forA } = signOutDuringFlight();
    forA.catch(() => {});
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    a.release();
    await expect(forA).rejects.toMatchObject({ code: "cleared" });
    h.user.session = "session-B";
    await h.tick(1000);
    expect(await provider.getToken("accB")).toBe("tok-2");
    expect(h.calls[1]!.authorization).toBe("Bearer session-B");
  });

  it("aborts the request in flight at clear()", async () => {
    const h = harness();
    const signals: AbortSignal[] = [];
    const provider = createTokenProvider(
      h.options({
        // Like a real fetch: never answers, but rejects when its signal aborts.
        fetch: (_input, init) => {
          const signal = init!.signal!;
          signals.push(signal);
          return new Promise<Response>((_resolve, reject) => {
            signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
          });
        },
      }),
    );
    const pending = provider.getToken().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    expect(signals[0]!.aborted).toBe(false);
    provider.clear();
    expect(signals[0]!.aborted).toBe(true);
    expect(await pending).toMatchObject({ code: "cleared" });
  });

  it("two clears in a row, with a flight in between, still give the current session's token", async () => {
    const h = harness();
    const a = h.held(h.ok(600, "accA"));
    const b = h.held(h.ok(600, "accB"));
    h.script.push(a.answer, b.answer, h.ok(600, "accC"));
    const provider = createTokenProvider(h.options());
    const forA = provider.getToken().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    h.user.session = "session-B";
    const forB = provider.getToken().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    provider.clear();
    h.user.session = "session-C";
    const forC = provider.getLogin();
    a.release();
    b.release();
    expect(await forA).toMatchObject({ code: "cleared" });
    expect(await forB).toMatchObject({ code: "cleared" });
    expect(await forC).toMatchObject({ accid: "accC" });
    expect(h.calls.map((c) => c.authorization)).toEqual(["Bearer session-1", "Bearer session-B", "Bearer session-C"]);
    expect(provider.peek("accC")).toBe("tok-3");
  });

  it("concurrent callers around a clear: those before are rejected, those after share B's one request", async () => {
    const h = harness();
    const a = h.held(h.ok(600, "accA"));
    h.script.push(a.answer, h.ok(600, "accB"));
    const provider = createTokenProvider(h.options());
    const before = [provider.getToken(), provider.getLogin(), provider.getToken("accA")].map((p) =>
      p.catch((e: unknown) => e),
    );
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    h.user.session = "session-B";
    const after = [provider.getToken("accB"), provider.getLogin(), provider.getToken()];
    a.release();
    for (const outcome of await Promise.all(before)) expect(outcome).toMatchObject({ code: "cleared" });
    expect(await Promise.all(after)).toEqual(["tok-2", { accid: "accB", token: "tok-2", appKey: "key" }, "tok-2"]);
    expect(h.calls).toHaveLength(2);
  });

  it("a clear during a retry wait ends the old session's retries", async () => {
    const h = harness();
    h.script.push(h.fail(503, "upstream_unavailable"), h.ok(600, "accB"));
    let wake!: () => void;
    const provider = createTokenProvider(
      h.options({
        sleep: () =>
          new Promise<void>((resolve) => {
            wake = resolve;
          }),
      }),
    );
    const forA = provider.getToken().catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    wake();
    expect(await forA).toMatchObject({ code: "cleared" });
    expect(h.calls).toHaveLength(1);
  });
});

describe("a token ready ahead of time", () => {
  it("refreshes in the background before refreshAfter, so getToken answers from memory", async () => {
    const h = harness();
    h.script.push(h.ok(), h.ok());
    const provider = createTokenProvider(h.options({ random: () => 0.5 }));
    await provider.prefetch();
    expect(h.calls).toHaveLength(1);
    // refreshAfter is at 480 s; the jitter takes random × min(30 s, 10 % of 600 s) off it: 15 s.
    await h.tick(464_000);
    expect(h.calls).toHaveLength(1);
    await h.tick(1_000);
    expect(h.calls).toHaveLength(2);
    // The SDK's hook at the old refreshAfter: answered from memory, no request of its own.
    await h.tick(15_000);
    expect(await provider.getToken()).toBe("tok-2");
    expect(h.calls).toHaveLength(2);
  });

  it("keeps refreshing for as long as the app is active, and stops when paused", async () => {
    const h = harness();
    for (let i = 0; i < 4; i++) h.script.push(h.ok(100));
    const provider = createTokenProvider(h.options({ random: () => 0, refreshMargin: 10_000 }));
    await provider.prefetch();
    await h.tick(80_000); // refreshAfter at 80 s
    await h.tick(80_000);
    expect(h.calls).toHaveLength(3);
    provider.setActive(false);
    await h.tick(300_000);
    expect(h.calls).toHaveLength(3);
    expect(provider.peek()).toBeUndefined(); // expired meanwhile
    provider.setActive(true); // resuming past the refresh point refreshes at once
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls).toHaveLength(4);
    expect(provider.peek()).toBe("tok-4");
  });

  it("stops the background refresh on clear() and dispose()", async () => {
    const h = harness();
    h.script.push(h.ok(), h.ok());
    const provider = createTokenProvider(h.options());
    await provider.prefetch();
    provider.clear();
    await h.tick(600_000);
    expect(h.calls).toHaveLength(1);
    await provider.prefetch();
    provider.dispose();
    await h.tick(600_000);
    expect(h.calls).toHaveLength(2);
    await expect(provider.getToken()).rejects.toMatchObject({ code: "aborted" });
    expect(provider.peek()).toBeUndefined();
  });

  it("stops refreshing on a final error (account_blocked) but retries a transient one", async () => {
    const h = harness();
    h.script.push(h.ok(), h.fail(503, "upstream_unavailable"), h.ok(), h.fail(403, "account_blocked"));
    const provider = createTokenProvider(h.options({ random: () => 0, maxAttempts: 1 }));
    await provider.prefetch();
    await h.tick(480_000); // background refresh: 503, retried 15 s later
    expect(h.calls).toHaveLength(2);
    await h.tick(15_000);
    expect(h.calls).toHaveLength(3);
    expect(provider.peek()).toBe("tok-3");
    await h.tick(480_000); // next refresh: 403, final
    expect(h.calls).toHaveLength(4);
    await h.tick(3_600_000);
    expect(h.calls).toHaveLength(4);
  });

  it("stops on invalid_session after the one re-authentication", async () => {
    const h = harness();
    h.script.push(h.ok(), h.fail(401, "invalid_session"), h.fail(401, "invalid_session"));
    const provider = createTokenProvider(h.options({ random: () => 0 }));
    await provider.prefetch();
    await h.tick(480_000);
    expect(h.calls).toHaveLength(3);
    expect(h.sessions).toEqual([false, false, true]);
    await h.tick(3_600_000);
    expect(h.calls).toHaveLength(3);
    expect(h.sleeps).toEqual([]);
  });

  it("peek() returns the valid token without waiting, or nothing; never one inside the safety margin", async () => {
    const h = harness(1_800_000_000_000, 10 * 60_000); // device clock 10 minutes behind
    h.script.push(h.ok(60), h.ok(60));
    const provider = createTokenProvider(h.options({ refreshMargin: 20_000, backgroundRefresh: false }));
    expect(provider.peek()).toBeUndefined();
    await provider.prefetch();
    expect(provider.peek()).toBe("tok-1");
    expect(provider.peek("acc1")).toBe("tok-1");
    expect(provider.peek("other")).toBeUndefined();
    h.advance(39_999); // expiresAt − margin is at 40 s in the Worker's clock
    expect(provider.peek()).toBe("tok-1");
    h.advance(1);
    expect(provider.peek()).toBeUndefined();
    expect(h.calls).toHaveLength(1);
  });

  it("peek() past refreshAfter still answers and starts one background refresh", async () => {
    const h = harness();
    h.script.push(h.ok(600), h.ok(600));
    const provider = createTokenProvider(h.options({ backgroundRefresh: false }));
    await provider.prefetch();
    h.advance(500_000); // past refreshAfter (480 s), well before expiry
    expect(provider.peek()).toBe("tok-1");
    expect(provider.peek()).toBe("tok-1");
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls).toHaveLength(2);
    expect(provider.peek()).toBe("tok-2");
  });

  it("prefetch() does not refetch a fresh token", async () => {
    const h = harness();
    h.script.push(h.ok());
    const provider = createTokenProvider(h.options());
    await provider.prefetch();
    await provider.prefetch();
    expect(h.calls).toHaveLength(1);
  });
});

describe("getRtcToken", () => {
  it("fetches per channel from /v1/rtc/token, caches each, and shares one request per channel", async () => {
    const h = harness();
    h.script.push(h.rtc(), h.rtc());
    const provider = createTokenProvider(h.options({ rtcTtl: 1800 }));
    const [a, b] = await Promise.all([provider.getRtcToken("room 1"), provider.getRtcToken("room 1")]);
    expect(a).toEqual({ uid: 4242, channelName: "room 1", token: "rtc-1", appKey: "key" });
    expect(b).toEqual(a);
    expect(await provider.getRtcToken("room-2")).toMatchObject({ channelName: "room-2", token: "rtc-2" });
    expect(await provider.getRtcToken("room 1")).toMatchObject({ token: "rtc-1" });
    expect(h.calls.map((c) => [c.url, c.body])).toEqual([
      ["https://tokens.example/v1/rtc/token", { channelName: "room 1", ttl: 1800 }],
      ["https://tokens.example/v1/rtc/token", { channelName: "room-2", ttl: 1800 }],
    ]);
  });

  it("refreshes a channel's token in the background, and forgets every channel on clear()", async () => {
    const h = harness();
    h.script.push(h.rtc(100), h.rtc(100), h.rtc(100));
    const provider = createTokenProvider(h.options({ random: () => 0, refreshMargin: 10_000 }));
    await provider.getRtcToken("room");
    await h.tick(80_000); // refreshAfter of a 100 s token
    expect(h.calls).toHaveLength(2);
    expect(await provider.getRtcToken("room")).toMatchObject({ token: "rtc-2" });
    provider.clear();
    await h.tick(200_000);
    expect(h.calls).toHaveLength(2); // nothing refreshed after sign-out
    expect(await provider.getRtcToken("room")).toMatchObject({ token: "rtc-3" });
  });

  it("keeps the 8 most recently used channels", async () => {
    const h = harness();
    for (let i = 0; i < 10; i++) h.script.push(h.rtc());
    const provider = createTokenProvider(h.options({ rtcEndpoint: "https://rtc.example/token" }));
    for (let i = 0; i < 9; i++) await provider.getRtcToken(`c${i}`);
    expect(h.calls).toHaveLength(9);
    await provider.getRtcToken("c8"); // kept
    expect(h.calls).toHaveLength(9);
    await provider.getRtcToken("c0"); // evicted: fetched again
    expect(h.calls).toHaveLength(10);
    expect(h.calls[0]!.url).toBe("https://rtc.example/token");
  });

  it("surfaces the Worker's errors for a channel (400 for a bad name) without retrying", async () => {
    const h = harness();
    h.script.push(h.fail(400, "invalid_request"));
    const provider = createTokenProvider(h.options());
    await expect(provider.getRtcToken("a/b")).rejects.toMatchObject({ code: "invalid_request", status: 400 });
    expect(h.sleeps).toEqual([]);
  });
});

describe("permission keys", () => {
  /** A NERTC Web client stand-in: records listeners and the keys it is given. */
  function fakeClient() {
    const listeners = new Set<() => void>();
    const updates: string[] = [];
    const client: PermKeyClient = {
      on: (_event, listener) => listeners.add(listener),
      off: (_event, listener) => listeners.delete(listener),
      updatePermKey: async (key) => {
        updates.push(key);
      },
    };
    const willExpire = async () => {
      for (const listener of listeners) listener();
      await vi.advanceTimersByTimeAsync(0);
    };
    return { client, listeners, updates, willExpire };
  }

  it("hands out the key with the token, and refreshes by the key when it lapses before the token", async () => {
    const h = harness(1_800_000_000_000);
    // A day-long token with a 30-minute key: the key decides when to refresh.
    h.script.push(h.rtcKeyed(86_399, 1800), h.rtcKeyed(86_399, 1800));
    const provider = createTokenProvider(h.options({ random: () => 0 }));
    expect(await provider.getRtcToken("live-1")).toEqual({
      uid: 4242,
      channelName: "live-1",
      token: "rtc-1",
      appKey: "key",
      permKey: "key-1",
      privilege: 44,
      permKeyExpiresAt: 1_800_000_000_000 + 1_800_000,
    });
    await h.tick(1_440_000 - 1); // just before 80 % of the key's life
    expect(h.calls).toHaveLength(1);
    await h.tick(1);
    expect(h.calls).toHaveLength(2);
    expect(await provider.getRtcToken("live-1")).toMatchObject({ permKey: "key-2" });
  });

  it("never hands out a key within the safety margin of its expiry, even with background refresh off", async () => {
    const h = harness();
    h.script.push(h.rtcKeyed(86_399, 120), h.rtcKeyed(86_399, 120));
    const provider = createTokenProvider(h.options({ backgroundRefresh: false, refreshMargin: 30_000 }));
    expect(await provider.getRtcToken("live-1")).toMatchObject({ permKey: "key-1" });
    h.advance(90_000); // the key has 30 s left, the token nearly a day
    expect(await provider.getRtcToken("live-1")).toMatchObject({ permKey: "key-2" });
  });

  it("answers NERTC's permkey-will-expire with a freshly fetched key, until stopped", async () => {
    const h = harness();
    h.script.push(h.rtcKeyed(600, 3600), h.rtcKeyed(600, 3600), h.rtcKeyed(600, 3600));
    const provider = createTokenProvider(h.options({ backgroundRefresh: false }));
    const { permKey } = await provider.getRtcToken("live-1");
    const nertc = fakeClient();
    const stop = keepPermKeyFresh(nertc.client, provider, "live-1");
    // The held key is still fresh by the provider's clock; NERTC's own timer says it lapses soon, so
    // the helper fetches a new one rather than hand back the key in use.
    await nertc.willExpire();
    expect(h.calls).toHaveLength(2);
    expect(nertc.updates).toEqual(["key-2"]);
    expect(nertc.updates).not.toContain(permKey);
    await nertc.willExpire();
    expect(nertc.updates).toEqual(["key-2", "key-3"]);
    stop();
    expect(nertc.listeners.size).toBe(0);
  });

  it("reports a final refusal (the channel no longer granted) and gives NERTC nothing", async () => {
    const h = harness();
    h.script.push(h.rtcKeyed(), h.fail(403, "channel_refused"));
    const provider = createTokenProvider(h.options({ backgroundRefresh: false }));
    await provider.getRtcToken("live-1");
    const nertc = fakeClient();
    const errors: unknown[] = [];
    keepPermKeyFresh(nertc.client, provider, "live-1", { onError: (error) => errors.push(error) });
    await nertc.willExpire();
    expect(nertc.updates).toEqual([]);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(TokenProviderError);
    expect(errors[0]).toMatchObject({ code: "channel_refused", status: 403, final: true });
    expect(h.sleeps).toEqual([]); // not retried
  });

  it("drops a key that arrives after the app left the channel", async () => {
    const h = harness();
    const slow = h.held(h.rtcKeyed());
    h.script.push(h.rtcKeyed(), slow.answer);
    const provider = createTokenProvider(h.options({ backgroundRefresh: false }));
    await provider.getRtcToken("live-1");
    const nertc = fakeClient();
    const stop = keepPermKeyFresh(nertc.client, provider, "live-1");
    await nertc.willExpire();
    stop();
    slow.release();
    await vi.advanceTimersByTimeAsync(0);
    expect(h.calls).toHaveLength(2);
    expect(nertc.updates).toEqual([]);
  });

  it("refuses an answer whose key comes without its privilege and expiry", async () => {
    const h = harness();
    h.script.push(async () => {
      const body = await h.rtc()().json();
      return Response.json({ ...body, permKey: "key" });
    });
    const provider = createTokenProvider(h.options({ maxAttempts: 1 }));
    await expect(provider.getRtcToken("live-1")).rejects.toMatchObject({ code: "invalid_response" });
  });
});

describe("app: one of a deployment's several NetEase apps", () => {
  const revoked = () => Response.json({ revokedBefore: 1_800_000_000_123 });

  it("sends token, RTC token and sign-out-everywhere to /v1/apps/{app}/…", async () => {
    const h = harness();
    h.script.push(h.ok(), h.rtc(), revoked);
    const provider = createTokenProvider(h.options({ app: "sg" }));
    await provider.getToken();
    await provider.getRtcToken("room");
    await provider.signOutEverywhere();
    expect(h.calls.map((c) => c.url)).toEqual([
      "https://tokens.example/v1/apps/sg/token",
      "https://tokens.example/v1/apps/sg/rtc/token",
      "https://tokens.example/v1/apps/sg/sessions/revoke",
    ]);
  });

  it("derives the same from an endpoint that names the app already, or ends in a slash", async () => {
    for (const [endpoint, app] of [
      ["https://tokens.example/v1/apps/sg/token", undefined],
      ["https://tokens.example/v1/apps/sg/token", "sg"],
      ["https://tokens.example/v1/token/", "sg"],
    ] as const) {
      const h = harness();
      h.script.push(h.ok(), h.rtc(), revoked);
      const provider = createTokenProvider(h.options({ endpoint, ...(app ? { app } : {}) }));
      await provider.getToken();
      await provider.getRtcToken("room");
      await provider.signOutEverywhere();
      const paths = h.calls.map((c) => c.url.replace("https://tokens.example", ""));
      expect(paths, endpoint).toEqual(["/v1/apps/sg/token", "/v1/apps/sg/rtc/token", "/v1/apps/sg/sessions/revoke"]);
    }
  });

  it("still lets an explicit rtcEndpoint and revokeEndpoint win", async () => {
    const h = harness();
    h.script.push(h.ok(), h.rtc(), revoked);
    const provider = createTokenProvider(
      h.options({ app: "sg", rtcEndpoint: "https://rtc.example/token", revokeEndpoint: "https://out.example/all" }),
    );
    await provider.getToken();
    await provider.getRtcToken("room");
    await provider.signOutEverywhere();
    expect(h.calls.map((c) => c.url)).toEqual([
      "https://tokens.example/v1/apps/sg/token",
      "https://rtc.example/token",
      "https://out.example/all",
    ]);
  });

  it("throws invalid_options at construction for a malformed name, or an endpoint it cannot derive from", () => {
    const h = harness();
    const cases: Partial<TokenProviderOptions>[] = [
      { app: "" },
      { app: "SG" },
      { app: "s_g" },
      { app: "sg/../cn" },
      { app: "a".repeat(33) },
      { app: "sg", endpoint: "https://tokens.example/im-token" },
      { app: "sg", endpoint: "https://tokens.example/v1/apps/cn/token" },
    ];
    for (const extra of cases) {
      const error = (() => {
        try {
          createTokenProvider(h.options(extra));
        } catch (thrown) {
          return thrown;
        }
      })();
      expect(error, JSON.stringify(extra)).toBeInstanceOf(TokenProviderError);
      expect(error, JSON.stringify(extra)).toMatchObject({ code: "invalid_options", status: undefined });
    }
    expect(() => createTokenProvider(h.options({ app: "a".repeat(32) }))).not.toThrow();
    expect(() => createTokenProvider(h.options({ app: "sg-2" }))).not.toThrow();
    expect(h.calls).toEqual([]);
  });

  it("does not retry 404 unknown_app or 403 app_not_allowed, and stops the background refresh on them", async () => {
    for (const [status, code] of [
      [404, "unknown_app"],
      [403, "app_not_allowed"],
    ] as const) {
      const h = harness();
      h.script.push(h.fail(status, code), h.ok(), h.fail(status, code));
      const provider = createTokenProvider(h.options({ app: "nowhere", random: () => 0 }));
      const error = await provider.getToken().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenProviderError);
      expect(error).toMatchObject({ code, status, final: true });
      expect(h.calls).toHaveLength(1);
      expect(h.sessions).toEqual([false]);
      expect(h.sleeps).toEqual([]);
      // Held a token, then the app went away (or the grant did): the background refresh stops.
      expect(await provider.getToken()).toBe("tok-2");
      await h.tick(480_000);
      expect(h.calls).toHaveLength(3);
      await h.tick(3_600_000);
      expect(h.calls).toHaveLength(3);
    }
  });
});

describe("getChatroomAddresses", () => {
  const ROOM = "123456789";

  it("posts the room (and client type) with the session to /v1/chatroom/address, and answers its addresses", async () => {
    const h = harness();
    h.script.push(h.room(), h.room(["commonlink.example:8080"]));
    const provider = createTokenProvider(h.options());
    expect(await provider.getChatroomAddresses(ROOM)).toEqual({
      roomId: ROOM,
      accid: "acc1",
      addresses: ["weblink-1.example:443", "weblink-2.example:443"],
    });
    expect(await provider.getChatroomAddresses(ROOM, 2)).toMatchObject({ addresses: ["commonlink.example:8080"] });
    expect(h.calls).toEqual([
      { url: "https://tokens.example/v1/chatroom/address", authorization: "Bearer session-1", body: { roomId: ROOM } },
      {
        url: "https://tokens.example/v1/chatroom/address",
        authorization: "Bearer session-1",
        body: { roomId: ROOM, clientType: 2 },
      },
    ]);
  });

  it("derives /v1/apps/{app}/chatroom/address for a named app, and lets chatroomEndpoint win", async () => {
    for (const [extra, url] of [
      [{ app: "sg" }, "https://tokens.example/v1/apps/sg/chatroom/address"],
      [{ endpoint: "https://tokens.example/v1/apps/sg/token" }, "https://tokens.example/v1/apps/sg/chatroom/address"],
      [{ app: "sg", chatroomEndpoint: "https://rooms.example/addr" }, "https://rooms.example/addr"],
      [{ chatroomEndpoint: "https://rooms.example/addr" }, "https://rooms.example/addr"],
    ] as const) {
      const h = harness();
      h.script.push(h.room());
      const provider = createTokenProvider(h.options(extra));
      await provider.getChatroomAddresses(ROOM);
      expect(
        h.calls.map((c) => c.url),
        JSON.stringify(extra),
      ).toEqual([url]);
    }
  });

  it("shares one request per room and client type among concurrent callers, and keeps no answer", async () => {
    const h = harness();
    const slow = h.held(h.room());
    h.script.push(slow.answer, h.room(["other.example:443"]), h.room(["native.example:8080"]), h.room());
    const provider = createTokenProvider(h.options());
    const same = [provider.getChatroomAddresses(ROOM), provider.getChatroomAddresses(ROOM)];
    const otherRoom = provider.getChatroomAddresses("42");
    const otherType = provider.getChatroomAddresses(ROOM, 2);
    await vi.advanceTimersByTimeAsync(0);
    slow.release();
    const [a, b] = await Promise.all(same);
    expect(b).toEqual(a);
    expect(await otherRoom).toMatchObject({ roomId: "42", addresses: ["other.example:443"] });
    expect(await otherType).toMatchObject({ addresses: ["native.example:8080"] });
    expect(h.calls.map((c) => c.body)).toEqual([{ roomId: ROOM }, { roomId: "42" }, { roomId: ROOM, clientType: 2 }]);
    // The SDK asks again only when the addresses it holds failed: a later call fetches anew.
    await provider.getChatroomAddresses(ROOM);
    expect(h.calls).toHaveLength(4);
  });

  it("retries network errors, 5xx and 429, honouring Retry-After", async () => {
    const h = harness();
    let attempt = 0;
    const provider = createTokenProvider(
      h.options({
        fetch: async (input, init) => {
          attempt++;
          if (attempt === 1) throw new TypeError("fetch failed");
          return h.options().fetch!(input, init);
        },
      }),
    );
    h.script.push(h.fail(503, "upstream_unavailable", { "Retry-After": "5" }), h.fail(429, "rate_limited"), h.room());
    expect(await provider.getChatroomAddresses(ROOM)).toMatchObject({ roomId: ROOM });
    expect(h.sleeps).toEqual([500, 5000, 2000]);
  });

  it("asks for a fresh session once after a 401", async () => {
    const h = harness();
    h.script.push(h.fail(401, "invalid_session"), h.room());
    const provider = createTokenProvider(h.options());
    expect(await provider.getChatroomAddresses(ROOM)).toMatchObject({ accid: "acc1" });
    expect(h.sessions).toEqual([false, true]);
    expect(h.calls.map((c) => c.authorization)).toEqual(["Bearer session-1", "Bearer session-2"]);
  });

  it("does not retry chatroom_refused (403) or chatroom_unavailable (404): both are final", async () => {
    for (const [status, code] of [
      [403, "chatroom_refused"],
      [404, "chatroom_unavailable"],
    ] as const) {
      const h = harness();
      h.script.push(h.fail(status, code));
      const provider = createTokenProvider(h.options());
      const error = await provider.getChatroomAddresses(ROOM).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TokenProviderError);
      expect(error).toMatchObject({ code, status, final: true });
      expect(h.calls).toHaveLength(1);
      expect(h.sleeps).toEqual([]);
    }
  });

  it("refuses an answer for another room, an anonymous one, or one without addresses", async () => {
    for (const answer of [
      { roomId: "42", accid: "acc1", addresses: ["a.example:443"], anonymous: false },
      { roomId: ROOM, accid: "nimanon_x", addresses: ["a.example:443"], anonymous: true },
      { roomId: ROOM, accid: "acc1", addresses: [], anonymous: false },
      { roomId: ROOM, accid: "acc1", addresses: [""], anonymous: false },
    ]) {
      const h = harness();
      h.script.push(() => Response.json(answer));
      const provider = createTokenProvider(h.options({ maxAttempts: 1 }));
      const error = await provider.getChatroomAddresses(ROOM).catch((e: unknown) => e);
      expect(error, JSON.stringify(answer)).toMatchObject({ code: "invalid_response" });
    }
  });
});

describe("chatroom addresses across sign-out", () => {
  const ROOM = "123456789";

  it("clear during flight: A's waiting callers are rejected with cleared, A's answer is discarded", async () => {
    const h = harness();
    const a = h.held(h.room(["for-a.example:443"], "accA"));
    h.script.push(a.answer, h.room(["for-b.example:443"], "accB"));
    const provider = createTokenProvider(h.options());
    const forA = [provider.getChatroomAddresses(ROOM), provider.getChatroomAddresses(ROOM)].map((p) =>
      p.catch((e: unknown) => e),
    );
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    h.user.session = "session-B";
    // B asks at once, while A's request is still out: B's own request, not A's flight.
    const forB = provider.getChatroomAddresses(ROOM);
    a.release();
    for (const outcome of await Promise.all(forA)) expect(outcome).toMatchObject({ code: "cleared" });
    expect(await forB).toEqual({ roomId: ROOM, accid: "accB", addresses: ["for-b.example:443"] });
    expect(h.calls.map((c) => c.authorization)).toEqual(["Bearer session-1", "Bearer session-B"]);
  });

  it("aborts the request in flight at clear(), and a retry wait too", async () => {
    const h = harness();
    const signals: AbortSignal[] = [];
    const provider = createTokenProvider(
      h.options({
        fetch: (_input, init) => {
          const signal = init!.signal!;
          signals.push(signal);
          return new Promise<Response>((_resolve, reject) => {
            signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
          });
        },
      }),
    );
    const pending = provider.getChatroomAddresses(ROOM).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    expect(signals[0]!.aborted).toBe(true);
    expect(await pending).toMatchObject({ code: "cleared" });
    expect(signals).toHaveLength(1);
  });

  it("rejects with aborted after dispose()", async () => {
    const h = harness();
    const provider = createTokenProvider(h.options());
    provider.dispose();
    await expect(provider.getChatroomAddresses(ROOM)).rejects.toMatchObject({ code: "aborted" });
    expect(h.calls).toEqual([]);
  });
});

describe("createChatroomProviders (Web SDK v10 chatroom hooks)", () => {
  const ROOM = "123456789";

  it("linkProvider answers its own room's addresses whichever order the SDK passes its arguments in", async () => {
    const h = harness();
    h.script.push(h.room(["a.example:443"]), h.room(["b.example:443"]));
    const provider = createTokenProvider(h.options());
    const { linkProvider } = createChatroomProviders(provider, { roomId: ROOM });
    // nim-web-sdk-ng 10.8.1 calls linkProvider(account, roomId), against its declared (roomId, accountId).
    expect(await linkProvider("acc1", ROOM)).toEqual(["a.example:443"]);
    expect(await linkProvider(ROOM, "acc1")).toEqual(["b.example:443"]);
    expect(h.calls.map((c) => c.body)).toEqual([{ roomId: ROOM }, { roomId: ROOM }]);
  });

  it("linkProvider refuses another room's call with room_mismatch, without asking the Worker", async () => {
    const h = harness();
    const provider = createTokenProvider(h.options());
    const { linkProvider } = createChatroomProviders(provider, { roomId: ROOM });
    const error = await linkProvider("acc1", "987654321").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenProviderError);
    expect(error).toMatchObject({ code: "room_mismatch" });
    expect(h.calls).toEqual([]);
  });

  it("linkProvider asks for the client type it was made with", async () => {
    const h = harness();
    h.script.push(h.room(["native.example:8080"]));
    const provider = createTokenProvider(h.options());
    const { linkProvider } = createChatroomProviders(provider, { roomId: ROOM, clientType: 2 });
    expect(await linkProvider("acc1", ROOM)).toEqual(["native.example:8080"]);
    expect(h.calls[0]!.body).toEqual({ roomId: ROOM, clientType: 2 });
  });

  it("tokenProvider answers the IM token (a Promise, from memory when held) for the session's account only", async () => {
    const h = harness();
    h.script.push(h.ok(600, "acc1"));
    const provider = createTokenProvider(h.options());
    const { tokenProvider } = createChatroomProviders(provider, { roomId: ROOM });
    const answer = tokenProvider("appkey", ROOM, "acc1");
    expect(answer).toBeInstanceOf(Promise);
    expect(await answer).toBe("tok-1");
    expect(await tokenProvider("appkey", ROOM, "acc1")).toBe("tok-1");
    expect(h.calls.map((c) => c.url)).toEqual(["https://tokens.example/v1/token"]);
    await expect(tokenProvider("appkey", ROOM, "someone-else")).rejects.toMatchObject({ code: "account_mismatch" });
  });

  it("rejects in the hooks after clear(), rather than answer with the earlier session's", async () => {
    const h = harness();
    const a = h.held(h.room(["for-a.example:443"], "accA"));
    h.script.push(a.answer);
    const provider = createTokenProvider(h.options());
    const { linkProvider } = createChatroomProviders(provider, { roomId: ROOM });
    const forA = linkProvider("accA", ROOM).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    provider.clear();
    a.release();
    expect(await forA).toMatchObject({ code: "cleared" });
  });

  it("throws invalid_options at once for a room id that is not NetEase's, or an unknown client type", () => {
    const h = harness();
    const provider = createTokenProvider(h.options());
    for (const options of [
      { roomId: "" },
      { roomId: "0123" },
      { roomId: "12a" },
      { roomId: " 123" },
      { roomId: "1".repeat(20) },
      { roomId: 123 as unknown as string },
      { roomId: ROOM, clientType: 4 as 1 },
    ]) {
      expect(() => createChatroomProviders(provider, options), JSON.stringify(options)).toThrow(
        expect.objectContaining({ name: "TokenProviderError", code: "invalid_options" }),
      );
    }
    expect(() => createChatroomProviders(provider, { roomId: "9".repeat(19), clientType: 3 })).not.toThrow();
    expect(h.calls).toEqual([]);
  });
});

describe("getAnonymousChatroomAddresses", () => {
  const ROOM = "123456789";
  /** The harness's fetch, sleep and random, without its session. */
  const anonymous = (h: ReturnType<typeof harness>) => {
    const { fetch, sleep, random } = h.options();
    return { endpoint: "https://tokens.example/v1/token", roomId: ROOM, fetch: fetch!, sleep: sleep!, random: random! };
  };

  it("asks without a session and answers the visitor's nimanon_ accid and the addresses", async () => {
    const h = harness();
    h.script.push(h.room(["a.example:443"], "nimanon_7f3a", true), h.room(["w.example:443"], "nimanon_8b", true));
    expect(await getAnonymousChatroomAddresses(anonymous(h))).toEqual({
      roomId: ROOM,
      accid: "nimanon_7f3a",
      addresses: ["a.example:443"],
    });
    await getAnonymousChatroomAddresses({ ...anonymous(h), app: "sg", clientType: 3 });
    expect(h.calls).toEqual([
      { url: "https://tokens.example/v1/chatroom/address", authorization: null, body: { roomId: ROOM } },
      {
        url: "https://tokens.example/v1/apps/sg/chatroom/address",
        authorization: null,
        body: { roomId: ROOM, clientType: 3 },
      },
    ]);
    expect(h.sessions).toEqual([]);
  });

  it("takes missing_session (the room admits no anonymous visitors) as final: no retry, no session asked", async () => {
    const h = harness();
    h.script.push(h.fail(401, "missing_session"));
    const error = await getAnonymousChatroomAddresses(anonymous(h)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TokenProviderError);
    expect(error).toMatchObject({ code: "missing_session", status: 401, final: true });
    expect(h.calls).toHaveLength(1);
    expect(h.sleeps).toEqual([]);
  });

  it("retries 503 and 429 with Retry-After, but not chatroom_unavailable", async () => {
    const h = harness();
    h.script.push(
      h.fail(503, "upstream_unavailable", { "Retry-After": "3" }),
      h.fail(429, "rate_limited", { "Retry-After": "2" }),
      h.room(["a.example:443"], "nimanon_1", true),
      h.fail(404, "chatroom_unavailable"),
    );
    expect(await getAnonymousChatroomAddresses(anonymous(h))).toMatchObject({ accid: "nimanon_1" });
    expect(h.sleeps).toEqual([3000, 2000]);
    await expect(getAnonymousChatroomAddresses(anonymous(h))).rejects.toMatchObject({
      code: "chatroom_unavailable",
      final: true,
    });
    expect(h.calls).toHaveLength(4);
  });

  it("refuses a signed-in answer (anonymous: false) it did not ask for", async () => {
    const h = harness();
    h.script.push(h.room(["a.example:443"], "acc1", false));
    await expect(getAnonymousChatroomAddresses({ ...anonymous(h), maxAttempts: 1 })).rejects.toMatchObject({
      code: "invalid_response",
    });
  });

  it("aborts the request in flight when its signal aborts", async () => {
    const h = harness();
    const controller = new AbortController();
    const signals: AbortSignal[] = [];
    const pending = getAnonymousChatroomAddresses({
      ...anonymous(h),
      signal: controller.signal,
      fetch: (_input, init) => {
        const signal = init!.signal!;
        signals.push(signal);
        return new Promise<Response>((_resolve, reject) => {
          signal.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError")));
        });
      },
    }).catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(0);
    expect(signals[0]!.aborted).toBe(false);
    controller.abort();
    expect(signals[0]!.aborted).toBe(true);
    expect(await pending).toMatchObject({ code: "aborted" });
  });

  it("stops with aborted when its signal aborts, and refuses options createTokenProvider refuses", async () => {
    const h = harness();
    const controller = new AbortController();
    h.script.push(h.fail(503, "upstream_unavailable"));
    const stopped = getAnonymousChatroomAddresses({
      ...anonymous(h),
      signal: controller.signal,
      sleep: async () => controller.abort(),
    });
    await expect(stopped).rejects.toMatchObject({ code: "aborted" });
    expect(h.calls).toHaveLength(1);
    await expect(getAnonymousChatroomAddresses({ ...anonymous(h), app: "S G" })).rejects.toMatchObject({
      code: "invalid_options",
    });
  });
});
