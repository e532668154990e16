/**
 * NetEase IM dynamic tokens (login auth type 1). Pure: no I/O, no clock of its own.
 *
 *   signature = sha1(appKey + accid + curTime + ttl + appSecret)   lowercase hex
 *   token     = base64(JSON {"signature", "curTime", "ttl"})        standard base64, compact JSON
 *
 * `curTime` is Unix milliseconds and `ttl` seconds, both written in decimal. The JSON is built by
 * hand rather than with JSON.stringify of an object so the key order and number formatting are fixed
 * by this file, byte for byte as NetEase's own published tokens.
 */

import { LIMITS } from "../core/constants.ts";
import { sha1Hex, timingSafeEqualText } from "./digest.ts";

/** What a dynamic token is computed from. `appSecret` never leaves the Worker. */
export interface DynamicTokenInput {
  appKey: string;
  accid: string;
  /** Unix time in milliseconds. */
  curTime: number;
  /** Lifetime in seconds. */
  ttl: number;
  appSecret: string;
}

/** The three fields inside a dynamic token. */
export interface DynamicTokenFields {
  signature: string;
  curTime: number;
  ttl: number;
}

/** Why a token was refused by `checkDynamicToken`. */
export type DynamicTokenFailure =
  | "malformed"
  | "bad_signature"
  | "expired"
  | "not_yet_valid"
  | "ttl_out_of_policy"
  | "too_old";

/**
 * The issuing policy a token must fit, for a validator that is the authority (the login callback).
 *
 * Why: the signature covers `curTime` and `ttl` as one run of digits, so every other split of those
 * digits carries the same signature: `{"curTime":1795973689779,"ttl":60}` re-split as
 * `{"curTime":1,"ttl":79597368977960}` is "valid" for millennia. Bounding both fields to what the
 * issuer could have produced leaves no other split standing.
 */
export interface DynamicTokenPolicy {
  /** Smallest and largest ttl (seconds) the issuer hands out. */
  ttlMin: number;
  ttlMax: number;
  /** Oldest acceptable `curTime`, as an age in ms (the largest ttl plus the clock skew). */
  maxAgeMs: number;
}

/** Computes the signature of a dynamic token. */
export function dynamicTokenSignature(input: DynamicTokenInput): Promise<string> {
  assertFields(input.curTime, input.ttl);
  return sha1Hex(`${input.appKey}${input.accid}${input.curTime}${input.ttl}${input.appSecret}`);
}

/** Encodes the token envelope: base64 of the compact JSON `{"signature","curTime","ttl"}`. */
export function encodeDynamicToken(fields: DynamicTokenFields): string {
  assertFields(fields.curTime, fields.ttl);
  if (!/^[0-9a-f]{40}$/.test(fields.signature)) throw new RangeError("signature must be 40 lowercase hex digits");
  // ASCII only (hex and digits), so btoa's Latin-1 input rule is met.
  return btoa(`{"signature":"${fields.signature}","curTime":${fields.curTime},"ttl":${fields.ttl}}`);
}

/** Signs and encodes a dynamic token in one step. */
export async function signDynamicToken(input: DynamicTokenInput): Promise<{ signature: string; token: string }> {
  const signature = await dynamicTokenSignature(input);
  return { signature, token: encodeDynamicToken({ signature, curTime: input.curTime, ttl: input.ttl }) };
}

/** Decodes a token envelope; returns null for anything that is not exactly that shape. */
export function decodeDynamicToken(token: string): DynamicTokenFields | null {
  if (token.length > LIMITS.maxDynamicTokenLength || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(atob(token));
  } catch {
    return null;
  }
  if (typeof parsed !== "object" || parsed === null) return null;
  const { signature, curTime, ttl } = parsed as Record<string, unknown>;
  if (typeof signature !== "string" || !/^[0-9a-f]{40}$/.test(signature)) return null;
  if (!Number.isSafeInteger(curTime) || !Number.isSafeInteger(ttl)) return null;
  if ((curTime as number) < 0 || (ttl as number) <= 0) return null;
  return { signature, curTime: curTime as number, ttl: ttl as number };
}

/**
 * Checks a token: envelope, signature for this appKey and accid, and validity window at `now` (ms).
 * `skewMs` tolerates a token signed slightly in the future. With `policy`, the token must also fit
 * the issuing policy (see `DynamicTokenPolicy`); without it the check is only as strict as the
 * envelope itself, which is not enough for an authority.
 */
export async function checkDynamicToken(
  token: string,
  expected: {
    appKey: string;
    accid: string;
    appSecret: string;
    now: number;
    skewMs?: number;
    policy?: DynamicTokenPolicy;
  },
): Promise<{ ok: true; fields: DynamicTokenFields } | { ok: false; reason: DynamicTokenFailure }> {
  const fields = decodeDynamicToken(token);
  if (!fields) return { ok: false, reason: "malformed" };
  const signature = await dynamicTokenSignature({ ...expected, curTime: fields.curTime, ttl: fields.ttl });
  if (!timingSafeEqualText(signature, fields.signature)) return { ok: false, reason: "bad_signature" };
  const skew = expected.skewMs ?? 0;
  const { policy, now } = expected;
  if (policy && (fields.ttl < policy.ttlMin || fields.ttl > policy.ttlMax)) {
    return { ok: false, reason: "ttl_out_of_policy" };
  }
  if (fields.curTime - skew > now) return { ok: false, reason: "not_yet_valid" };
  if (policy && fields.curTime < now - policy.maxAgeMs) return { ok: false, reason: "too_old" };
  if (fields.curTime + fields.ttl * 1000 <= now) return { ok: false, reason: "expired" };
  return { ok: true, fields };
}

function assertFields(curTime: number, ttl: number): void {
  if (!Number.isSafeInteger(curTime) || curTime < 0)
    throw new RangeError("curTime must be a non-negative integer (ms)");
  if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new RangeError("ttl must be a positive integer (seconds)");
}
