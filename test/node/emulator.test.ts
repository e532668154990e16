/**
 * The emulator follows the real service where NetEase leaves room: getUinfos may fail a whole batch
 * for one unknown accid, and over its rate NetEase answers 416 and refuses the app for ~10 s. The
 * Worker's own NetEase client (src/nim/server-api.ts) is run against both, in Node.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callbackHeaders,
  checkDynamicToken,
  checkRtcToken,
  sameText,
  serverApiCheckSum,
} from "../../emulator/netease.ts";
import { type RunningEmulator, startEmulator } from "../../emulator/serve.ts";
import { NimServerApi } from "../../src/nim/server-api.ts";
import vectors from "../fixtures/nim-signing.json";

const appKey = "emulatortestappkey00000000000000";
const appSecret = "emulator-test-secret";

describe("getUinfos that fails the whole batch for an unknown accid", () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ appKey, appSecret, getUinfosUnknown: "fail" });
  });
  afterAll(() => emulator.dispose());

  it("still finds exactly the accids that exist, by narrowing the batch", async () => {
    const nim = new NimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret });
    const known = ["stock_a", "stock_b", "Stock_C"];
    for (const accid of known) await nim.createAccount(accid);
    const batch = ["stock_a", "nobody_1", "stock_b", "nobody_2", "stock_c", "nobody_3", "STOCK_A"];
    expect(await nim.existingAccounts(batch)).toEqual(new Set(["stock_a", "stock_b", "stock_c"]));
    expect(await nim.existingAccounts(["nobody_4"])).toEqual(new Set());
    expect(await nim.existingAccounts([])).toEqual(new Set());
  });
});

describe("NetEase's frequency limit", () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ appKey, appSecret, rateLimitPerSecond: 3 });
  });
  afterAll(() => emulator.dispose());

  it("answers 416 over the rate and keeps refusing for a while; the client then stops calling", async () => {
    const direct = new NimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret });
    const outcomes: string[] = [];
    for (let i = 0; i < 5; i++) {
      outcomes.push(
        await direct.createAccount(`burst_${i}`).then(
          () => "ok",
          (e: { kind?: string }) => e.kind ?? "error",
        ),
      );
    }
    expect(outcomes.slice(0, 3)).toEqual(["ok", "ok", "ok"]);
    expect(outcomes[3]).toBe("upstream_rate_limited"); // 416
    expect(outcomes[4]).toBe("upstream_rate_limited"); // refused by the client itself during the block
    // Another client (another isolate) still meets NetEase's refusal, not a fresh budget.
    const other = new NimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret });
    expect(await other.probe("anyone")).toBe("rate_limited");
  });
});

describe("the emulator's own signing code (emulator/netease.ts) against NetEase's vectors", () => {
  it.each(vectors.dynamicToken.vectors)("accepts the dynamic token for $accid, and only for it", (v) => {
    const now = v.curTime + 1000;
    expect(checkDynamicToken(v.token, v.appKey, v.accid, v.appSecret, now)).toEqual({
      ok: true,
      expiresAt: v.curTime + v.ttl * 1000,
    });
    expect(checkDynamicToken(v.token, v.appKey, `${v.accid}x`, v.appSecret, now)).toEqual({
      ok: false,
      reason: "bad_signature",
    });
    expect(checkDynamicToken(v.token, v.appKey, v.accid, v.appSecret, v.curTime + v.ttl * 1000)).toEqual({
      ok: false,
      reason: "expired",
    });
  });

  it.each(vectors.rtcToken.vectors)("accepts the NERTC token for uid $uid in its channel only", (v) => {
    const now = v.curTime + 1000;
    expect(checkRtcToken(v.token, v.appKey, v.uid, v.channelName, v.appSecret, now)).toMatchObject({ ok: true });
    expect(checkRtcToken(v.token, v.appKey, v.uid + 1, v.channelName, v.appSecret, now)).toMatchObject({ ok: false });
    expect(checkRtcToken(v.token, v.appKey, v.uid, "other", v.appSecret, now)).toMatchObject({ ok: false });
  });

  it.each(vectors.serverApiCheckSum.vectors)("computes the server API CheckSum", (v) => {
    expect(serverApiCheckSum(v.appSecret, v.nonce, v.curTime)).toBe(v.checkSum);
  });

  it.each(vectors.callbackCheckSum.vectors)("signs a callback as NetEase does", (v) => {
    expect(callbackHeaders("k", v.appSecret, v.body, Number(v.curTime))).toEqual({
      AppKey: "k",
      CurTime: v.curTime,
      MD5: v.md5,
      CheckSum: v.checkSum,
    });
  });

  it("compares texts by content", () => {
    expect(sameText("abc", "abc")).toBe(true);
    expect(sameText("abc", "abd")).toBe(false);
    expect(sameText("abc", "abcd")).toBe(false);
  });
});
