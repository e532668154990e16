/**
 * NetEase's 416 (over the app's call rate) seen through the token route. In a file of its own: the
 * block is per isolate, and the uid objects' NetEase client lives in this file's isolate, so no other
 * test may need NetEase within the next 10 s.
 */

import { expect, it, vi } from "vitest";
import { AccountStore } from "../../src/accounts/store.ts";
import { emulatedAccount, env, expectedAccid, hsJwt, injectFault, issue, uniqueUid } from "./helpers.ts";

it("after a 416 answers 503 with Retry-After 10 and calls NetEase no more until the block has passed", async () => {
  const first = uniqueUid("limited");
  await injectFault(await expectedAccid(first), "user/create.action", "code416");
  const limited = await issue(await hsJwt(first));
  expect(limited.status).toBe(503);
  expect(Number(limited.headers.get("Retry-After"))).toBeGreaterThanOrEqual(10);
  expect(await limited.json()).toMatchObject({ error: "upstream_unavailable" });
  expect(await new AccountStore(env.ACCOUNTS!).get(first)).toBeNull(); // nothing written
  const next = uniqueUid("during-block");
  const during = await issue(await hsJwt(next));
  expect(during.status).toBe(503);
  expect(Number(during.headers.get("Retry-After"))).toBeGreaterThanOrEqual(10);
  expect((await emulatedAccount(await expectedAccid(next))).calls).toEqual({}); // not called at all

  // Once NetEase's ~10 s refusal has passed, calls resume: the waiting user gets an account.
  vi.useFakeTimers({ toFake: ["Date"] });
  try {
    vi.setSystemTime(Date.now() + 10_500);
    expect((await issue(await hsJwt(next))).status).toBe(200);
    expect((await emulatedAccount(await expectedAccid(next))).calls).toEqual({ create: 1 });
  } finally {
    vi.useRealTimers();
  }
});
