/**
 * A server API call signed as NetEase's own server SDKs sign it (AppKey, Nonce, CurTime and
 * CheckSum = sha1(AppSecret + Nonce + CurTime); a v1 form post or a v2 JSON body), for the tests in
 * Node and in workerd alike. node:crypto's SHA-1: no code shared with src/nim/ or the emulator.
 */

import { createHash } from "node:crypto";

/** A call's body: v1's form fields, or v2's JSON. */
export type NetEaseBody = { form: Record<string, string> } | { json: unknown };

/** Sends `method path` to NetEase's server API at `base` (e.g. `http://127.0.0.1:8788/nimserver`), signed for `app`. */
export function netEaseCall(
  base: string,
  app: { appKey: string; appSecret: string },
  method: string,
  path: string,
  body?: NetEaseBody,
): Promise<Response> {
  const nonce = crypto.randomUUID();
  const curTime = String(Math.floor(Date.now() / 1000));
  const checkSum = createHash("sha1").update(`${app.appSecret}${nonce}${curTime}`, "utf8").digest("hex");
  const headers: Record<string, string> = { AppKey: app.appKey, Nonce: nonce, CurTime: curTime, CheckSum: checkSum };
  let payload: string | undefined;
  if (body && "form" in body) {
    headers["Content-Type"] = "application/x-www-form-urlencoded;charset=UTF-8";
    payload = new URLSearchParams(body.form).toString();
  } else if (body) {
    headers["Content-Type"] = "application/json;charset=UTF-8";
    payload = JSON.stringify(body.json);
  }
  return fetch(`${base}/${path}`, { method, headers, body: payload });
}
