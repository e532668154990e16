/**
 * Verifies requests that NetEase's IM server sends to our callback URL.
 *
 * NetEase signs a callback with headers `AppKey`, `CurTime` (Unix ms), `MD5` = md5(raw body) and
 * `CheckSum = sha1(AppSecret + MD5 + CurTime)`, all hex lowercase. We recompute both digests from the
 * raw bytes (never from re-serialised JSON), compare in constant time, and refuse a CurTime more than
 * 5 minutes from our clock so a captured callback cannot be replayed later. During an app-secret
 * rotation the previous secret is accepted too.
 */

import { NIM } from "../core/constants.ts";
import { md5Hex, sha1Hex, timingSafeEqualText } from "./digest.ts";

/** Why a callback signature was refused (for the log only; the caller learns nothing). */
export type CallbackRejection = "missing_headers" | "wrong_app" | "stale" | "bad_md5" | "bad_checksum";

/** The headers NetEase signs a callback with. */
export interface CallbackHeaders {
  appKey: string | undefined;
  curTime: string | undefined;
  md5: string | undefined;
  checkSum: string | undefined;
}

/** Computes the callback CheckSum: sha1(AppSecret + MD5 + CurTime). */
export function callbackCheckSum(appSecret: string, md5: string, curTime: string): Promise<string> {
  return sha1Hex(appSecret + md5 + curTime);
}

/** Checks a callback's signature. Returns undefined when valid, else the reason. */
export async function verifyCallback(
  headers: CallbackHeaders,
  rawBody: BufferSource,
  expected: { appKey: string; appSecrets: readonly string[]; now: number },
): Promise<CallbackRejection | undefined> {
  const { appKey, curTime, md5, checkSum } = headers;
  if (!appKey || !curTime || !md5 || !checkSum) return "missing_headers";
  if (!timingSafeEqualText(appKey, expected.appKey)) return "wrong_app";
  if (!/^\d{1,16}$/.test(curTime) || Math.abs(expected.now - Number(curTime)) > NIM.callbackWindowMs) return "stale";
  const bodyMd5 = await md5Hex(rawBody);
  if (!timingSafeEqualText(bodyMd5, md5.toLowerCase())) return "bad_md5";
  let valid = false;
  for (const secret of expected.appSecrets) {
    // Every secret is checked (no early exit), so timing does not reveal which one matched.
    if (timingSafeEqualText(await callbackCheckSum(secret, bodyMd5, curTime), checkSum.toLowerCase())) valid = true;
  }
  return valid ? undefined : "bad_checksum";
}
