/**
 * The sign-in time each issuer's tokens state (src/session/sign-in.ts) and the revocation rule
 * (src/accounts/revocation.ts): known answers, and the property that no refreshed token of a sign-in
 * made before a revocation ever passes it, whatever the provider's rule.
 */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { isRevoked } from "../../src/accounts/revocation.ts";
import { AUTH_TIME, AUTH_TIME_OR_IAT, signInTimeOf } from "../../src/session/sign-in.ts";

describe("signInTimeOf", () => {
  it.each([
    ["auth_time in seconds", AUTH_TIME, { auth_time: 1_800_000_000, iat: 1_800_000_500 }, 1_800_000_000_000],
    ["a time claim in ms", { kind: "claim", claim: "t", required: true }, { t: 1_800_000_000_250 }, 1_800_000_000_250],
    [
      "an ISO 8601 time",
      { kind: "claim", claim: "t", required: true },
      { t: "2027-01-15T08:00:00+08:00" },
      Date.parse("2027-01-15T00:00:00Z"),
    ],
    ["iat where auth_time may be absent", AUTH_TIME_OR_IAT, { iat: 1_800_000_500 }, 1_800_000_500_000],
    [
      "the earliest amr timestamp",
      { kind: "amr" },
      {
        amr: [
          { method: "totp", timestamp: 1_800_000_400 },
          { method: "password", timestamp: 1_800_000_000 },
        ],
      },
      1_800_000_000_000,
    ],
    ["iat less fva[0] + 1 minutes", { kind: "fva" }, { iat: 1_800_003_600, fva: [59, -1] }, 1_800_000_000_000],
  ] as const)("reads %s", (_name, rule, claims, at) => {
    expect(signInTimeOf(rule, claims)).toEqual({ at });
  });

  it.each([
    [AUTH_TIME, { iat: 1 }, "auth_time missing"],
    [AUTH_TIME, { auth_time: "yesterday" }, "auth_time is not a time"],
    [AUTH_TIME, { auth_time: -5 }, "auth_time is not a time"],
    [AUTH_TIME, { auth_time: Number.NaN }, "auth_time is not a time"],
    [AUTH_TIME, { auth_time: [1_800_000_000] }, "auth_time is not a time"],
    [AUTH_TIME_OR_IAT, { auth_time: null }, "auth_time is not a time"],
    [{ kind: "amr" }, { amr: ["pwd"] }, "amr has no timestamp"],
    [{ kind: "amr" }, { amr: "pwd" }, "amr has no timestamp"],
    [{ kind: "fva" }, { iat: 1, fva: [-1, -1] }, "fva missing (Clerk session token v2)"],
    [{ kind: "fva" }, { iat: 1, fva: [1.5, 0] }, "fva missing (Clerk session token v2)"],
    [{ kind: "fva" }, { fva: [3, -1] }, "iat missing"],
  ] as const)("refuses what breaks the rule: %j %j", (rule, claims, broken) => {
    expect(signInTimeOf(rule, claims)).toEqual({ broken });
  });

  it("reads a time from the token's own claims only, never an inherited property", () => {
    expect(signInTimeOf({ kind: "claim", claim: "constructor", required: true }, {})).toEqual({
      broken: "constructor missing",
    });
  });
});

/** The time a rule read, failing the test where the token broke it. */
function timeOf(read: ReturnType<typeof signInTimeOf>): number | undefined {
  if (read.broken !== undefined) throw new Error(read.broken);
  return read.at;
}

describe("isRevoked", () => {
  const revokedBefore = 1_800_000_000_400; // 400 ms into its second
  it.each([
    [undefined, undefined, false],
    [1_700_000_000_000, undefined, false],
    [undefined, revokedBefore, true],
    [1_799_999_999_999, revokedBefore, true],
    [1_800_000_000_000, revokedBefore, true], // the revocation's own second
    [1_800_000_000_999, revokedBefore, true],
    [1_800_000_001_000, revokedBefore, false], // the next second
  ])("a sign-in at %s under a revocation at %s: %s", (signedInAt, before, revoked) => {
    expect(isRevoked(signedInAt, before)).toBe(revoked);
  });

  it("refuses every refreshed Clerk token of a sign-in made before the revocation, however close", () => {
    // Clerk states whole minutes since the first factor (fva), so the time read is only known to
    // within a minute; every token the session is ever refreshed with must stay refused.
    fc.assert(
      fc.property(
        fc.integer({ min: 1_700_000_000, max: 1_900_000_000 }), // the sign-in (s)
        fc.integer({ min: 0, max: 120_000 }), // how long after it the revocation came (ms)
        fc.integer({ min: 0, max: 7 * 86_400 }), // how long after the sign-in this token was minted (s)
        (signedIn, gapMs, age) => {
          const revokedBefore = signedIn * 1000 + gapMs;
          const iat = signedIn + age;
          const read = timeOf(signInTimeOf({ kind: "fva" }, { iat, fva: [Math.floor(age / 60), -1] }));
          expect(isRevoked(read, revokedBefore)).toBe(true);
          // And what it reads is never later than the real sign-in, nor more than a minute before it.
          expect(read).toBeLessThanOrEqual(signedIn * 1000);
          expect(read).toBeGreaterThanOrEqual((signedIn - 60) * 1000);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it("serves a Clerk session signed in a minute or more after the revocation on every token", () => {
    fc.assert(
      fc.property(fc.integer({ min: 61, max: 86_400 }), fc.integer({ min: 0, max: 86_400 }), (after, age) => {
        const revokedBefore = 1_800_000_000_400;
        const signedIn = Math.floor(revokedBefore / 1000) + after;
        const read = timeOf(signInTimeOf({ kind: "fva" }, { iat: signedIn + age, fva: [Math.floor(age / 60), -1] }));
        expect(isRevoked(read, revokedBefore)).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });
});
