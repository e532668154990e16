/**
 * Chatroom policy: which rooms a session's user may ask link addresses for, and which rooms anyone
 * may enter without a session (anonymous visitors). Pure: no I/O. The channel policy's twin
 * (`rtc/channel-policy.ts`), on the same grant lists and name patterns (`core/grants.ts`).
 *
 * Two sources, both optional:
 * - **rules** (CHATROOM_POLICY): an ordered list of grants `{"room": pattern, "anonymous"?: true}`;
 *   the first whose pattern matches the room decides, and a room no rule matches is refused;
 * - **a session claim** (CHATROOM_POLICY_CLAIM names it): grants `{"room": pattern}` for this one
 *   session, which narrow, never widen: the room must match one of them too. A session without the
 *   claim is refused.
 * Without either, any signed-in user may ask for any room (NetEase still applies its own chatroom
 * bans when the user enters), and nobody may enter without a session.
 *
 * A room id is NetEase's decimal number, so a pattern is digits, `*` and `{uid}` (which matches
 * only a uid made of digits). Anonymous visitors are off unless a rule says `"anonymous": true`, and
 * only for rooms that rule decides; such a rule may not name `{uid}` (a visitor has none).
 */

import * as v from "valibot";
import { LIMITS } from "../core/constants.ts";
import { compilePattern, matchesPattern, type NamePattern, namesUid, readList } from "../core/grants.ts";
import { lazy } from "../core/lazy.ts";

/** A room pattern: digits and `*`, with `{uid}` placeholders. */
const ROOM_PATTERN = /^(?:[0-9*]|\{uid\})+$/;

const roomGrantsSchema = lazy(() =>
  v.pipe(
    v.array(
      v.strictObject({
        room: v.pipe(v.string(), v.minLength(1), v.maxLength(LIMITS.maxChannelPatternLength), v.regex(ROOM_PATTERN)),
        anonymous: v.optional(v.boolean()),
      }),
    ),
    v.maxLength(LIMITS.maxChannelGrants),
  ),
);

/** The rule CHATROOM_POLICY and its claim follow, for messages and docs. */
export const ROOM_GRANTS_RULE = `a JSON list of at most ${LIMITS.maxChannelGrants} grants {"room": pattern of digits, * and {uid}, "anonymous"?: true (rules only)}`;

/** A grant ready to match. */
export interface RoomGrant {
  readonly room: NamePattern;
  /** Whether visitors without a session may enter the rooms this grant decides. */
  readonly anonymous: boolean;
}

/** The configured policy. */
export interface RoomPolicy {
  /** Configured rules in order, or undefined when none are configured. */
  readonly rules: readonly RoomGrant[] | undefined;
  /** The session claim that narrows the rules, or undefined. */
  readonly claim: string | undefined;
}

/** The policy of a deployment that sets none: every room for a session, none without. */
export const OPEN_ROOM_POLICY: RoomPolicy = { rules: undefined, claim: undefined };

/** What the policy decides for one request. */
export type RoomDecision = { readonly allowed: true } | { readonly allowed: false; readonly reason: string };

/** Reads grants from a setting's or a claim's value; `anonymous` is refused in a claim (`rules: false`). */
function readGrants(value: unknown, rules: boolean): { grants: RoomGrant[] } | { problem: string } {
  const read = readList(value, roomGrantsSchema());
  if ("problem" in read) return read;
  const grants: RoomGrant[] = [];
  for (const [index, grant] of read.list.entries()) {
    const room = compilePattern(grant.room);
    if (room === undefined) return { problem: `at $[${index}].room: a * right next to {uid}` };
    const anonymous = grant.anonymous === true;
    if (anonymous && !rules) return { problem: `at $[${index}].anonymous: only CHATROOM_POLICY's rules open rooms` };
    if (anonymous && namesUid(room)) return { problem: `at $[${index}]: an anonymous grant names no {uid}` };
    grants.push({ room, anonymous });
  }
  return { grants };
}

/** Parses CHATROOM_POLICY's text: the grants, or the JSON path of the first problem (never a value). */
export function parseRoomRules(text: string): { grants: RoomGrant[] } | { problem: string } {
  const read = readGrants(text, true);
  if ("grants" in read && read.grants.length === 0) {
    return { problem: "no grants (leave it unset to allow every room)" };
  }
  return read;
}

/** Whether any rule opens rooms to visitors without a session. */
export function opensRooms(policy: RoomPolicy): boolean {
  return policy.rules?.some((grant) => grant.anonymous) ?? false;
}

/**
 * Decides whether the session's user `uid` may ask for `roomId`'s addresses. `claims` is the
 * verified session's payload; only the policy's claim is read from it.
 */
export function decideRoom(
  policy: RoomPolicy,
  uid: string,
  roomId: string,
  claims: Readonly<Record<string, unknown>>,
): RoomDecision {
  if (policy.rules && !policy.rules.some((grant) => matchesPattern(grant.room, uid, roomId))) {
    return { allowed: false, reason: "no CHATROOM_POLICY rule matches the room" };
  }
  if (policy.claim) {
    const raw = Object.hasOwn(claims, policy.claim) ? claims[policy.claim] : undefined;
    if (raw === undefined) return { allowed: false, reason: `session has no ${policy.claim} claim` };
    const read = readGrants(raw, false);
    if (!("grants" in read)) return { allowed: false, reason: `session's ${policy.claim} claim breaks the grant rule` };
    if (!read.grants.some((grant) => matchesPattern(grant.room, uid, roomId))) {
      return { allowed: false, reason: `no grant in the session's ${policy.claim} claim matches the room` };
    }
  }
  return { allowed: true };
}

/**
 * Whether a visitor without a session may ask for `roomId`: the first rule that matches it (with no
 * uid, so no `{uid}` rule can) says `"anonymous": true`.
 */
export function decideAnonymousRoom(policy: RoomPolicy, roomId: string): RoomDecision {
  const rule = policy.rules?.find((grant) => !namesUid(grant.room) && matchesPattern(grant.room, "", roomId));
  return rule?.anonymous
    ? { allowed: true }
    : { allowed: false, reason: "no CHATROOM_POLICY rule opens the room to visitors without a session" };
}
