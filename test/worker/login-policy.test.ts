/**
 * nim/login-policy.ts on its own: the login callback's decision as a pure function, with tokens
 * signed by the test's own implementation of NetEase's scheme (netease-signing.ts).
 */

import { describe, expect, it } from "vitest";
import { DEFAULT_TTLS } from "../../src/core/constants.ts";
import { decideLogin, LOGIN_REJECT, type LoginAccount, type LoginPolicySettings } from "../../src/nim/login-policy.ts";
import { dynamicToken } from "./netease-signing.ts";

const NOW = 1_800_000_000_000;
const settings: LoginPolicySettings = {
  appKey: "policyappkey0123456789abcdef0123",
  appSecret: "policy-secret",
  previousAppSecret: "old-secret",
  previousAppSecretTokensUntil: NOW + 60_000,
  ttl: { min: DEFAULT_TTLS.min, max: DEFAULT_TTLS.imMax },
};
const accid = "policyaccid01";
const token = (overrides: Partial<{ curTime: number; ttl: number; appSecret: string; accid: string }> = {}) =>
  dynamicToken({
    appKey: settings.appKey,
    accid,
    curTime: NOW - 1_000,
    ttl: 600,
    appSecret: settings.appSecret,
    ...overrides,
  });
const event = (fields: Record<string, unknown>) =>
  JSON.stringify({ eventType: 36, fromAccount: accid, authType: 2, ...fields });
const active: LoginAccount = { accid, status: "active" };

/** The verdict, and how many times the account was looked up. */
async function verdict(body: string, account: LoginAccount | null = active, options = settings, now = NOW) {
  let lookups = 0;
  const result = await decideLogin(
    body,
    options,
    async () => {
      lookups++;
      return account;
    },
    now,
  );
  return { ...result, lookups };
}

describe("the login decision", () => {
  it("allows a valid token of an active account's current accid, naming the accid and event type", async () => {
    const allowed = await verdict(event({ token: token() }));
    expect(allowed).toEqual({ decision: { errCode: 0 }, reason: "allowed", accid, eventType: 36, lookups: 1 });
  });

  it("answers a bad token the same whatever the account's state, without looking the account up", async () => {
    const forged = event({ token: token({ appSecret: "not-the-secret" }) });
    const answers = await Promise.all(
      [active, { accid, status: "blocked" as const }, { accid: "other", status: "active" as const }, null].map(
        (account) => verdict(forged, account),
      ),
    );
    for (const answer of answers) {
      expect(answer).toMatchObject({ decision: { errCode: 1, responseCode: LOGIN_REJECT.badToken }, lookups: 0 });
    }
  });

  it("refuses blocked, rotated-away, unknown and signed-out accounts with their own codes", async () => {
    const body = event({ token: token() });
    expect((await verdict(body, { accid, status: "blocked" })).decision.responseCode).toBe(LOGIN_REJECT.blocked);
    expect((await verdict(body, { accid: "newaccid", status: "active" })).decision.responseCode).toBe(
      LOGIN_REJECT.superseded,
    );
    expect((await verdict(body, null)).decision.responseCode).toBe(LOGIN_REJECT.unknownAccount);
    const revoked = { accid, status: "active" as const, revokedBefore: NOW - 500 };
    expect((await verdict(body, revoked)).decision.responseCode).toBe(LOGIN_REJECT.revoked);
  });

  it("takes the previous secret only until its deadline", async () => {
    const old = event({ token: token({ appSecret: "old-secret" }) });
    expect((await verdict(old)).decision).toEqual({ errCode: 0 });
    const late = await verdict(old, active, settings, settings.previousAppSecretTokensUntil);
    expect(late.decision.responseCode).toBe(LOGIN_REJECT.badToken);
  });

  it("refuses tokens outside the issuing policy, static-token logins, and malformed events", async () => {
    // A ttl outside the policy is no token this service issued (a re-split of its digits, say).
    const tooLong = event({ token: token({ ttl: settings.ttl.max + 1 }) });
    expect((await verdict(tooLong)).decision.responseCode).toBe(LOGIN_REJECT.badToken);
    const old = event({ token: token({ curTime: NOW - settings.ttl.max * 1000 - 120_000 }) });
    expect((await verdict(old)).decision.responseCode).toBe(LOGIN_REJECT.expiredToken);
    expect((await verdict(event({ token: token(), authType: 0 }))).decision.responseCode).toBe(LOGIN_REJECT.badToken);
    expect((await verdict(event({ token: "" }))).decision.responseCode).toBe(LOGIN_REJECT.noToken);
    for (const body of [
      "[]",
      "not json",
      JSON.stringify({ fromAccount: accid }),
      event({ authType: 7, token: token() }),
    ]) {
      expect((await verdict(body)).decision.responseCode).toBe(LOGIN_REJECT.malformedEvent);
    }
  });

  it("lets every other callback through untouched: only logins are its to veto", async () => {
    expect(await verdict(JSON.stringify({ eventType: 1, fromAccount: accid }))).toMatchObject({
      decision: { errCode: 0 },
      reason: "not a login event",
      lookups: 0,
    });
  });
});
