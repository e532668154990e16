/**
 * NetEase's signing schemes as the emulator checks and makes them, written independently of the
 * Worker's src/nim/ (with Node's `crypto`, through workerd's `nodejs_compat`, where the Worker uses
 * WebCrypto): a mistake shared by the Worker and the emulator would otherwise pass both. Checked
 * against NetEase's published vectors in test/fixtures/nim-signing.json (test/node/emulator.test.ts).
 *
 * What NetEase validates, and no more: the emulator stands in for NetEase, whose bounds on a dynamic
 * token's `curTime` and `ttl` are not documented, so a token is checked for its signature and its
 * validity window only (the Worker's login callback is stricter; see its docs).
 */

import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { inflateSync } from "node:zlib";

/** NetEase's accid rule: at most 32 of letters, digits and `_ @ . -`. */
export const ACCID_PATTERN = /^[A-Za-z0-9_@.-]{1,32}$/;
/** How long NetEase accepts a server API CheckSum (seconds). */
export const CHECKSUM_WINDOW_SECONDS = 300;
/** NERTC's channel name rule (ASCII, 1 to 64). */
const CHANNEL_NAME = /^[a-zA-Z0-9 !#$%&()+\-:;<=.>?@[\]^_{|}~,]{1,64}$/;
/** Clock skew the emulator tolerates for a token's curTime (ms). */
const SKEW_MS = 60_000;

const hex = (algorithm: "sha1" | "md5", input: string) => createHash(algorithm).update(input, "utf8").digest("hex");

/** Whether two strings are equal, in time independent of where they differ. */
export function sameText(a: string, b: string): boolean {
  const left = new TextEncoder().encode(a);
  const right = new TextEncoder().encode(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** The server API CheckSum: sha1(AppSecret + Nonce + CurTime), CurTime in seconds. */
export function serverApiCheckSum(appSecret: string, nonce: string, curTime: string): string {
  return hex("sha1", appSecret + nonce + curTime);
}

/** The headers NetEase signs a callback with: MD5 of the raw body, CheckSum = sha1(AppSecret + MD5 + CurTime ms). */
export function callbackHeaders(
  appKey: string,
  appSecret: string,
  body: string,
  nowMs: number,
): Record<string, string> {
  const md5 = hex("md5", body);
  const curTime = String(nowMs);
  return { AppKey: appKey, CurTime: curTime, MD5: md5, CheckSum: hex("sha1", appSecret + md5 + curTime) };
}

/** The fields of a token envelope (base64 of compact JSON {signature, curTime, ttl}), or null. */
export function tokenFields(token: string): { signature: string; curTime: number; ttl: number } | null {
  if (token.length > 512 || !/^[A-Za-z0-9+/]+={0,2}$/.test(token)) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(atob(token));
  } catch {
    return null;
  }
  const { signature, curTime, ttl } = (parsed ?? {}) as Record<string, unknown>;
  if (typeof signature !== "string" || !/^[0-9a-f]{40}$/.test(signature)) return null;
  if (!Number.isSafeInteger(curTime) || !Number.isSafeInteger(ttl) || (ttl as number) <= 0) return null;
  return { signature, curTime: curTime as number, ttl: ttl as number };
}

/** Why a token is refused, or undefined when it is valid at `now`: `signed` is what its signature covers. */
function checkToken(
  token: string,
  signed: (curTime: number, ttl: number) => string,
  appSecret: string,
  now: number,
): { ok: true; expiresAt: number } | { ok: false; reason: string } {
  const fields = tokenFields(token);
  if (!fields) return { ok: false, reason: "malformed" };
  const signature = hex("sha1", signed(fields.curTime, fields.ttl) + appSecret);
  if (!sameText(signature, fields.signature)) return { ok: false, reason: "bad_signature" };
  if (fields.curTime - SKEW_MS > now) return { ok: false, reason: "not_yet_valid" };
  const expiresAt = fields.curTime + fields.ttl * 1000;
  if (expiresAt <= now) return { ok: false, reason: "expired" };
  return { ok: true, expiresAt };
}

/** NetEase's login check of a dynamic token: sha1(appKey + accid + curTime + ttl + appSecret). */
export function checkDynamicToken(token: string, appKey: string, accid: string, appSecret: string, now: number) {
  return checkToken(token, (curTime, ttl) => `${appKey}${accid}${curTime}${ttl}`, appSecret, now);
}

/** NERTC's join check of a safe-mode token: sha1(appKey + uid + curTime + ttl + channelName + appSecret). */
export function checkRtcToken(
  token: string,
  appKey: string,
  uid: number,
  channelName: string,
  appSecret: string,
  now: number,
) {
  if (!Number.isSafeInteger(uid) || uid <= 0 || !CHANNEL_NAME.test(channelName)) {
    return { ok: false as const, reason: "bad_signature" };
  }
  const fields = tokenFields(token);
  if (fields && fields.ttl >= 86_400) return { ok: false as const, reason: "malformed" };
  return checkToken(token, (curTime, ttl) => `${appKey}${uid}${curTime}${ttl}${channelName}`, appSecret, now);
}

/** The fields of a NERTC permission key, as NERTC reads them. */
export interface PermissionKeyFields {
  appkey: string;
  checksum: string;
  cname: string;
  curTime: number;
  expireTime: number;
  privilege: number;
  uid: number;
}

/**
 * Decodes a permission key: NetEase's base64 variant (`* - _` for `+ / =`) of zlib-deflated JSON.
 * Null when it is not one.
 */
export function decodePermissionKey(permKey: string): PermissionKeyFields | null {
  if (permKey.length > 1024 || !/^[A-Za-z0-9*_-]+$/.test(permKey)) return null;
  const standard = permKey.replaceAll("*", "+").replaceAll("-", "/").replaceAll("_", "=");
  let parsed: unknown;
  try {
    const deflated = Uint8Array.from(atob(standard), (c) => c.charCodeAt(0));
    parsed = JSON.parse(new TextDecoder().decode(inflateSync(deflated)));
  } catch {
    return null;
  }
  const fields = (parsed ?? {}) as Record<string, unknown>;
  const numbers = ["curTime", "expireTime", "privilege", "uid"].every((k) => Number.isSafeInteger(fields[k]));
  const strings = ["appkey", "checksum", "cname"].every((k) => typeof fields[k] === "string");
  return numbers && strings ? (fields as unknown as PermissionKeyFields) : null;
}

/** The permission key's checksum: base64(HMAC-SHA256(permSecret, "appkey:…\nuid:…\n…privilege:…\n")). */
export function permissionKeyChecksum(fields: Omit<PermissionKeyFields, "checksum">, permSecret: string): string {
  const message =
    `appkey:${fields.appkey}\nuid:${fields.uid}\ncurTime:${fields.curTime}\nexpireTime:${fields.expireTime}\n` +
    `cname:${fields.cname}\nprivilege:${fields.privilege}\n`;
  return createHmac("sha256", permSecret).update(message, "utf8").digest("base64");
}

/**
 * NERTC's check of a permission key sent with a join: it decodes, is signed with `permSecret`, names
 * this app, uid and channel, and is within its lifetime (`curTime` and `expireTime` in seconds).
 * Returns the key's privilege bits.
 */
export function checkPermissionKey(
  permKey: string,
  appKey: string,
  uid: number,
  channelName: string,
  permSecret: string,
  nowMs: number,
): { ok: true; privilege: number; expiresAt: number } | { ok: false; reason: string } {
  const fields = decodePermissionKey(permKey);
  if (!fields) return { ok: false, reason: "malformed" };
  if (!sameText(permissionKeyChecksum(fields, permSecret), fields.checksum))
    return { ok: false, reason: "bad_signature" };
  if (fields.appkey !== appKey || fields.uid !== uid || fields.cname !== channelName) {
    return { ok: false, reason: "wrong_subject" };
  }
  if (fields.expireTime < 1 || fields.expireTime > 86_400 || fields.privilege < 1 || fields.privilege > 63) {
    return { ok: false, reason: "out_of_range" };
  }
  if (fields.curTime * 1000 - SKEW_MS > nowMs) return { ok: false, reason: "not_yet_valid" };
  const expiresAt = (fields.curTime + fields.expireTime) * 1000;
  if (expiresAt <= nowMs) return { ok: false, reason: "expired" };
  return { ok: true, privilege: fields.privilege, expiresAt };
}
