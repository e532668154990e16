/** The chatroom policy (src/chatroom/room-policy.ts): rules, claim narrowing, visitors without a session. */

import { describe, expect, it } from "vitest";
import {
  decideAnonymousRoom,
  decideRoom,
  OPEN_ROOM_POLICY,
  opensRooms,
  parseRoomRules,
  type RoomPolicy,
} from "../../src/chatroom/room-policy.ts";

function rules(list: unknown): RoomPolicy["rules"] {
  const parsed = parseRoomRules(JSON.stringify(list));
  if ("problem" in parsed) throw new Error(parsed.problem);
  return parsed.grants;
}

/** Rooms 1000…, open to visitors too; for a session, the room 9<uid> (its pattern); nothing else. */
const RULES = [{ room: "1000*", anonymous: true }, { room: "9{uid}" }];
const policy = (claim?: string): RoomPolicy => ({ rules: rules(RULES), claim });

describe("CHATROOM_POLICY", () => {
  it("refuses what is not a list of room grants, naming where, never a value", () => {
    expect(parseRoomRules("[")).toEqual({ problem: "not JSON" });
    expect(parseRoomRules("[]")).toEqual({ problem: "no grants (leave it unset to allow every room)" });
    expect(parseRoomRules('[{"room":"lobby"}]')).toEqual({ problem: "at $[0].room" });
    expect(parseRoomRules('[{"room":"1*"},{"room":"2","extra":1}]')).toEqual({ problem: "at $[1].extra" });
    expect(parseRoomRules('[{"room":"1{uid}*"}]')).toEqual({ problem: "at $[0].room: a * right next to {uid}" });
    expect(parseRoomRules('[{"room":"9{uid}","anonymous":true}]')).toEqual({
      problem: "at $[0]: an anonymous grant names no {uid}",
    });
    const many = JSON.stringify(Array.from({ length: 33 }, () => ({ room: "1" })));
    expect(parseRoomRules(many)).toEqual({ problem: "at $" });
  });

  it("opens rooms to visitors only where a rule says so", () => {
    expect(opensRooms(OPEN_ROOM_POLICY)).toBe(false);
    expect(opensRooms({ rules: rules([{ room: "1*" }]), claim: undefined })).toBe(false);
    expect(opensRooms(policy())).toBe(true);
  });
});

describe("a signed-in user's rooms", () => {
  it("are every room without a policy", () => {
    expect(decideRoom(OPEN_ROOM_POLICY, "alice", "123", {})).toEqual({ allowed: true });
  });

  it.each([
    ["100042", "7", true],
    ["97", "7", true],
    ["977", "7", false], // 9{uid} is 97 for uid 7; 977 only for uid 77
    ["98", "7", false],
    ["2000", "7", false],
  ])("room %s for uid %s: %s", (room, uid, allowed) => {
    expect(decideRoom(policy(), uid, room, {}).allowed).toBe(allowed);
  });

  it("take {uid} literally: a uid of pattern characters matches only itself", () => {
    expect(decideRoom(policy(), "*", "9123", {}).allowed).toBe(false);
    expect(decideRoom(policy(), "$'", "9123", {}).allowed).toBe(false);
    expect(decideRoom(policy(), "alice", "9alice", {}).allowed).toBe(true); // no room id holds letters
  });

  it("are narrowed by the claim, never widened; a session without it is refused", () => {
    const narrowed = policy("rooms");
    expect(decideRoom(narrowed, "7", "100042", { rooms: [{ room: "100042" }] })).toEqual({ allowed: true });
    expect(decideRoom(narrowed, "7", "100043", { rooms: [{ room: "100042" }] }).allowed).toBe(false);
    // A claim naming a room the rules refuse does not open it.
    expect(decideRoom(narrowed, "7", "2000", { rooms: [{ room: "2000" }] }).allowed).toBe(false);
    // JSON text, as providers whose custom claims are strings send it.
    expect(decideRoom(narrowed, "7", "97", { rooms: '[{"room":"9{uid}"}]' }).allowed).toBe(true);
    expect(decideRoom(narrowed, "7", "97", {})).toEqual({ allowed: false, reason: "session has no rooms claim" });
    // A claim cannot open rooms to visitors.
    const opener = { rooms: [{ room: "97", anonymous: true }] };
    expect(decideRoom(narrowed, "7", "97", opener)).toEqual({
      allowed: false,
      reason: "session's rooms claim breaks the grant rule",
    });
    // Only the policy's own claim is read, and never through the prototype.
    expect(decideRoom(policy("constructor"), "7", "97", {}).allowed).toBe(false);
  });
});

describe("visitors without a session", () => {
  it("may ask only for rooms the first matching rule opens", () => {
    expect(decideAnonymousRoom(policy(), "100042")).toEqual({ allowed: true });
    expect(decideAnonymousRoom(policy(), "97").allowed).toBe(false);
    expect(decideAnonymousRoom(policy(), "2000").allowed).toBe(false);
    expect(decideAnonymousRoom(OPEN_ROOM_POLICY, "100042").allowed).toBe(false);
    // First match decides: a closed rule before the open one keeps its rooms closed.
    const closedFirst = { rules: rules([{ room: "10001" }, { room: "1000*", anonymous: true }]), claim: undefined };
    expect(decideAnonymousRoom(closedFirst, "10001").allowed).toBe(false);
    expect(decideAnonymousRoom(closedFirst, "10002").allowed).toBe(true);
  });
});
