/**
 * NetEase's signing schemes written a second time, for tests: with `node:crypto` (workerd's Node
 * compatibility layer), not the Worker's WebCrypto code in src/nim/, so a mistake shared by the code
 * under test and its test cannot pass unnoticed. Checked against the published vectors in
 * test/fixtures/nim-signing.json (signing.test.ts).
 */

import { createHash } from "node:crypto";

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
