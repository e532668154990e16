/**
 * Where this Worker is the authority it must say no: the login callback, the session check, the
 * answers replayed to a repeated X-Request-Id, and a rotation's rollback. Each case here tries to
 * fool it the way an outside review did (issue 18); tokens and callbacks are made with the
 * independent signer in netease-signing.ts, not with the code under test.
 */

import { afterEach, describe, expect, it, vi } from "vitest";
import { ConfigError, type ConfigProblem, parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
import { LOGIN_REJECT } from "../../src/nim/login-policy.ts";
import { ALL_PARSERS } from "../setting-parsers.ts";
import {
  adminCall,
  call,
  emulatedAccount,
  env,
  esJwt,
  expectedAccid,
  hsJwt,
  injectFault,
  issue,
  issueRtc,
  jwksSettings,
  ownRuntime,
  registerAtNetEase,
  seg,
  stockAccid,
  TEST_IDP,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";
import { callbackHeaders, dynamicToken, resplit, tokenFields } from "./netease-signing.ts";

const credentials = () => ({ appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! });

/** Sends `event` to the login callback, signed as NetEase signs it, and returns the decision. */
async function decide(
  event: unknown,
  overrides: Record<string, unknown> = {},
  appSecret = env.NIM_APP_SECRET!,
): Promise<{ errCode: number; responseCode?: number }> {
  const body = JSON.stringify(event);
  const headers = callbackHeaders(body, { appKey: env.NIM_APP_KEY!, appSecret });
  const response = await call("/v1/nim/login-callback", { method: "POST", headers, body }, overrides);
  expect(response.status).toBe(200);
  return response.json();
}

const login = (accid: string, token: string | undefined, eventType: number | string = 36) => ({
  eventType,
  fromAccount: accid,
  authType: 2,
  fromClientType: "WEB",
  ...(token === undefined ? {} : { token }),
});

/** The problems parseConfig finds in `settings` at `now` (none: []). */
function configProblems(settings: Env, now: number): readonly ConfigProblem[] {
  try {
    parseConfig(settings, ALL_PARSERS, now);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
}

const allow = { errCode: 0 };
const badToken = { errCode: 1, responseCode: LOGIN_REJECT.badToken };
const expiredToken = { errCode: 1, responseCode: LOGIN_REJECT.expiredToken };

afterEach(() => {
  vi.useRealTimers();
});

describe("login callback: a token must fit the issuing policy", () => {
  it("refuses a real token re-split into a millennia-long one, before and after the real one expires", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    const { curTime, ttl } = tokenFields(token);
    expect(await decide(login(accid, token))).toEqual(allow);
    // {"curTime":1795973689779,"ttl":60} → {"curTime":1,"ttl":79597368977960}: the same signature.
    const forged = resplit(token, 1);
    expect(tokenFields(forged)).toMatchObject({ curTime: 1 });
    expect(tokenFields(forged).signature).toBe(tokenFields(token).signature);
    expect(await decide(login(accid, forged))).toEqual(badToken);
    // Every other split of the digits is refused too.
    const digits = `${curTime}${ttl}`.length;
    for (let split = 1; split < digits; split++) {
      if (split === String(curTime).length) continue;
      const answer = await decide(login(accid, resplit(token, split)));
      expect(answer.errCode, `split at ${split}`).toBe(1);
    }
    // After the real token's lifetime, the forgery still gets nothing.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(curTime + ttl * 1000 + 1000);
    expect(await decide(login(accid, token))).toEqual(expiredToken);
    expect(await decide(login(accid, forged))).toEqual(badToken);
  });

  it("refuses a token signed with the real secret but a ttl outside TOKEN_TTL_MIN..TOKEN_TTL_MAX", async () => {
    const { accid } = await tokenFor(uniqueUid());
    const signed = (ttl: number, curTime = Date.now()) => dynamicToken({ ...credentials(), accid, curTime, ttl });
    expect(await decide(login(accid, signed(365 * 86_400)))).toEqual(badToken); // a year
    expect(await decide(login(accid, signed(3601)))).toEqual(badToken); // TOKEN_TTL_MAX + 1
    expect(await decide(login(accid, signed(59)))).toEqual(badToken); // TOKEN_TTL_MIN - 1
    expect(await decide(login(accid, signed(3600)))).toEqual(allow);
    expect(await decide(login(accid, signed(60)))).toEqual(allow);
    // The ttl bound follows the configuration.
    expect(await decide(login(accid, signed(3600)), { TOKEN_TTL_MAX: "1800", TOKEN_TTL_DEFAULT: "600" })).toEqual(
      badToken,
    );
  });

  it("refuses a curTime in the future beyond the skew, and one older than the longest ttl", async () => {
    const { accid } = await tokenFor(uniqueUid());
    const signed = (curTime: number, ttl = 600) => dynamicToken({ ...credentials(), accid, curTime, ttl });
    expect(await decide(login(accid, signed(Date.now() + 55_000)))).toEqual(allow); // within the 60 s skew
    expect(await decide(login(accid, signed(Date.now() + 120_000)))).toEqual(expiredToken);
    expect(await decide(login(accid, signed(Date.now() - 3_500_000, 3600)))).toEqual(allow);
    expect(await decide(login(accid, signed(Date.now() - 3_700_000, 3600)))).toEqual(expiredToken);
  });
});

describe("login callback: every login event needs proof", () => {
  it("treats QChat logins (eventType 40) as logins: no token, no login", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    for (const eventType of [40, "40"]) {
      expect(await decide(login(accid, undefined, eventType))).toEqual({
        errCode: 1,
        responseCode: LOGIN_REJECT.noToken,
      });
      expect(await decide(login(accid, "garbage", eventType))).toEqual(badToken);
      expect(await decide(login(accid, token, eventType))).toEqual(allow);
    }
  });

  it("refuses a body without a usable eventType, and still lets other event types pass", async () => {
    const { accid, token } = await tokenFor(uniqueUid());
    const malformed = { errCode: 1, responseCode: LOGIN_REJECT.malformedEvent };
    const { eventType: _omit, ...noEventType } = login(accid, undefined);
    expect(await decide(noEventType)).toEqual(malformed);
    for (const eventType of [null, "", "36x", { type: 36 }, [36], 36.5]) {
      expect(await decide({ ...noEventType, eventType }), JSON.stringify(eventType)).toEqual(malformed);
    }
    // One URL receives every enabled callback: a message or team event is not ours to veto.
    expect(await decide({ eventType: 1, fromAccount: accid, body: "hi" })).toEqual(allow);
    expect(await decide({ eventType: "37", fromAccount: accid })).toEqual(allow);
    expect(await decide(login(accid, token, "36"))).toEqual(allow);
  });
});

describe("login callback: a bad token tells nothing about the account", () => {
  it("answers a garbage or foreign token the same for an active, blocked, rotated-away and unknown accid", async () => {
    const active = await tokenFor(uniqueUid());
    const blockedUid = uniqueUid();
    const blocked = await tokenFor(blockedUid);
    expect((await adminCall("POST", `/accounts/${seg(blockedUid)}/block`)).status).toBe(200);
    const rotatedUid = uniqueUid();
    const rotated = await tokenFor(rotatedUid);
    expect((await adminCall("POST", `/accounts/${seg(rotatedUid)}/rotate`)).status).toBe(200);
    const accids = [active.accid, blocked.accid, rotated.accid, "nobody_knows_me_1"];
    for (const token of [
      "garbage",
      dynamicToken({ ...credentials(), accid: "someone_else", curTime: Date.now(), ttl: 600 }),
    ]) {
      const answers = [];
      for (const accid of accids) answers.push(await decide(login(accid, token)));
      expect(answers).toEqual(accids.map(() => badToken));
    }
    // With a valid token, the account's state decides (as before).
    const valid = (accid: string) => dynamicToken({ ...credentials(), accid, curTime: Date.now(), ttl: 600 });
    expect(await decide(login(blocked.accid, valid(blocked.accid)))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.blocked,
    });
    expect(await decide(login("nobody_knows_me_1", valid("nobody_knows_me_1")))).toEqual({
      errCode: 1,
      responseCode: LOGIN_REJECT.unknownAccount,
    });
  });
});

describe("login callback: the previous app secret", () => {
  const old = "the-old-app-secret-0000";

  it("accepts it for callback signatures while set, but for tokens only until NIM_APP_SECRET_PREVIOUS_UNTIL", async () => {
    const { accid } = await tokenFor(uniqueUid());
    const oldToken = dynamicToken({ ...credentials(), appSecret: old, accid, curTime: Date.now(), ttl: 600 });
    const newToken = dynamicToken({ ...credentials(), accid, curTime: Date.now(), ttl: 600 });
    const set = { NIM_APP_SECRET_PREVIOUS: old };
    // A callback signed with the old secret is still NetEase's during the rotation…
    expect(await decide(login(accid, newToken), set, old)).toEqual(allow);
    // …but a token under the old secret, without a deadline, is not.
    expect(await decide(login(accid, oldToken), set, old)).toEqual(badToken);
    const until = new Date(Date.now() + 3_600_000).toISOString();
    const rotating = { ...set, NIM_APP_SECRET_PREVIOUS_UNTIL: until };
    expect(await decide(login(accid, oldToken), rotating)).toEqual(allow);
    // Past the deadline it is refused, the secret still set.
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 3_600_000 + 1000);
    const later = dynamicToken({ ...credentials(), appSecret: old, accid, curTime: Date.now(), ttl: 600 });
    expect(await decide(login(accid, later), rotating)).toEqual(badToken);
  });

  it("refuses a deadline more than a day ahead, without the previous secret, or not an ISO time", async () => {
    const now = Date.now();
    const tooFar = new Date(now + 25 * 3_600_000).toISOString();
    for (const [overrides, rule] of [
      [{ NIM_APP_SECRET_PREVIOUS: old, NIM_APP_SECRET_PREVIOUS_UNTIL: tooFar }, "at most 24 hours"],
      [{ NIM_APP_SECRET_PREVIOUS_UNTIL: new Date(now).toISOString() }, "only with NIM_APP_SECRET_PREVIOUS"],
      [{ NIM_APP_SECRET_PREVIOUS: old, NIM_APP_SECRET_PREVIOUS_UNTIL: "tomorrow" }, "ISO 8601"],
      [{ NIM_APP_SECRET_PREVIOUS: old, NIM_APP_SECRET_PREVIOUS_UNTIL: "2026-11-30T10:00:00" }, "ISO 8601"],
    ] as const) {
      const problems = configProblems({ ...env, ...overrides } as Env, now);
      expect(problems).toEqual([
        { name: "NIM_APP_SECRET_PREVIOUS_UNTIL", problem: "invalid", rule: expect.stringContaining(rule) },
      ]);
      const health = await call("/healthz", {}, overrides);
      expect(health.status).toBe(503);
      expect((await health.json<{ invalid: string[] }>()).invalid).toEqual(["NIM_APP_SECRET_PREVIOUS_UNTIL"]);
    }
    const inADay = new Date(now + 23 * 3_600_000).toISOString();
    expect(
      configProblems({ ...env, NIM_APP_SECRET_PREVIOUS: old, NIM_APP_SECRET_PREVIOUS_UNTIL: inADay } as Env, now),
    ).toEqual([]);
  });
});

describe("sessions from an identity provider's JWKS", () => {
  it("is misconfigured without both an issuer and an audience", async () => {
    const url = `${env.IDP_URL}/jwks.json`;
    for (const [overrides, missing] of [
      [{ SESSION_JWKS_URL: url }, ["SESSION_JWT_ISSUER", "SESSION_JWT_AUDIENCE"]],
      [{ SESSION_JWKS_URL: url, SESSION_JWT_ISSUER: TEST_IDP.issuer }, ["SESSION_JWT_AUDIENCE"]],
      [{ SESSION_JWKS_URL: url, SESSION_JWT_AUDIENCE: TEST_IDP.audience }, ["SESSION_JWT_ISSUER"]],
    ] as const) {
      const health = await call("/healthz", {}, overrides);
      expect(health.status).toBe(503);
      expect((await health.json<{ invalid: string[] }>()).invalid).toEqual(missing);
      expect((await issue(await esJwt(uniqueUid()), undefined, overrides)).status).toBe(500);
    }
  });

  it("refuses a token for another audience or issuer, and logs which claim failed", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    try {
      const settings = jwksSettings();
      expect((await issue(await esJwt(uniqueUid()), undefined, settings)).status).toBe(200);
      const otherApp = await issue(await esJwt(uniqueUid(), { audience: "some-other-app" }), undefined, settings);
      expect(otherApp.status).toBe(401);
      const evil = await issue(await esJwt(uniqueUid(), { issuer: "https://evil.example" }), undefined, settings);
      expect(evil.status).toBe(401);
      // The 401 is generic; the log says which rule failed and what was expected.
      expect(await otherApp.json()).toEqual({
        error: "invalid_session",
        message: "The session token is invalid or expired.",
      });
      expect(lines.join("\n")).toContain(`"detail":"jwks: aud mismatch: expected ${TEST_IDP.audience}"`);
      expect(lines.join("\n")).toContain(`"detail":"jwks: iss mismatch: expected ${TEST_IDP.issuer}"`);
    } finally {
      vi.restoreAllMocks();
    }
  });

  it("fetches a failing JWKS at most once per cool-down, however many requests and kids arrive", async () => {
    const path = `/jwks/${crypto.randomUUID()}.json`;
    await fetch(`${env.IDP_URL}/down${path}`, { method: "POST" });
    const settings = jwksSettings(path);
    const attempt = async () =>
      (await issue(await esJwt(uniqueUid(), { kid: crypto.randomUUID() }), undefined, settings)).status;
    // At once, then one after another: the failed fetch starts the cool-down like a good one.
    const answers = await Promise.all(Array.from({ length: 10 }, attempt));
    for (let i = 0; i < 10; i++) answers.push(await attempt());
    expect(new Set(answers)).toEqual(new Set([503]));
    const fetches = await (await fetch(`${env.IDP_URL}/fetches`)).json<Record<string, number>>();
    expect(fetches[path]).toBe(1);
  });

  it("makes concurrent first requests share one JWKS fetch and all succeed", async () => {
    const path = `/jwks/${crypto.randomUUID()}.json`;
    const settings = jwksSettings(path);
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => (await issue(await esJwt(uniqueUid()), undefined, settings)).status),
    );
    expect(answers).toEqual(answers.map(() => 200));
    const fetches = await (await fetch(`${env.IDP_URL}/fetches`)).json<Record<string, number>>();
    expect(fetches[path]).toBe(1);
  });

  it("with stale keys and a hanging provider, serves from the old keys and waits on one fetch at most", async () => {
    const path = `/jwks/${crypto.randomUUID()}.json`;
    const settings = jwksSettings(path);
    const uid = uniqueUid();
    expect((await issue(await esJwt(uid), undefined, settings)).status).toBe(200);
    await fetch(`${env.IDP_URL}/hang${path}`, { method: "POST" });
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 6 * 60_000); // the keys are past their 5-minute lifetime
    const answers = await Promise.all(
      Array.from({ length: 10 }, async () => (await issue(await esJwt(uid), undefined, settings)).status),
    );
    expect(answers).toEqual(answers.map(() => 200));
    const fetches = await (await fetch(`${env.IDP_URL}/fetches`)).json<Record<string, number>>();
    expect(fetches[path]).toBe(2); // the first fetch, and one refresh for all ten
  });
});

describe("replayed operator answers never feed the token path", () => {
  async function expectTokens(uid: string, status: number): Promise<void> {
    expect((await issue(await hsJwt(uid))).status).toBe(status);
    expect((await issueRtc(await hsJwt(uid), { channelName: "room-1" })).status).toBe(status);
  }

  it("a replayed unblock does not hand a blocked user tokens, and says it was replayed", async () => {
    const uid = uniqueUid("replay");
    await tokenFor(uid);
    const unblock = await adminCall("POST", `/accounts/${seg(uid)}/unblock`, undefined, { requestId: "unb-1" });
    expect(unblock.headers.get("Idempotent-Replayed")).toBeNull();
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(200);
    await expectTokens(uid, 403);
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(Date.now() + 61_000); // past the isolate cache's lifetime
    const replay = await adminCall("POST", `/accounts/${seg(uid)}/unblock`, undefined, { requestId: "unb-1" });
    expect(replay.status).toBe(200);
    expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
    expect(await replay.json()).toMatchObject({ status: "active" }); // the first answer, as it was
    expect(await (await adminCall("GET", `/accounts/${seg(uid)}`)).json()).toMatchObject({ status: "blocked" });
    await expectTokens(uid, 403);
  });

  it("a replayed block does not refuse an unblocked user, and the audit line says replayed", async () => {
    const lines: string[] = [];
    vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void lines.push(args.map(String).join(" ")));
    try {
      const uid = uniqueUid("replay");
      await tokenFor(uid);
      expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, undefined, { requestId: "blk-1" })).status).toBe(
        200,
      );
      expect((await adminCall("POST", `/accounts/${seg(uid)}/unblock`)).status).toBe(200);
      vi.useFakeTimers({ toFake: ["Date"] });
      vi.setSystemTime(Date.now() + 61_000);
      const replay = await adminCall("POST", `/accounts/${seg(uid)}/block`, undefined, { requestId: "blk-1" });
      expect(replay.headers.get("Idempotent-Replayed")).toBe("true");
      await expectTokens(uid, 200);
      const audit = lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .filter((line) => line.event === "admin_change" && line.uid === uid && line.what === "block");
      expect(audit.map((line) => line.outcome)).toEqual(["done", "replayed"]);
    } finally {
      vi.restoreAllMocks();
    }
  });
});

describe("replayed import rows never feed the token path either", () => {
  it("a replayed import does not hand a since-blocked user tokens", async () => {
    const uid = uniqueUid("replay-import");
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const rows = [{ uid, accid }];
    expect((await adminCall("POST", "/accounts/import", rows, { requestId: "imp-1" })).status).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(200);
    // Elsewhere, an isolate that has not cached the block (its own runtime, rather than a clock moved
    // past the cache's minute: the creation pacer runs in this isolate too, and a clock moved ahead
    // would leave its queue a minute ahead of every later test), and a KV replica that has not seen
    // the record yet: the import's bulk check finds the uid free, so the row reaches the uid's
    // object, which replays the first answer (bound, active). That isolate must not keep it.
    const elsewhere = ownRuntime();
    await env.ACCOUNTS!.delete(`uid:${uid}`);
    const replay = await adminCall("POST", "/accounts/import", rows, { requestId: "imp-1", overrides: elsewhere });
    expect((await replay.json<{ counts: { bound: number } }>()).counts.bound).toBe(1);
    expect((await issue(await hsJwt(uid), undefined, elsewhere)).status).toBe(403);
  });
});

describe("a failed rotation leaves the user able to log in", () => {
  it("unblocks the old accid when NetEase applied its block but the answer was lost", async () => {
    const uid = uniqueUid("rollback");
    const { accid } = await tokenFor(uid);
    const next = await expectedAccid(uid, 1);
    // Both attempts (primary, then backup) apply the block and time out.
    await injectFault(accid, "user/block.action", "applied_timeout", 2);
    const rotate = await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    expect(rotate.status).toBe(503);
    // The record still names the old accid as active, so NetEase must agree it is usable…
    const view = await (await adminCall("GET", `/accounts/${seg(uid)}`)).json();
    expect(view).toMatchObject({ accid, status: "active", generation: 1 });
    expect(await emulatedAccount(accid)).toMatchObject({ exists: true, blocked: false });
    // …and the registration nobody names is blocked.
    expect(await emulatedAccount(next)).toMatchObject({ exists: true, blocked: true });
    expect((await issue(await hsJwt(uid))).status).toBe(200);
  }, 30_000);
});

describe("uids . and ..", () => {
  it("are refused as session subs and import rows, as no admin path could reach them", async () => {
    for (const uid of [".", ".."]) {
      const response = await issue(await hsJwt(uid));
      expect(response.status, uid).toBe(401);
      expect((await response.json<{ message: string }>()).message).toContain('neither "." nor ".."');
    }
    const imported = await adminCall("POST", "/accounts/import", [
      { uid: ".", accid: "stock_dot_1" },
      { uid: "..", accid: "stock_dot_2" },
    ]);
    expect(imported.status).toBe(200);
    const { results } = await imported.json<{ results: { outcome: string; message: string }[] }>();
    expect(results.map((r) => r.outcome)).toEqual(["invalid", "invalid"]);
    // The URL forms an operator would try are normalised away by URL parsing: never a uid (`/accounts/.`
    // becomes the look-up by accid, which asks for its query: 400).
    for (const path of ["/accounts/.", "/accounts/..", "/accounts/%2E", "/accounts/%2E%2E", "/accounts/%2e%2e/block"]) {
      const answer = await call(`/admin/v1${path}`, { headers: { Authorization: `Bearer ${env.ADMIN_TOKEN}` } });
      expect([400, 404, 405], path).toContain(answer.status);
      expect(await answer.text(), path).not.toContain('"uid"');
    }
  });
});
