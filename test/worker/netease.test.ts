/** The real service's behaviour around the server API: domains and failover, RequestId, 416 blocks. */

import { describe, expect, it } from "vitest";
import {
  apiVersion,
  call,
  emulatedAccount,
  emulatorNim,
  env,
  expectedAccid,
  injectFault,
  uniqueUid,
} from "./helpers.ts";

const primary = () => `${env.EMULATOR_URL}/nimserver`;
const backup = () => `${env.EMULATOR_URL}/backup/nimserver`;

describe("server API domains and failover", () => {
  // These run the Worker's NetEase client directly, each with its own base list and its own state
  // (cool-downs, the 416 block): account changes happen in the uid's Durable Object, whose settings
  // come from the test environment and cannot be overridden per request.

  it("fails over from a dead primary to the backup", async () => {
    // Nothing listens on port 1: a connection failure, as for a NetEase domain that is down.
    const nim = emulatorNim(["http://127.0.0.1:1/nimserver", backup()]);
    const accid = await expectedAccid(uniqueUid("failover"));
    expect(await nim.createAccount(accid)).toEqual({ accid, created: true });
    const account = await emulatedAccount(accid);
    expect(account.exists).toBe(true);
    expect(account.requestIds).toEqual([expect.stringMatching(/^backup:[0-9a-f-]{36}$/)]);
  });

  it("retries an HTTP 502 once on the backup with the same RequestId (fresh CheckSum and Nonce)", async () => {
    const nim = emulatorNim([primary(), backup()]);
    const accid = await expectedAccid(uniqueUid("retry"));
    await injectFault(accid, "user/create.action", "http502", 1, "primary");
    expect((await nim.createAccount(accid)).created).toBe(true);
    const { requestIds } = await emulatedAccount(accid);
    expect(requestIds).toHaveLength(2);
    const [first, second] = requestIds.map((entry) => entry.split(":"));
    expect(first![0]).toBe("primary");
    expect(second![0]).toBe("backup");
    expect(second![1]).toBe(first![1]);
    // The emulator refuses a repeated Nonce (431): the retry was signed afresh, or it would have failed.
  });

  it.each(["http503", "timeout"])("retries a %s on the backup too (a gateway answer or no answer)", async (mode) => {
    const nim = emulatorNim([primary(), backup()]);
    const accid = await expectedAccid(uniqueUid(`retry-${mode}`));
    await injectFault(accid, "create", mode, 1, "primary");
    expect((await nim.createAccount(accid)).created).toBe(true);
    expect((await emulatedAccount(accid)).requestIds).toEqual([
      expect.stringMatching(/^primary:/),
      expect.stringMatching(/^backup:/),
    ]);
  });

  it("does not retry an HTTP 500: NetEase's application failed, and it is behind both bases", async () => {
    const nim = emulatorNim([primary(), backup()]);
    const accid = await expectedAccid(uniqueUid("no-retry"));
    await injectFault(accid, "create", "http500", 1, "primary");
    await expect(nim.createAccount(accid)).rejects.toMatchObject({ kind: "upstream_unavailable" });
    const account = await emulatedAccount(accid);
    expect(account.requestIds).toEqual([expect.stringMatching(/^primary:/)]);
    expect(account.exists).toBe(false);
  });

  it("does not take a create refused for another reason for an account that exists", async () => {
    const nim = emulatorNim([primary()]);
    const accid = await expectedAccid(uniqueUid("refused"));
    await injectFault(accid, "create", "code403");
    await expect(nim.createAccount(accid)).rejects.toMatchObject({ kind: "upstream_rejected" });
    expect((await emulatedAccount(accid)).exists).toBe(false);
  });

  it("kicks an account's live sessions and leaves it usable", async () => {
    const nim = emulatorNim([primary()]);
    const accid = await expectedAccid(uniqueUid("kick"));
    await nim.createAccount(accid);
    await nim.kickAccount(accid, false);
    const account = await emulatedAccount(accid);
    expect(account).toMatchObject({ exists: true, blocked: false, kicks: 1 });
    // v1 has no kick of its own: it blocks with needkick and unblocks at once (two calls).
    expect(account.calls).toEqual(apiVersion() === "v2" ? { create: 1, kick: 1 } : { create: 1, block: 1, unblock: 1 });
  });

  it("skips a base that just failed for a while (cool-down), so a dead primary does not cost every call", async () => {
    const nim = emulatorNim([primary(), backup()]);
    const first = await expectedAccid(uniqueUid("cooldown-1"));
    await injectFault(first, "user/create.action", "http502", 1, "primary");
    await nim.createAccount(first);
    // The primary would answer now, but it is cooling down: the next call goes to the backup first.
    const second = await expectedAccid(uniqueUid("cooldown-2"));
    await nim.createAccount(second);
    expect((await emulatedAccount(second)).requestIds).toEqual([expect.stringMatching(/^backup:/)]);
  });

  it("after a 416 refuses every call for 10 s without calling NetEase (upstream_rate_limited)", async () => {
    const nim = emulatorNim([primary()]);
    const first = await expectedAccid(uniqueUid("limited"));
    await injectFault(first, "user/create.action", "code416");
    await expect(nim.createAccount(first)).rejects.toMatchObject({ kind: "upstream_rate_limited" });
    const next = await expectedAccid(uniqueUid("during-block"));
    await expect(nim.createAccount(next)).rejects.toMatchObject({ kind: "upstream_rate_limited" });
    expect((await emulatedAccount(next)).calls).toEqual({}); // not called at all
  });

  it("refuses an unknown NIM_API_VERSION, an unknown NIM_REGION and a non-https base in the list", async () => {
    const version = await call("/healthz", {}, { NIM_API_VERSION: "v3" });
    expect(await version.json()).toMatchObject({ status: "misconfigured", invalid: ["NIM_API_VERSION"] });
    const region = await call("/healthz", {}, { NIM_REGION: "eu" });
    expect(await region.json()).toMatchObject({ status: "misconfigured", invalid: ["NIM_REGION"] });
    const list = await call("/healthz", {}, { NIM_API_BASE: `${primary()},http://example.com/nimserver` });
    expect(await list.json()).toMatchObject({ status: "misconfigured", invalid: ["NIM_API_BASE"] });
    const ok = await call("/healthz", {}, { NIM_API_BASE: "", NIM_REGION: "sg" });
    expect(ok.status).toBe(200);
  });
});
