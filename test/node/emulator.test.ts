/**
 * The emulator follows the real service where NetEase leaves room: getUinfos may fail a whole batch
 * for one unknown accid, and over its rate NetEase answers 416 and refuses the app for ~10 s. The
 * Worker's own NetEase client (src/nim/server-api.ts) is run against both, in Node, in both API
 * versions. The emulator's own surface is checked here too, as NetEase's Go server SDK reads it.
 */

import { deflateSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  callbackHeaders,
  checkDynamicToken,
  checkPermissionKey,
  checkRtcToken,
  decodePermissionKey,
  permissionKeyChecksum,
  sameText,
  serverApiCheckSum,
} from "../../emulator/netease.ts";
import { type RunningEmulator, startEmulator } from "../../emulator/serve.ts";
import { nimServerApi } from "../../src/nim/connect.ts";
import { serverApiHeaders } from "../../src/nim/transport.ts";
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
    const nim = nimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret, apiVersion: "v1" });
    const known = ["stock_a", "stock_b", "Stock_C"];
    for (const accid of known) await nim.createAccount(accid);
    const batch = ["stock_a", "nobody_1", "stock_b", "nobody_2", "stock_c", "nobody_3", "STOCK_A"];
    expect(await nim.existingAccounts(batch)).toEqual(new Set(["stock_a", "stock_b", "stock_c"]));
    expect(await nim.existingAccounts(["nobody_4"])).toEqual(new Set());
    expect(await nim.existingAccounts([])).toEqual(new Set());
  });
});

describe.each(["v1", "v2"] as const)("NetEase's frequency limit (%s)", (apiVersion) => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ appKey, appSecret, rateLimitPerSecond: 3 });
  });
  afterAll(() => emulator.dispose());

  it("answers 416 over the rate and keeps refusing for a while; the client then stops calling", async () => {
    const direct = nimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret, apiVersion });
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
    const other = nimServerApi({ apiBases: [`${emulator.url}/nimserver`], appKey, appSecret, apiVersion });
    expect(await other.probe("anyone")).toBe("rate_limited");
    // The emulator counts the 416s it answered (the bench's burst scenario reports them): the
    // 4th create and the other client's probe; the 5th create never left its client.
    const stats = (await (await fetch(`${emulator.url}/emulator/stats`)).json()) as { rateRefusals: number };
    expect(stats.rateRefusals).toBe(2);
  });
});

describe("the emulator as NetEase's own server SDK sees it", () => {
  let emulator: RunningEmulator;
  beforeAll(async () => {
    emulator = await startEmulator({ appKey, appSecret });
  });
  afterAll(() => emulator.dispose());

  /** A signed server API call, as NetEase's SDKs send it. */
  async function signed(method: string, path: string, body?: { form: Record<string, string> } | { json: unknown }) {
    const headers: Record<string, string> = await serverApiHeaders(appKey, appSecret);
    let payload: string | undefined;
    if (body && "form" in body) {
      headers["Content-Type"] = "application/x-www-form-urlencoded;charset=UTF-8";
      payload = new URLSearchParams(body.form).toString();
    } else if (body) {
      headers["Content-Type"] = "application/json;charset=UTF-8";
      payload = JSON.stringify(body.json);
    }
    const response = await fetch(`${emulator.url}/nimserver/${path}`, { method, headers, body: payload });
    expect(response.status).toBe(200); // NetEase answers every API call with HTTP 200
    // biome-ignore lint/suspicious/noExplicitAny: the tests read NetEase's answers field by field.
    return (await response.json()) as Record<string, any>;
  }

  it("serves the liveness probe NetEase's SDK ranks endpoints by, on both bases, unauthenticated", async () => {
    for (const base of ["nimserver", "backup/nimserver"]) {
      expect((await fetch(`${emulator.url}/${base}/health/liveness.action`)).status).toBe(200);
    }
  });

  it("stores create.action's profile fields and answers getUinfos with the documented fields", async () => {
    const created = await signed("POST", "user/create.action", {
      form: {
        accid: "Profile_1",
        name: "Ada",
        icon: "https://example.com/a.png",
        sign: "hi",
        email: "ada@example.com",
        birth: "1815-12-10",
        mobile: "+44-1",
        gender: "2",
        ex: '{"k":1}',
      },
    });
    expect(created).toMatchObject({ code: 200, info: { accid: "profile_1", name: "Ada" } });
    const { uinfos } = await signed("POST", "user/getUinfos.action", { form: { accids: '["profile_1"]' } });
    expect(uinfos).toEqual([
      {
        accid: "profile_1",
        name: "Ada",
        icon: "https://example.com/a.png",
        sign: "hi",
        email: "ada@example.com",
        birth: "1815-12-10",
        mobile: "+44-1",
        ex: '{"k":1}',
        gender: 2,
        valid: true,
        mute: false,
      },
    ]);
    const withMutes = await signed("POST", "user/getUinfos.action", {
      form: { accids: '["profile_1"]', muteStatus: "true" },
    });
    expect(withMutes.uinfos[0]).toMatchObject({ muteP2P: false, muteQChat: false, muteTeam: false, muteRoom: false });
    expect(await signed("POST", "user/create.action", { form: { accid: "profile_2", gender: "7" } })).toMatchObject({
      code: 414,
    });
    expect(
      await signed("POST", "user/create.action", { form: { accid: "profile_2", name: "n".repeat(65) } }),
    ).toMatchObject({ code: 414 });
  });

  it("reads a blocked account as valid: false, so blocked and unblocked accounts differ", async () => {
    await signed("POST", "user/create.action", { form: { accid: "valid_1" } });
    await signed("POST", "user/block.action", { form: { accid: "valid_1", needkick: "false" } });
    const blocked = await signed("POST", "user/getUinfos.action", { form: { accids: '["valid_1"]' } });
    expect(blocked.uinfos[0].valid).toBe(false);
    await signed("POST", "user/unblock.action", { form: { accid: "valid_1" } });
    const unblocked = await signed("POST", "user/getUinfos.action", { form: { accids: '["valid_1"]' } });
    expect(unblocked.uinfos[0].valid).toBe(true);
  });

  it("serves v2 over the same accounts: what v1 made, v2 reads and changes, and the other way round", async () => {
    await signed("POST", "user/create.action", { form: { accid: "both_1", name: "One" } });
    const made = await signed("POST", "im/v2/accounts", {
      json: { account_id: "Both_2", user_information: { name: "Two", avatar: "https://example.com/2.png", gender: 1 } },
    });
    expect(made).toMatchObject({
      code: 200,
      data: {
        account_id: "both_2",
        configuration: { enabled: true },
        user_information: { name: "Two", avatar: "https://example.com/2.png", gender: 1 },
      },
    });
    const query = await signed("GET", "im/v2/accounts?account_ids=both_1,both_2,nobody_9");
    expect(query.data.success_list.map((a: { account_id: string }) => a.account_id)).toEqual(["both_1", "both_2"]);
    expect(query.data.failed_list).toEqual([
      { account_id: "nobody_9", error_code: 404, error_msg: "account not exist" },
    ]);
    const { uinfos } = await signed("POST", "user/getUinfos.action", { form: { accids: '["both_2"]' } });
    expect(uinfos[0]).toMatchObject({
      accid: "both_2",
      name: "Two",
      icon: "https://example.com/2.png",
      gender: 1,
      valid: true,
    });

    expect(
      await signed("PATCH", "im/v2/accounts/both_1/actions/disable", { json: { enabled: false, need_kick: true } }),
    ).toMatchObject({ code: 200, data: { account_id: "both_1", enabled: false } });
    expect((await signed("POST", "user/getUinfos.action", { form: { accids: '["both_1"]' } })).uinfos[0].valid).toBe(
      false,
    );
    expect(await signed("POST", "user/unblock.action", { form: { accid: "both_1" } })).toMatchObject({ code: 200 });
    expect((await signed("GET", "im/v2/accounts/both_1")).data).toMatchObject({
      account_id: "both_1",
      configuration: { enabled: true },
    });

    expect(await signed("POST", "im/v2/accounts/both_1/actions/kick", { json: { type: 1 } })).toMatchObject({
      code: 200,
    });
    const seen = (await (await fetch(`${emulator.url}/emulator/accounts/both_1`)).json()) as {
      kicks: number;
      blocked: boolean;
    };
    expect(seen).toMatchObject({ kicks: 2, blocked: false }); // the disable with need_kick, then the kick
    expect(await signed("POST", "im/v2/accounts/both_1/actions/kick", { json: { type: 2 } })).toMatchObject({
      code: 414,
    });
    expect(await signed("POST", "im/v2/accounts/nobody_9/actions/kick", { json: { type: 1 } })).toMatchObject({
      code: 404,
    });
    expect(await signed("POST", "im/v2/accounts", { json: { account_id: "BOTH_1" } })).toMatchObject({ code: 414 });
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

  describe("NERTC permission key", () => {
    const v = vectors.rtcPermissionKey;
    const { appKey: key, uid, channelName, curTime, permSecret } = v.inputs;
    // NetEase's published key, deflated here by Node's zlib (NetEase's examples use their own).
    const published = deflateSync(JSON.stringify(v.decodedKey))
      .toString("base64")
      .replaceAll("+", "*")
      .replaceAll("/", "-")
      .replaceAll("=", "_");

    it("computes the published checksum and reads the published key", () => {
      expect(permissionKeyChecksum(v.decodedKey, permSecret)).toBe(v.checksum);
      expect(decodePermissionKey(published)).toEqual(v.decodedKey);
    });

    it("accepts the key for its app, uid and channel within its lifetime only", () => {
      const now = (curTime + 10) * 1000;
      expect(checkPermissionKey(published, key, uid, channelName, permSecret, now)).toEqual({
        ok: true,
        privilege: 1,
        expiresAt: (curTime + 1000) * 1000,
      });
      const refused = (reason: string) => ({ ok: false, reason });
      expect(checkPermissionKey(published, key, uid + 1, channelName, permSecret, now)).toEqual(
        refused("wrong_subject"),
      );
      expect(checkPermissionKey(published, key, uid, "room2", permSecret, now)).toEqual(refused("wrong_subject"));
      expect(checkPermissionKey(published, "otherapp", uid, channelName, permSecret, now)).toEqual(
        refused("wrong_subject"),
      );
      expect(checkPermissionKey(published, key, uid, channelName, `${permSecret}x`, now)).toEqual(
        refused("bad_signature"),
      );
      expect(checkPermissionKey(published, key, uid, channelName, permSecret, (curTime + 1000) * 1000)).toEqual(
        refused("expired"),
      );
      expect(checkPermissionKey(published, key, uid, channelName, permSecret, (curTime - 120) * 1000)).toEqual(
        refused("not_yet_valid"),
      );
      expect(checkPermissionKey(`${published}x`, key, uid, channelName, permSecret, now)).toEqual(refused("malformed"));
    });
  });

  it("compares texts by content", () => {
    expect(sameText("abc", "abc")).toBe(true);
    expect(sameText("abc", "abd")).toBe(false);
    expect(sameText("abc", "abcd")).toBe(false);
  });
});
