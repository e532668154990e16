/** The real service's behaviour around the server API: domains and failover, RequestId, 416 blocks. */

import { describe, expect, it } from "vitest";
import { AccountStore } from "../../src/accounts/store.ts";
import { call, emulatedAccount, env, expectedAccid, hsJwt, injectFault, issue, uniqueUid } from "./helpers.ts";

const primary = () => `${env.EMULATOR_URL}/nimserver`;
const backup = () => `${env.EMULATOR_URL}/backup/nimserver`;

describe("server API domains and failover", () => {
  it("fails over from a dead primary to the backup, and a first-time token still succeeds", async () => {
    // Nothing listens on port 1: a connection failure, as for a NetEase domain that is down.
    const settings = { NIM_API_BASE: `http://127.0.0.1:1/nimserver, ${backup()}` };
    const uid = uniqueUid("failover");
    const response = await issue(await hsJwt(uid), undefined, settings);
    expect(response.status).toBe(200);
    const account = await emulatedAccount(await expectedAccid(uid));
    expect(account.exists).toBe(true);
    expect(account.requestIds).toEqual([expect.stringMatching(/^backup:[0-9a-f-]{36}$/)]);
  });

  it("retries an HTTP 502 once on the backup with the same RequestId (fresh CheckSum and Nonce)", async () => {
    const settings = { NIM_API_BASE: `${primary()},${backup()}/` };
    const uid = uniqueUid("retry");
    const accid = await expectedAccid(uid);
    await injectFault(accid, "user/create.action", "http502", 1, "primary");
    expect((await issue(await hsJwt(uid), undefined, settings)).status).toBe(200);
    const { requestIds } = await emulatedAccount(accid);
    expect(requestIds).toHaveLength(2);
    const [first, second] = requestIds.map((entry) => entry.split(":"));
    expect(first![0]).toBe("primary");
    expect(second![0]).toBe("backup");
    expect(second![1]).toBe(first![1]);
    // The emulator refuses a repeated Nonce (431): the retry was signed afresh, or it would have failed.
  });

  it("skips a base that just failed for a while (cool-down), so a dead primary does not cost every call", async () => {
    const settings = { NIM_API_BASE: `${primary()}, ${backup()}` };
    const first = uniqueUid("cooldown-1");
    await injectFault(await expectedAccid(first), "user/create.action", "http502", 1, "primary");
    expect((await issue(await hsJwt(first), undefined, settings)).status).toBe(200);
    // The primary would answer now, but it is cooling down: the next call goes to the backup first.
    const second = uniqueUid("cooldown-2");
    expect((await issue(await hsJwt(second), undefined, settings)).status).toBe(200);
    const { requestIds } = await emulatedAccount(await expectedAccid(second));
    expect(requestIds).toEqual([expect.stringMatching(/^backup:/)]);
  });

  it("after a 416 answers 503 with Retry-After 10 and calls NetEase no more until the block has passed", async () => {
    // Its own settings, so its own isolate runtime: the block is per isolate.
    const settings = { NIM_API_BASE: `${primary()}/`, NIM_REGION: "cn " };
    const first = uniqueUid("limited");
    await injectFault(await expectedAccid(first), "user/create.action", "code416");
    const limited = await issue(await hsJwt(first), undefined, settings);
    expect(limited.status).toBe(503);
    expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThanOrEqual(10);
    expect(await new AccountStore(env.ACCOUNTS!).get(first)).toBeNull(); // nothing written
    const next = uniqueUid("during-block");
    const during = await issue(await hsJwt(next), undefined, settings);
    expect(during.status).toBe(503);
    expect(Number(during.headers.get("Retry-After"))).toBeGreaterThanOrEqual(10);
    expect((await emulatedAccount(await expectedAccid(next))).calls).toEqual({}); // not called at all
  });

  it("refuses an unknown NIM_REGION and a non-https base in the list", async () => {
    const region = await call("/healthz", {}, { NIM_REGION: "eu" });
    expect(await region.json()).toMatchObject({ status: "misconfigured", invalid: ["NIM_REGION"] });
    const list = await call("/healthz", {}, { NIM_API_BASE: `${primary()},http://example.com/nimserver` });
    expect(await list.json()).toMatchObject({ status: "misconfigured", invalid: ["NIM_API_BASE"] });
    const ok = await call("/healthz", {}, { NIM_API_BASE: "", NIM_REGION: "sg" });
    expect(ok.status).toBe(200);
  });
});
