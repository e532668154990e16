/**
 * Lists of grants, as the policies take them (RTC_CHANNEL_POLICY, CHATROOM_POLICY and the session
 * claims that narrow them): reading one from a setting's or a claim's value, and matching the name
 * patterns in its grants. Pure: no I/O.
 *
 * A pattern is a name in which `*` matches any run of characters (none included) and `{uid}` the
 * session's uid, taken literally: a uid containing `*` or `$'` matches only itself, never acts as a
 * wildcard or a replacement pattern.
 *
 * Why a `*` may not match the character that fences `{uid}`: a uid can hold any character, so under
 * `user-{uid}-*` the name `user-alice-bob-1` would be both alice's (`*` = `bob-1`) and alice-bob's
 * (`*` = `1`). So each `*` after a `{uid}` matches no occurrence of the character right after that
 * `{uid}` (here `-`: alice's names are `user-alice-<no dash>`), and each `*` before one none of the
 * character right before it; then every name reads as one uid's at most (a property test draws uids
 * and names to find two). A `*` right next to `{uid}` leaves nothing to fence with, and is refused.
 */

import * as v from "valibot";

/** A name pattern ready to match. */
export interface NamePattern {
  /** The pattern split at each `*` (each part may hold `{uid}`). */
  readonly segments: readonly string[];
  /** For the `*` after `segments[i]`: the characters its text may not hold (those fencing a `{uid}`). */
  readonly fences: readonly string[];
}

const UID = "{uid}";

/** Compiles `pattern`; undefined when a `*` (or another `{uid}`) stands right next to a `{uid}`. */
export function compilePattern(pattern: string): NamePattern | undefined {
  const fences = fencesOf(pattern);
  return fences === undefined ? undefined : { segments: pattern.split("*"), fences };
}

/** Whether `pattern` holds `{uid}`: such a grant is one user's, and never serves someone without a session. */
export function namesUid(pattern: NamePattern): boolean {
  return pattern.segments.some((segment) => segment.includes(UID));
}

/**
 * For each `*` of `pattern`, in order, the characters its text may not hold: the one right after
 * each `{uid}` before it, and the one right before each `{uid}` after it. Undefined when a `*` (or
 * another `{uid}`) stands right next to a `{uid}` that a `*` could blur.
 */
function fencesOf(pattern: string): string[] | undefined {
  const stars: number[] = [];
  for (let at = pattern.indexOf("*"); at >= 0; at = pattern.indexOf("*", at + 1)) stars.push(at);
  const fences = stars.map(() => "");
  for (let at = pattern.indexOf(UID); at >= 0; at = pattern.indexOf(UID, at + UID.length)) {
    const end = at + UID.length;
    for (const [i, star] of stars.entries()) {
      // The character between the uid and the star's side: never a star, nor another placeholder.
      const fence = star > at ? pattern[end] : pattern[at - 1];
      const placeholder = star > at ? pattern.startsWith(UID, end) : pattern.endsWith(UID, at);
      if (fence === undefined || fence === "*" || placeholder) return undefined;
      if (!fences[i]!.includes(fence)) fences[i] += fence;
    }
  }
  return fences;
}

/**
 * Whether `name` matches `pattern` with `{uid}` read as `uid`, literally. The uid is joined in with
 * split/join, never passed to `replace`/`replaceAll` as a replacement string: those read `$&`, `` $` ``,
 * `$'` and `$$` in it, so a uid such as `a$'b` would stand for text of the pattern (another user's
 * room) rather than for itself.
 */
export function matchesPattern(pattern: NamePattern, uid: string, name: string): boolean {
  const segments = pattern.segments.map((segment) => segment.split(UID).join(uid));
  const first = segments[0]!;
  if (segments.length === 1) return name === first;
  if (!name.startsWith(first)) return false;
  // Where the text matched so far may end: after the first segment, then after each later one, the
  // `*` before it taking any run that holds none of its fence characters.
  let ends = [first.length];
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const fence = pattern.fences[i - 1]!;
    const last = i === segments.length - 1;
    const next = new Set<number>();
    for (const from of ends) {
      for (let at = from; at + segment.length <= name.length; at++) {
        if (at > from && fence.includes(name[at - 1]!)) break;
        if ((!last || at + segment.length === name.length) && name.startsWith(segment, at))
          next.add(at + segment.length);
      }
    }
    if (next.size === 0) return false;
    ends = [...next];
  }
  return ends.includes(name.length);
}

/**
 * Reads a list from a setting's or a claim's value: the list itself, or its JSON text (for providers
 * whose custom claims are strings). Returns it checked by `schema`, or where the first problem is
 * (structure only: never a value from the input).
 */
export function readList<T>(value: unknown, schema: v.GenericSchema<unknown, T>): { list: T } | { problem: string } {
  let parsed = value;
  if (typeof value === "string") {
    try {
      parsed = JSON.parse(value);
    } catch {
      return { problem: "not JSON" };
    }
  }
  const result = v.safeParse(schema, parsed);
  return result.success ? { list: result.output } : { problem: `at ${issuePath(result.issues[0])}` };
}

/** The JSON path of a validation issue, like `$[0].channel`. */
function issuePath(issue: v.BaseIssue<unknown>): string {
  const keys = (issue.path ?? []).map((item) =>
    typeof item.key === "number" ? `[${item.key}]` : `.${String(item.key)}`,
  );
  return keys.length > 0 ? `$${keys.join("")}` : "$";
}
