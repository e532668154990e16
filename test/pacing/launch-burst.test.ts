/**
 * A launch-day burst against a Worker whose NIM_CREATE_RATE is 2 a second (its own Vitest project,
 * "worker-pacing", so no other test shares the queue): new users beyond what the queue serves within
 * its 3 s get 503 with a Retry-After, never a NetEase 416; known users and an operator's block pass
 * while the queue is full; each new uid costs one NetEase call.
 */

import { describe, expect, it } from "vitest";
import { adminCall, emulatedAccount, hsJwt, issue, seg, tokenFor, uniqueUid } from "../worker/helpers.ts";

describe("a launch-day burst, paced", () => {
  it("serves what the pace allows, answers the rest 503 with Retry-After, and lets known users and operators through", async () => {
    const known = uniqueUid("known");
    const { accid: knownAccid } = await tokenFor(known);
    // Let the pacer's schedule fall back to now before the burst.
    await new Promise((resolve) => setTimeout(resolve, 600));

    const uids = Array.from({ length: 10 }, () => uniqueUid("launch"));
    const burst = Promise.all(uids.map(async (uid) => issue(await hsJwt(uid))));
    // While the burst waits for its slots: a known user gets a token, an operator blocks at once.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const knownStarted = Date.now();
    expect((await issue(await hsJwt(known))).status).toBe(200);
    const blocked = await adminCall("POST", `/accounts/${seg(known)}/block`, { kick: false });
    const operatorMs = Date.now() - knownStarted;
    expect(blocked.status).toBe(200);
    expect((await emulatedAccount(knownAccid)).blocked).toBe(true);
    expect(operatorMs).toBeLessThan(2_000);

    const answers = await burst;
    const served = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status !== 200);
    // 2 a second with 3 s of queue: slots at 0, 0.5, …, 3 s.
    expect(served).toHaveLength(7);
    expect(refused).toHaveLength(3);
    for (const answer of refused) {
      expect(answer.status).toBe(503);
      expect(Number(answer.headers.get("Retry-After"))).toBeGreaterThanOrEqual(1);
      expect(await answer.json()).toEqual({
        error: "upstream_unavailable",
        message: "New IM accounts are being created as fast as NetEase allows; retry after the time given.",
      });
    }
    // One NetEase creation per served uid, none for the refused ones (nothing half-made).
    for (const [index, answer] of answers.entries()) {
      const record = await adminCall("GET", `/accounts/${seg(uids[index]!)}`);
      if (answer.status !== 200) {
        expect(record.status).toBe(404);
        continue;
      }
      const { accid } = await answer.json<{ accid: string }>();
      expect((await emulatedAccount(accid)).calls.create).toBe(1);
    }
  });
});
