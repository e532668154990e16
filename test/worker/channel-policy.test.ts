/** The NERTC channel policy (src/rtc/channel-policy.ts): its patterns (src/core/grants.ts), precedence, claim narrowing, refusal. */

import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { matchesPattern } from "../../src/core/grants.ts";
import {
  type ChannelGrant,
  type ChannelPolicy,
  decideChannel,
  OPEN_POLICY,
  parseChannelRules,
} from "../../src/rtc/channel-policy.ts";

function rules(text: unknown): ChannelPolicy["rules"] {
  const parsed = parseChannelRules(JSON.stringify(text));
  if ("problem" in parsed) throw new Error(parsed.problem);
  return parsed.grants;
}

const grant = (channel: string) => rules([{ channel, privileges: ["all"] }])![0]!;
const matchesGrant = (of: ChannelGrant, uid: string, name: string) => matchesPattern(of.channel, uid, name);

/** The example: own rooms with every right, live rooms to watch, nothing else. */
const ROOMS = [
  { channel: "user-{uid}-*", privileges: ["all"] },
  { channel: "live-*", privileges: ["receive", "join"], keyTtl: 1800 },
];
const policy = (extra: Partial<ChannelPolicy> = {}): ChannelPolicy => ({
  rules: rules(ROOMS),
  claim: undefined,
  keyTtl: 3600,
  ...extra,
});

describe("channel patterns", () => {
  it.each([
    ["room-1", "room-1", true],
    ["room-1", "room-10", false],
    ["room-*", "room-", true],
    ["room-*", "room-abc", true],
    ["room-*", "xroom-abc", false],
    ["*-vip", "a-vip", true],
    ["*-vip", "a-vipx", false],
    ["a*b*c", "abc", true],
    ["a*b*c", "aXbYc", true],
    ["a*b*c", "aXcYb", false],
    ["a*a", "a", false],
    ["a*a", "aa", true],
    ["*", "anything at all", true],
  ])("%s against %s: %s", (pattern, name, expected) => {
    expect(matchesGrant(grant(pattern), "u", name)).toBe(expected);
  });

  it("reads {uid} as the session's uid, wherever it stands", () => {
    expect(matchesGrant(grant("user-{uid}-*"), "alice", "user-alice-room")).toBe(true);
    expect(matchesGrant(grant("user-{uid}-*"), "alice", "user-bob-room")).toBe(false);
    expect(matchesGrant(grant("{uid}"), "alice", "alice")).toBe(true);
    expect(matchesGrant(grant("{uid}:{uid}"), "a", "a:a")).toBe(true);
  });

  it("takes the uid literally: $ sequences in it are text, never replacement patterns", () => {
    // The review's case: with String.replaceAll, `$'` became the pattern's text after {uid} ("-").
    const victim = "550e8400-e29b-41d4-a716-446655440000";
    const attacker = "550e8400$'e29b-41d4-a716-446655440000";
    expect(matchesGrant(grant("user-{uid}-*"), attacker, `user-${victim}-private`)).toBe(false);
    expect(matchesGrant(grant("user-{uid}-*"), attacker, `user-${attacker}-private`)).toBe(true);
    for (const uid of ["$&", "$`", "$'", "$$", "$1", "$<name>", "a$&b"]) {
      expect(matchesGrant(grant("user-{uid}"), uid, `user-${uid}`), uid).toBe(true);
      expect(matchesGrant(grant("user-{uid}"), uid, "user-{uid}"), uid).toBe(false);
      expect(matchesGrant(grant("user-{uid}"), uid, "user-user-"), uid).toBe(false);
    }
  });

  it("reaches, for any uid and pattern, only names that hold the uid where {uid} stands", () => {
    // An oracle written apart from matchesGrant: the pattern as an anchored RegExp, its literal
    // text and the uid escaped, each `*` as a run of anything but the characters fencing a {uid}
    // on its side (right after a {uid} before it, right before a {uid} after it).
    const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    const oracle = (pattern: string, uid: string, name: string) => {
      const parts = pattern.split("*");
      const run = (star: number) => {
        const before = parts.slice(0, star + 1).join("*");
        const after = parts.slice(star + 1).join("*");
        const fences = [
          ...before
            .split("{uid}")
            .slice(1)
            .map((text) => text[0]),
          ...after
            .split("{uid}")
            .slice(0, -1)
            .map((text) => text.at(-1)),
        ].filter((fence) => fence !== undefined);
        return fences.length ? `[^${fences.map(literally).join("")}]*` : "[\\s\\S]*";
      };
      const source = parts
        .map(
          (part, star) =>
            part.split("{uid}").map(literally).join(literally(uid)) + (star < parts.length - 1 ? run(star) : ""),
        )
        .join("");
      return new RegExp(`^${source}$`, "u").test(name);
    };
    // The uid alphabet with what replacement strings, globs and the placeholder read weighted heavily.
    const uidArb = fc.string({
      unit: fc.oneof(
        { weight: 6, arbitrary: fc.constantFrom("$", "*", "{", "}", "'", "`", "&", "$'", "$&", "$`", "$$", "{uid}") },
        { weight: 3, arbitrary: fc.constantFrom("a", "b", "-", "1") },
        { weight: 1, arbitrary: fc.string({ unit: "grapheme", minLength: 1, maxLength: 1 }) },
      ),
      minLength: 1,
      maxLength: 12,
    });
    const patternArb = fc.constantFrom(
      "{uid}",
      "user-{uid}",
      "{uid}-room",
      "user-{uid}-*",
      "*-{uid}",
      "a*-{uid}-*b",
      "{uid}:{uid}",
      "*:{uid}:*",
      "user-{uid}-room-*-x",
      "live-*",
    );
    fc.assert(
      fc.property(patternArb, uidArb, uidArb, fc.string({ maxLength: 6 }), (pattern, uid, other, filler) => {
        const g = grant(pattern);
        // Names built for this uid, for another uid, and from the pattern text itself.
        const literal = (who: string) => pattern.split("*").join(filler).split("{uid}").join(who);
        for (const name of [literal(uid), literal(other), pattern, literal(`${uid}${other}`), filler]) {
          expect(matchesGrant(g, uid, name), `${pattern} ${JSON.stringify(uid)} ${JSON.stringify(name)}`).toBe(
            oracle(pattern, uid, name),
          );
        }
        expect(matchesGrant(g, uid, pattern.split("*").join("x").split("{uid}").join(uid))).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it("never grants one channel to two uids: a wildcard cannot stretch one user's uid into another's", () => {
    // Uids and fillers from a small alphabet heavy with the fence characters, so that one uid being
    // another's start (alice, alice-bob) comes up all the time.
    const text = (min: number) =>
      fc.string({ unit: fc.constantFrom("a", "b", "-", ":", "~", "-a", "a-"), minLength: min, maxLength: 6 });
    const patternArb = fc.constantFrom(
      "user-{uid}-*",
      "user-{uid}~*",
      "*-{uid}",
      "*:{uid}:*",
      "user-{uid}-room-*",
      "a*-{uid}-*b",
      "{uid}-*-{uid}",
      "*-{uid}-*-*",
    );
    fc.assert(
      fc.property(
        patternArb,
        text(1),
        text(1),
        fc.array(text(0), { minLength: 3, maxLength: 3 }),
        (pattern, u, v, fills) => {
          fc.pre(u !== v);
          const g = grant(pattern);
          // A channel of v's (when v's fills keep off its fences), or one made up to look like both.
          let star = 0;
          const name = pattern
            .split("*")
            .map((part) => part.split("{uid}").join(v))
            .reduce((built, part) => `${built}${fills[star++ % 3]}${part}`);
          expect(
            matchesGrant(g, u, name) && matchesGrant(g, v, name),
            `${pattern}: ${u} and ${v} both reach ${name}`,
          ).toBe(false);
        },
      ),
      { numRuns: 5000 },
    );
  });

  it("refuses a * right next to {uid}: nothing would tell one user's channels from another's", () => {
    for (const channel of ["user-{uid}*", "*{uid}", "a*{uid}-b", "{uid}{uid}-*", "*-{uid}{uid}"]) {
      expect(parseChannelRules(JSON.stringify([{ channel, privileges: ["all"] }])), channel).toEqual({
        problem: "at $[0].channel: a * right next to {uid}",
      });
    }
    // Beside each other without a * they cannot be stretched: allowed.
    expect("grants" in parseChannelRules(JSON.stringify([{ channel: "{uid}{uid}", privileges: ["all"] }]))).toBe(true);
  });

  it("takes the uid literally: a uid with * is no wildcard into other users' rooms", () => {
    const own = grant("user-{uid}-room");
    expect(matchesGrant(own, "*", "user-*-room")).toBe(true);
    expect(matchesGrant(own, "*", "user-bob-room")).toBe(false);
    expect(matchesGrant(grant("user-{uid}~*"), "a*", "user-a~bob")).toBe(false);
    expect(matchesGrant(grant("user-{uid}~*"), "a*", "user-a*~bob")).toBe(true);
  });

  it("keeps alice out of alice-bob's rooms, and each in their own", () => {
    const rooms = grant("user-{uid}-*");
    expect(matchesGrant(rooms, "alice", "user-alice-bob-1")).toBe(false);
    expect(matchesGrant(rooms, "alice-bob", "user-alice-bob-1")).toBe(true);
    expect(matchesGrant(rooms, "alice", "user-alice-1")).toBe(true);
    // The price: a room name after the uid holds no '-' (alice-bob's "user-alice-bob-my-room" is
    // also alice's "bob-my-room"); pick a fence your uids never hold, as '~' in user-{uid}~*.
    expect(matchesGrant(rooms, "alice", "user-alice-my-room")).toBe(false);
    expect(matchesGrant(grant("user-{uid}~*"), "alice-bob", "user-alice-bob~my-room")).toBe(true);
  });
});

describe("decideChannel", () => {
  it("without rules or claim allows every channel with every privilege (the behaviour before policies)", () => {
    expect(decideChannel(OPEN_POLICY, "alice", "any room", {})).toEqual({ allowed: true, privilege: 63, keyTtl: 3600 });
  });

  it("grants the first matching rule's privileges and key lifetime", () => {
    expect(decideChannel(policy(), "alice", "user-alice-1", {})).toEqual({
      allowed: true,
      privilege: 63,
      keyTtl: 3600,
    });
    // receive (4 + 8) and join (32), for the rule's 1800 s.
    expect(decideChannel(policy(), "alice", "live-news", {})).toEqual({ allowed: true, privilege: 44, keyTtl: 1800 });
  });

  it("refuses a channel no rule matches, including another user's own rooms", () => {
    expect(decideChannel(policy(), "alice", "user-bob-1", {})).toMatchObject({ allowed: false });
    expect(decideChannel(policy(), "alice", "lobby", {})).toEqual({
      allowed: false,
      reason: "no RTC_CHANNEL_POLICY rule matches the channel",
    });
  });

  it("takes rules in order: an earlier, narrower rule wins over a later, wider one", () => {
    const ordered = policy({
      rules: rules([
        { channel: "live-vip-*", privileges: ["join", "receiveAudio"] },
        { channel: "live-*", privileges: ["all"] },
      ]),
    });
    expect(decideChannel(ordered, "a", "live-vip-1", {})).toMatchObject({ privilege: 36 });
    expect(decideChannel(ordered, "a", "live-1", {})).toMatchObject({ privilege: 63 });
  });

  describe("a session claim", () => {
    const withClaim = policy({ claim: "nertc" });

    it("narrows the rule's privileges to the intersection and its key lifetime to the shorter", () => {
      const claims = { nertc: [{ channel: "user-{uid}-*", privileges: ["join", "receive"], keyTtl: 600 }] };
      expect(decideChannel(withClaim, "alice", "user-alice-1", claims)).toEqual({
        allowed: true,
        privilege: 44,
        keyTtl: 600,
      });
    });

    it("never widens: more privileges or a longer key than the rule grants are cut to the rule's", () => {
      const claims = { nertc: [{ channel: "live-*", privileges: ["all"], keyTtl: 86_400 }] };
      expect(decideChannel(withClaim, "alice", "live-news", claims)).toEqual({
        allowed: true,
        privilege: 44,
        keyTtl: 1800,
      });
      // A channel outside the rules stays refused whatever the claim lists.
      const wide = { nertc: [{ channel: "*", privileges: ["all"] }] };
      expect(decideChannel(withClaim, "alice", "lobby", wide)).toMatchObject({ allowed: false });
    });

    it("refuses a channel the claim does not list, though the rules allow it", () => {
      const claims = { nertc: [{ channel: "live-sports", privileges: ["all"] }] };
      expect(decideChannel(withClaim, "alice", "live-news", claims)).toEqual({
        allowed: false,
        reason: "no grant in the session's nertc claim matches the channel",
      });
    });

    it("refuses when the claim and the rule share no privilege", () => {
      const claims = { nertc: [{ channel: "live-*", privileges: ["send"] }] };
      expect(decideChannel(withClaim, "alice", "live-news", claims)).toEqual({
        allowed: false,
        reason: "the rule and the claim share no privilege",
      });
    });

    it("refuses a session without the claim, or with one that breaks the grant rule", () => {
      expect(decideChannel(withClaim, "alice", "live-news", {})).toEqual({
        allowed: false,
        reason: "session has no nertc claim",
      });
      for (const bad of [
        "not json",
        [{ channel: "live-*" }],
        [{ channel: "live-*", privileges: ["root"] }],
        [{ channel: "live-*", privileges: ["all"], extra: 1 }],
        [{ channel: "live/*", privileges: ["all"] }],
        { channel: "live-*", privileges: ["all"] },
        Array.from({ length: 33 }, () => ({ channel: "live-*", privileges: ["all"] })),
      ]) {
        expect(decideChannel(withClaim, "alice", "live-news", { nertc: bad }), JSON.stringify(bad)).toEqual({
          allowed: false,
          reason: "session's nertc claim breaks the grant rule",
        });
      }
    });

    it("accepts the claim as JSON text too (providers whose custom claims are strings)", () => {
      const claims = { nertc: JSON.stringify([{ channel: "live-*", privileges: ["receiveAudio", "join"] }]) };
      expect(decideChannel(withClaim, "alice", "live-news", claims)).toMatchObject({ allowed: true, privilege: 36 });
    });

    it("decides alone when no rules are configured", () => {
      const claimOnly: ChannelPolicy = { rules: undefined, claim: "nertc", keyTtl: 900 };
      const claims = { nertc: [{ channel: "call-42", privileges: ["all"] }] };
      expect(decideChannel(claimOnly, "a", "call-42", claims)).toEqual({ allowed: true, privilege: 63, keyTtl: 900 });
      expect(decideChannel(claimOnly, "a", "call-43", claims)).toMatchObject({ allowed: false });
    });

    it("reads only its own claim, not an inherited property", () => {
      const claimOnly: ChannelPolicy = { rules: undefined, claim: "constructor", keyTtl: 900 };
      expect(decideChannel(claimOnly, "a", "call-42", {})).toMatchObject({ allowed: false });
    });
  });
});

describe("parseChannelRules", () => {
  it.each([
    ["{", "not JSON"],
    [JSON.stringify([]), "no grants (leave it unset to allow every channel)"],
    [JSON.stringify([{ channel: "a", privileges: [] }]), "at $[0].privileges"],
    [
      JSON.stringify([
        { channel: "a", privileges: ["all"] },
        { channel: "", privileges: ["all"] },
      ]),
      "at $[1].channel",
    ],
    [JSON.stringify([{ channel: "a", privileges: ["all"], keyTtl: 86_401 }]), "at $[0].keyTtl"],
    [JSON.stringify({ channel: "a" }), "at $"],
  ])("names where %s breaks the rule: %s", (text, problem) => {
    expect(parseChannelRules(text)).toEqual({ problem });
  });
});
