/** Known-answer tests for every NetEase signing scheme (vectors from test/fixtures/nim-signing.json). */

import { inflateSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { callbackCheckSum, verifyCallback } from "../../src/nim/callback-auth.ts";
import { md5Hex, timingSafeEqualText } from "../../src/nim/digest.ts";
import {
  checkDynamicToken,
  decodeDynamicToken,
  dynamicTokenSignature,
  encodeDynamicToken,
  signDynamicToken,
} from "../../src/nim/dynamic-token.ts";
import { serverApiCheckSum, serverApiHeaders } from "../../src/nim/transport.ts";
import {
  rtcPermissionKeyChecksum,
  rtcPermissionKeyMessage,
  signRtcPermissionKey,
  zlibStored,
} from "../../src/rtc/permission-key.ts";
import { RTC_CHANNEL_NAME, rtcTokenSignature, signRtcToken } from "../../src/rtc/token.ts";
import vectors from "../fixtures/nim-signing.json";
import { callbackHeaders, decodePermissionKey, dynamicToken, permissionKey, resplit } from "./netease-signing.ts";

describe("the tests' own NetEase signer (netease-signing.ts) matches the published vectors", () => {
  it.each(vectors.dynamicToken.vectors)("dynamic token for accid $accid", (v) => {
    expect(dynamicToken(v)).toBe(v.token);
  });

  it.each(vectors.callbackCheckSum.vectors)("callback CheckSum", (v) => {
    const headers = callbackHeaders(v.body, { appKey: "k", appSecret: v.appSecret }, Number(v.curTime));
    expect(headers).toMatchObject({ MD5: v.md5, CheckSum: v.checkSum, CurTime: v.curTime });
  });
});

describe("dynamic token issuing policy (checkDynamicToken with a policy)", () => {
  const v = vectors.dynamicToken.vectors[1]!; // curTime 1795313516992, ttl 60
  const expected = { appKey: v.appKey, accid: v.accid, appSecret: v.appSecret, now: v.curTime + 1000, skewMs: 60_000 };
  const policy = { ttlMin: 60, ttlMax: 3600, maxAgeMs: 3_660_000 };

  it("takes a re-split token's signature as valid without a policy, and refuses it with one", async () => {
    const forged = resplit(v.token, 1); // {"curTime":1,"ttl":79531351699260}
    expect(await checkDynamicToken(forged, { ...expected, now: v.curTime + 10 * 365 * 86_400_000 })).toMatchObject({
      ok: true,
    });
    expect(await checkDynamicToken(forged, { ...expected, policy })).toEqual({
      ok: false,
      reason: "ttl_out_of_policy",
    });
    expect(await checkDynamicToken(v.token, { ...expected, policy })).toMatchObject({ ok: true });
  });

  it("bounds curTime: not beyond the skew ahead, not older than the policy's age", async () => {
    const early = { ...expected, now: v.curTime - 61_000, policy };
    expect(await checkDynamicToken(v.token, early)).toEqual({ ok: false, reason: "not_yet_valid" });
    const late = { ...expected, now: v.curTime + 3_660_001, policy: { ...policy, ttlMin: 1 } };
    expect(await checkDynamicToken(v.token, late)).toEqual({ ok: false, reason: "too_old" });
  });
});

describe("dynamic token", () => {
  it.each(vectors.dynamicToken.vectors)("matches the vector for accid $accid", async (v) => {
    const input = { appKey: v.appKey, accid: v.accid, curTime: v.curTime, ttl: v.ttl, appSecret: v.appSecret };
    expect(await dynamicTokenSignature(input)).toBe(v.signature);
    expect(await signDynamicToken(input)).toEqual({ signature: v.signature, token: v.token });
    expect(decodeDynamicToken(v.token)).toEqual({ signature: v.signature, curTime: v.curTime, ttl: v.ttl });
  });

  it("encodes the envelope exactly like NetEase's published token", () => {
    const ref = vectors.envelopeReference;
    expect(atob(ref.token)).toBe(ref.decoded);
    const fields = JSON.parse(ref.decoded) as { signature: string; curTime: number; ttl: number };
    expect(encodeDynamicToken(fields)).toBe(ref.token);
  });

  it("refuses fields that would produce a token NetEase cannot read", () => {
    const signature = "a".repeat(40);
    expect(() => encodeDynamicToken({ signature, curTime: 1.5, ttl: 600 })).toThrow(RangeError);
    expect(() => encodeDynamicToken({ signature, curTime: 1, ttl: 0 })).toThrow(RangeError);
    expect(() => encodeDynamicToken({ signature: "A".repeat(40), curTime: 1, ttl: 1 })).toThrow(RangeError);
  });

  it("decodes only well-formed envelopes", () => {
    expect(decodeDynamicToken("not base64!")).toBeNull();
    expect(decodeDynamicToken(btoa("[]"))).toBeNull();
    expect(decodeDynamicToken(btoa('{"signature":"x","curTime":1,"ttl":1}'))).toBeNull();
    expect(decodeDynamicToken(btoa(`{"signature":"${"a".repeat(40)}","curTime":"1","ttl":1}`))).toBeNull();
  });

  it("checks signature, accid and expiry the way NetEase does", async () => {
    const v = vectors.dynamicToken.vectors[0]!;
    const base = { appKey: v.appKey, accid: v.accid, appSecret: v.appSecret };
    const during = v.curTime + 1000;
    expect(await checkDynamicToken(v.token, { ...base, now: during })).toMatchObject({ ok: true });
    expect(await checkDynamicToken(v.token, { ...base, now: v.curTime + v.ttl * 1000 })).toEqual({
      ok: false,
      reason: "expired",
    });
    expect(await checkDynamicToken(v.token, { ...base, accid: "lisi", now: during })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    expect(await checkDynamicToken(v.token, { ...base, appSecret: "other", now: during })).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    expect(await checkDynamicToken(v.token, { ...base, now: v.curTime - 5000 })).toEqual({
      ok: false,
      reason: "not_yet_valid",
    });
    expect(await checkDynamicToken("garbage", { ...base, now: during })).toEqual({ ok: false, reason: "malformed" });
  });
});

describe("server API CheckSum", () => {
  it.each(vectors.serverApiCheckSum.vectors)("matches the published vector", async (v) => {
    expect(await serverApiCheckSum(v.appSecret, v.nonce, v.curTime)).toBe(v.checkSum);
  });

  it("builds headers with a fresh nonce and CurTime in seconds", async () => {
    const a = await serverApiHeaders("key", "secret", 1_700_000_000_999);
    const b = await serverApiHeaders("key", "secret", 1_700_000_000_999);
    expect(a.CurTime).toBe("1700000000");
    expect(a.Nonce).not.toBe(b.Nonce);
    expect(a.CheckSum).toBe(await serverApiCheckSum("secret", a.Nonce!, a.CurTime!));
  });
});

describe("NERTC token", () => {
  it.each(vectors.rtcToken.vectors)("matches the vector for uid $uid in channel $channelName, ttl $ttl", async (v) => {
    const input = {
      appKey: v.appKey,
      uid: v.uid,
      channelName: v.channelName,
      curTime: v.curTime,
      ttl: v.ttl,
      appSecret: v.appSecret,
    };
    expect(await rtcTokenSignature(input)).toBe(v.signature);
    expect(await signRtcToken(input)).toEqual({ signature: v.signature, token: v.token });
  });

  it("accepts exactly NERTC's channel-name alphabet, 1 to 64 characters", () => {
    const alphabet = "abcxyzABCXYZ0189 !#$%&()+-:;<=.>?@[]^_{|}~,";
    expect(RTC_CHANNEL_NAME.test(alphabet)).toBe(true);
    expect(RTC_CHANNEL_NAME.test("x".repeat(64))).toBe(true);
    for (const bad of ["", "x".repeat(65), "a/b", "a*b", "a'b", 'a"b', "a\\b", "a`b", "a*", "频道", "a\tb", "café"]) {
      expect(RTC_CHANNEL_NAME.test(bad), bad).toBe(false);
    }
  });
});

describe("NERTC permission key", () => {
  const v = vectors.rtcPermissionKey;
  const input = { ...v.inputs, permSecret: v.inputs.permSecret };

  it("the tests' own signer matches NetEase's published example", () => {
    expect(decodePermissionKey(permissionKey(input))).toEqual(v.decodedKey);
  });

  it("signs NetEase's published example: the message, the checksum, and the decoded key's JSON", async () => {
    expect(rtcPermissionKeyMessage(input)).toBe(v.stringToSign);
    expect(await rtcPermissionKeyChecksum(input)).toBe(v.checksum);
    const { checksum, permKey } = await signRtcPermissionKey(input);
    expect(checksum).toBe(v.checksum);
    // NetEase's base64 variant: no + / = survive.
    expect(permKey).toMatch(/^[A-Za-z0-9*_-]+$/);
    // Deflate output differs between implementations: the JSON inside is what must agree.
    expect(decodePermissionKey(permKey)).toEqual(v.decodedKey);
    expect(Object.keys(decodePermissionKey(permKey))).toEqual(Object.keys(v.decodedKey));
  });

  it("keys a different secret, privilege or channel to a different checksum", async () => {
    const base = await rtcPermissionKeyChecksum(input);
    expect(await rtcPermissionKeyChecksum({ ...input, permSecret: `${input.permSecret}x` })).not.toBe(base);
    expect(await rtcPermissionKeyChecksum({ ...input, privilege: 63 })).not.toBe(base);
    expect(await rtcPermissionKeyChecksum({ ...input, channelName: "room2" })).not.toBe(base);
  });

  it.each([
    [{ ttl: 0 }, "ttl"],
    [{ ttl: 86_401 }, "ttl"],
    [{ privilege: 0 }, "privilege"],
    [{ privilege: 64 }, "privilege"],
    [{ uid: 0 }, "uid"],
    [{ channelName: "a/b" }, "channelName"],
    [{ curTime: 1.5 }, "curTime"],
  ])("refuses %j outside NetEase's ranges", async (change, field) => {
    await expect(rtcPermissionKeyChecksum({ ...input, ...change })).rejects.toThrow(field);
  });
});

describe("zlibStored (the permission key's zlib stream)", () => {
  const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  const encode = (text: string) => new TextEncoder().encode(text);

  it.each([
    // Python's zlib.compress(data, 0): CPython's zlib writes exactly this stored-block stream.
    ["Wikipedia", "7801010900f6ff57696b69706564696111e60398"],
    ["", "7801010000ffff00000001"],
  ])("matches zlib's own level-0 output for %j", (text, expected) => {
    expect(hex(zlibStored(encode(text)))).toBe(expected);
  });

  it.each([1, 200, 5553, 65_535])("round-trips %i bytes through Node's zlib inflate", (length) => {
    const bytes = Uint8Array.from({ length }, (_, i) => (i * 131 + 7) % 256);
    expect(new Uint8Array(inflateSync(zlibStored(bytes)))).toEqual(bytes);
  });

  it("refuses more than one stored block holds", () => {
    expect(() => zlibStored(new Uint8Array(65_536))).toThrow("65535");
  });
});

describe("callback CheckSum", () => {
  it.each(vectors.callbackCheckSum.vectors)("matches the vector, through the functions the Worker uses", async (v) => {
    const body = new TextEncoder().encode(v.body).buffer as ArrayBuffer;
    expect(await md5Hex(body)).toBe(v.md5);
    expect(await callbackCheckSum(v.appSecret, v.md5, v.curTime)).toBe(v.checkSum);
    const now = Number(v.curTime);
    const headers = { appKey: "k", curTime: v.curTime, md5: v.md5, checkSum: v.checkSum };
    const expected = { appKey: "k", appSecrets: [v.appSecret], now };
    expect(await verifyCallback(headers, body, expected)).toBeUndefined();
    expect(await verifyCallback({ ...headers, checkSum: "0".repeat(40) }, body, expected)).toBe("bad_checksum");
    expect(callbackHeaders(v.body, { appKey: "k", appSecret: v.appSecret }, now)).toMatchObject({
      AppKey: "k",
      CurTime: v.curTime,
      MD5: v.md5,
      CheckSum: v.checkSum,
    });
  });
});

describe("timingSafeEqualText", () => {
  it("compares by content", () => {
    expect(timingSafeEqualText("abc", "abc")).toBe(true);
    expect(timingSafeEqualText("abc", "abd")).toBe(false);
    expect(timingSafeEqualText("abc", "abcd")).toBe(false);
    expect(timingSafeEqualText("", "")).toBe(true);
  });
});
