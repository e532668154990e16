/**
 * NERTC (audio/video) tokens in "safe mode". Pure: no I/O, no clock of its own.
 *
 *   signature = sha1(appKey + uid + curTime + ttl + channelName + appSecret)   lowercase hex
 *   token     = the IM dynamic token's envelope: base64 of compact JSON {"signature","curTime","ttl"}
 *
 * Same app key and app secret as IM; `uid` is the numeric RTC user id in decimal, `curTime` Unix
 * milliseconds, `ttl` seconds (below 86400). NetEase's published vectors pass byte for byte (see the
 * signing tests).
 */

import { RTC_CHANNEL_NAME } from "../constants.ts";
import { sha1Hex, timingSafeEqualText } from "./digest.ts";
import { type DynamicTokenFailure, decodeDynamicToken, encodeDynamicToken } from "./dynamic-token.ts";

export { RTC_CHANNEL_NAME };

/** NERTC's ttl must stay below one day. */
export const RTC_MAX_TTL_SECONDS = 86_399;

/** What an RTC token is computed from. `appSecret` never leaves the Worker. */
export interface RtcTokenInput {
  appKey: string;
  /** The numeric RTC user id: a positive integer below 2^53. */
  uid: number;
  channelName: string;
  /** Unix time in milliseconds. */
  curTime: number;
  /** Lifetime in seconds, 1 to 86399. */
  ttl: number;
  appSecret: string;
}

/** Computes the signature of an RTC token. */
export function rtcTokenSignature(input: RtcTokenInput): Promise<string> {
  if (!Number.isSafeInteger(input.uid) || input.uid <= 0) throw new RangeError("uid must be a positive safe integer");
  if (!RTC_CHANNEL_NAME.test(input.channelName)) throw new RangeError("channelName does not follow NERTC's rule");
  if (input.ttl > RTC_MAX_TTL_SECONDS) throw new RangeError(`ttl must be at most ${RTC_MAX_TTL_SECONDS}`);
  return sha1Hex(`${input.appKey}${input.uid}${input.curTime}${input.ttl}${input.channelName}${input.appSecret}`);
}

/** Signs and encodes an RTC token. */
export async function signRtcToken(input: RtcTokenInput): Promise<{ signature: string; token: string }> {
  const signature = await rtcTokenSignature(input);
  return { signature, token: encodeDynamicToken({ signature, curTime: input.curTime, ttl: input.ttl }) };
}

/** Checks an RTC token the way NERTC does at join: envelope, signature for this uid and channel, validity at `now`. */
export async function checkRtcToken(
  token: string,
  expected: Omit<RtcTokenInput, "curTime" | "ttl"> & { now: number; skewMs?: number },
): Promise<{ ok: true } | { ok: false; reason: DynamicTokenFailure }> {
  const fields = decodeDynamicToken(token);
  if (!fields || fields.ttl > RTC_MAX_TTL_SECONDS) return { ok: false, reason: "malformed" };
  if (!Number.isSafeInteger(expected.uid) || expected.uid <= 0 || !RTC_CHANNEL_NAME.test(expected.channelName)) {
    return { ok: false, reason: "bad_signature" };
  }
  const signature = await rtcTokenSignature({ ...expected, curTime: fields.curTime, ttl: fields.ttl });
  if (!timingSafeEqualText(signature, fields.signature)) return { ok: false, reason: "bad_signature" };
  if (fields.curTime - (expected.skewMs ?? 0) > expected.now) return { ok: false, reason: "not_yet_valid" };
  if (fields.curTime + fields.ttl * 1000 <= expected.now) return { ok: false, reason: "expired" };
  return { ok: true };
}
