/**
 * NERTC channel policy: which channels a session's user may get tokens for, and with which
 * permission-key privileges. Pure: no I/O.
 *
 * Two sources, both optional:
 * - **rules** (RTC_CHANNEL_POLICY): an ordered list of grants; the first whose pattern matches the
 *   channel decides, and a channel no rule matches is refused;
 * - **a session claim** (RTC_POLICY_CLAIM names it): grants set by the app's backend or identity
 *   provider for this one session. It narrows, never widens: the channel must also match one of the
 *   claim's grants, the privileges are the intersection, the key lifetime the shorter. A session
 *   without the claim is refused (the operator said sessions carry one; a missing claim is a backend
 *   that forgot, and granting everything then would be the wrong way to fail).
 * Without either, every channel is allowed with every privilege: the behaviour before policies.
 *
 * A grant's `channel` is a name pattern with `*` and `{uid}` (the session's uid, taken literally),
 * read and matched as `core/grants.ts` says, where the `{uid}` fences are explained.
 */

import * as v from "valibot";
import { DEFAULT_TTLS, LIMITS, RTC_PRIVILEGES, type RtcPrivilegeName } from "../core/constants.ts";
import { compilePattern, matchesPattern, type NamePattern, readList } from "../core/grants.ts";
import { lazy } from "../core/lazy.ts";

/** A channel pattern: NERTC's channel characters plus `*` (the `{uid}` placeholder is made of them). */
const CHANNEL_PATTERN = /^[a-zA-Z0-9 !#$%&()+\-:;<=.>?@[\]^_{|}~,*]+$/;
const PRIVILEGE_NAMES = Object.keys(RTC_PRIVILEGES) as [RtcPrivilegeName, ...RtcPrivilegeName[]];

/** A list of grants {channel, privileges, keyTtl?} as written in RTC_CHANNEL_POLICY or a claim, in order of precedence. */
const channelGrantsSchema = lazy(() =>
  v.pipe(
    v.array(
      v.strictObject({
        channel: v.pipe(
          v.string(),
          v.minLength(1),
          v.maxLength(LIMITS.maxChannelPatternLength),
          v.regex(CHANNEL_PATTERN),
        ),
        privileges: v.pipe(v.array(v.picklist(PRIVILEGE_NAMES)), v.minLength(1), v.maxLength(PRIVILEGE_NAMES.length)),
        keyTtl: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(LIMITS.maxPermKeyTtlSeconds))),
      }),
    ),
    v.maxLength(LIMITS.maxChannelGrants),
  ),
);

/** The rule the policy setting and the claim follow, for messages and docs. */
export const CHANNEL_GRANTS_RULE = `a JSON list of at most ${LIMITS.maxChannelGrants} grants {"channel": pattern with * and {uid}, "privileges": [${PRIVILEGE_NAMES.join(", ")}], "keyTtl"?: 60 to ${LIMITS.maxPermKeyTtlSeconds}}`;

/** A grant ready to match. */
export interface ChannelGrant {
  /** Which channels: its pattern. */
  readonly channel: NamePattern;
  /** Sum of privilege bits, 1 to 63. */
  readonly privilege: number;
  readonly keyTtl: number | undefined;
}

/** The configured policy. */
export interface ChannelPolicy {
  /** Configured rules in order, or undefined when none are configured. */
  readonly rules: readonly ChannelGrant[] | undefined;
  /** The session claim that narrows the rules, or undefined. */
  readonly claim: string | undefined;
  /** A permission key's lifetime (seconds) when no grant sets one. */
  readonly keyTtl: number;
}

/** What the policy decides for one request. */
export type ChannelDecision =
  | { readonly allowed: true; readonly privilege: number; readonly keyTtl: number }
  | { readonly allowed: false; readonly reason: string };

/** The policy that allows everything: no rules, no claim. */
export const OPEN_POLICY: ChannelPolicy = { rules: undefined, claim: undefined, keyTtl: DEFAULT_TTLS.rtcPermKey };

/**
 * Reads grants from a setting's or a claim's value: a list, or its JSON text. Returns the compiled
 * grants, or where the first problem is (structure only: never a value from the input).
 */
function readGrants(value: unknown): { grants: ChannelGrant[] } | { problem: string } {
  const read = readList(value, channelGrantsSchema());
  if ("problem" in read) return read;
  const grants: ChannelGrant[] = [];
  for (const [index, grant] of read.list.entries()) {
    const channel = compilePattern(grant.channel);
    if (channel === undefined) return { problem: `at $[${index}].channel: a * right next to {uid}` };
    grants.push({
      channel,
      privilege: grant.privileges.reduce((bits, name) => bits | RTC_PRIVILEGES[name], 0),
      keyTtl: grant.keyTtl,
    });
  }
  return { grants };
}

/**
 * Parses RTC_CHANNEL_POLICY's text. Returns the grants, or the JSON path of the first problem
 * (structure only: never a value from the setting).
 */
export function parseChannelRules(text: string): { grants: ChannelGrant[] } | { problem: string } {
  const read = readGrants(text);
  if ("grants" in read && read.grants.length === 0) {
    return { problem: "no grants (leave it unset to allow every channel)" };
  }
  return read;
}

function firstMatch(grants: readonly ChannelGrant[], uid: string, name: string): ChannelGrant | undefined {
  return grants.find((grant) => matchesPattern(grant.channel, uid, name));
}

/**
 * Decides whether the session's user `uid` may get a token for `channelName`, and with what.
 * `claims` is the verified session's payload; only the policy's claim is read from it.
 */
export function decideChannel(
  policy: ChannelPolicy,
  uid: string,
  channelName: string,
  claims: Readonly<Record<string, unknown>>,
): ChannelDecision {
  let privilege: number = RTC_PRIVILEGES.all;
  let keyTtl = policy.keyTtl;
  if (policy.rules) {
    const rule = firstMatch(policy.rules, uid, channelName);
    if (!rule) return { allowed: false, reason: "no RTC_CHANNEL_POLICY rule matches the channel" };
    privilege = rule.privilege;
    keyTtl = rule.keyTtl ?? keyTtl;
  }
  if (policy.claim) {
    const raw = Object.hasOwn(claims, policy.claim) ? claims[policy.claim] : undefined;
    if (raw === undefined) return { allowed: false, reason: `session has no ${policy.claim} claim` };
    // A list, or its JSON text (for providers whose custom claims are strings).
    const read = readGrants(raw);
    if (!("grants" in read)) return { allowed: false, reason: `session's ${policy.claim} claim breaks the grant rule` };
    const grant = firstMatch(read.grants, uid, channelName);
    if (!grant)
      return { allowed: false, reason: `no grant in the session's ${policy.claim} claim matches the channel` };
    privilege &= grant.privilege;
    keyTtl = Math.min(keyTtl, grant.keyTtl ?? keyTtl);
  }
  if (privilege === 0) return { allowed: false, reason: "the rule and the claim share no privilege" };
  return { allowed: true, privilege, keyTtl };
}
