/**
 * The emulator follows the real service where NetEase leaves room: getUinfos may fail a whole batch
 * for one unknown accid, and over its rate NetEase answers 416 and refuses the app for ~10 s. The
 * Worker's own NetEase client (src/nim/server-api.ts) is run against both, in Node.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningEmulator, startEmulator } from "../../emulator/serve.ts";
import { NimServerApi } from "../../src/nim/server-api.ts";

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
