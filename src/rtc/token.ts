/**
 * NERTC (audio/video) tokens in "safe mode". Pure: no I/O, no clock of its own.
 *
 *   signature = sha1(appKey + uid + curTime + ttl + channelName + appSecret)   lowercase hex
 *   token     = the IM dynamic token's envelope: base64 of compact JSON {"signature","curTime","ttl"}
 *
 * Same app key and app secret as IM; `uid` is the numeric RTC user id in decimal, `curTime` Unix
 * milliseconds, `ttl` seconds (at most 86399). NetEase's published vectors pass byte for byte (see the
 * signing tests).
 */

import { LIMITS, RTC_CHANNEL_NAME } from "../core/constants.ts";
import { sha1Hex } from "../nim/digest.ts";
import { encodeDynamicToken } from "../nim/dynamic-token.ts";

export { RTC_CHANNEL_NAME };

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
  if (input.ttl > LIMITS.maxRtcTtlSeconds) throw new RangeError(`ttl must be at most ${LIMITS.maxRtcTtlSeconds}`);
  return sha1Hex(`${input.appKey}${input.uid}${input.curTime}${input.ttl}${input.channelName}${input.appSecret}`);
}

/** Signs and encodes an RTC token. */
export async function signRtcToken(input: RtcTokenInput): Promise<{ signature: string; token: string }> {
  const signature = await rtcTokenSignature(input);
  return { signature, token: encodeDynamicToken({ signature, curTime: input.curTime, ttl: input.ttl }) };
}
