/**
 * NetEase's signing schemes written a second time, for tests: with `node:crypto` (workerd's Node
 * compatibility layer), not the Worker's WebCrypto code in src/nim/, so a mistake shared by the code
 * under test and its test cannot pass unnoticed. Checked against the published vectors in
 * test/fixtures/nim-signing.json (signing.test.ts).
 */

import { createHash, createHmac } from "node:crypto";
import { deflateSync, inflateSync } from "node:zlib";

const hex = (algorithm: "sha1" | "md5", input: string) => createHash(algorithm).update(input, "utf8").digest("hex");

/** A dynamic token exactly as NetEase documents it; `curTime` ms, `ttl` s, digits as given. */
export function dynamicToken(fields: {
  appKey: string;
  accid: string;
  curTime: number;
  ttl: number;
  appSecret: string;
}): string {
  const { appKey, accid, curTime, ttl, appSecret } = fields;
  const signature = hex("sha1", `${appKey}${accid}${curTime}${ttl}${appSecret}`);
  return btoa(`{"signature":"${signature}","curTime":${curTime},"ttl":${ttl}}`);
}

/** The fields of a dynamic token. */
export function tokenFields(token: string): { signature: string; curTime: number; ttl: number } {
  return JSON.parse(atob(token));
}

/** A token with the same signature and the digits of `curTime` and `ttl` split elsewhere. */
export function resplit(token: string, curTimeDigits: number): string {
  const { signature, curTime, ttl } = tokenFields(token);
  const digits = `${curTime}${ttl}`;
  const newCurTime = digits.slice(0, curTimeDigits);
  const newTtl = digits.slice(curTimeDigits);
  return btoa(`{"signature":"${signature}","curTime":${newCurTime},"ttl":${newTtl}}`);
}

/** The headers NetEase signs a callback body with: MD5 of the body, CheckSum = sha1(secret + MD5 + CurTime). */
export function callbackHeaders(
  body: string,
  credentials: { appKey: string; appSecret: string },
  nowMs: number = Date.now(),
): Record<string, string> {
  const md5 = hex("md5", body);
  const curTime = String(nowMs);
  return {
    AppKey: credentials.appKey,
    CurTime: curTime,
    MD5: md5,
    CheckSum: hex("sha1", credentials.appSecret + md5 + curTime),
    "Content-Type": "application/json;charset=utf-8",
  };
}

/** What a NERTC permission key holds. */
export interface PermissionKeyFields {
  appkey: string;
  checksum: string;
  cname: string;
  curTime: number;
  expireTime: number;
  privilege: number;
  uid: number;
}

const toVariant = (b64: string) => b64.replaceAll("+", "*").replaceAll("/", "-").replaceAll("=", "_");
const fromVariant = (key: string) => key.replaceAll("*", "+").replaceAll("-", "/").replaceAll("_", "=");

/** A permission key as NetEase's examples make it (`curTime` and `ttl` in seconds). */
export function permissionKey(fields: {
  appKey: string;
  uid: number;
  channelName: string;
  curTime: number;
  ttl: number;
  privilege: number;
  permSecret: string;
}): string {
  const { appKey, uid, channelName, curTime, ttl, privilege, permSecret } = fields;
  const message = `appkey:${appKey}\nuid:${uid}\ncurTime:${curTime}\nexpireTime:${ttl}\ncname:${channelName}\nprivilege:${privilege}\n`;
  const checksum = createHmac("sha256", permSecret).update(message, "utf8").digest("base64");
  const json = JSON.stringify({
    appkey: appKey,
    checksum,
    cname: channelName,
    curTime,
    expireTime: ttl,
    privilege,
    uid,
  });
  const deflated = deflateSync(new TextEncoder().encode(json));
  return toVariant(btoa(String.fromCharCode(...deflated)));
}

/** The JSON inside a permission key. */
export function decodePermissionKey(key: string): PermissionKeyFields {
  const bytes = Uint8Array.from(atob(fromVariant(key)), (c) => c.charCodeAt(0));
  return JSON.parse(new TextDecoder().decode(inflateSync(bytes)));
}
