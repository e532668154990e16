/**
 * A launch-day burst against a Worker whose NIM_CREATE_RATE is 2 a second (its own Vitest project,
 * "worker-pacing", so no other test shares the queue): new users beyond what the queue serves within
 * its 3 s get 503 with a Retry-After, never a NetEase 416, and are served in their booked turn when
 * they come back as told; a refusal wakes no account object; known users and an operator's block
 * pass while the queue is full; each new uid costs one NetEase call.
 */

import { listDurableObjectIds } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { adminCall, emulatedAccount, env, hsJwt, issue, seg, tokenFor, uniqueUid } from "../worker/helpers.ts";

describe("a launch-day burst, paced", () => {
  it("serves what the pace allows, books the rest a turn (503 with Retry-After), and lets known users and operators through", async () => {
    const known = uniqueUid("known");
    const { accid: knownAccid } = await tokenFor(known);
    // Let the pacer's schedule fall back to now before the burst.
    await new Promise((resolve) => setTimeout(resolve, 600));

    const uids = Array.from({ length: 10 }, () => uniqueUid("launch"));
    const burst = Promise.all(
      uids.map(async (uid) => {
        const answer = await issue(await hsJwt(uid));
        return { answer, at: Date.now() };
      }),
    );
    // While the burst waits for its turns: a known user gets a token, an operator blocks at once.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const knownStarted = Date.now();
    expect((await issue(await hsJwt(known))).status).toBe(200);
    const blocked = await adminCall("POST", `/accounts/${seg(known)}/block`, { kick: false });
    const operatorMs = Date.now() - knownStarted;
    expect(blocked.status).toBe(200);
    expect((await emulatedAccount(knownAccid)).blocked).toBe(true);
    expect(operatorMs).toBeLessThan(2_000);

    const first = await burst;
    const served = first.filter(({ answer }) => answer.status === 200);
    const refused = first.filter(({ answer }) => answer.status !== 200);
    // 2 a second with 3 s of queue: turns at 0, 0.5, …, 3 s; the next three booked at 3.5, 4 and 4.5 s.
    expect(served).toHaveLength(7);
    expect(refused).toHaveLength(3);
    for (const { answer } of refused) {
      expect(answer.status).toBe(503);
      expect(await answer.json()).toEqual({
        error: "upstream_unavailable",
        message: "New IM accounts are being created as fast as NetEase allows; retry after the time given.",
      });
    }
    // Told to come back within the second before each booked turn (3.5, 4 and 4.5 s from the burst's
    // start, asked a few milliseconds into it): 3 or 4 s, not 1 s.
    for (const { answer } of refused) expect([3, 4]).toContain(Number(answer.headers.get("Retry-After")));
    // A refusal is answered by the pacer alone: no account object exists for a refused uid.
    const objects = new Set((await listDurableObjectIds(env.ACCOUNT_OBJECTS!)).map(String));
    const objectOf = (uid: string) => env.ACCOUNT_OBJECTS!.idFromName(uid).toString();
    expect(uids.filter((uid) => objects.has(objectOf(uid)))).toHaveLength(7);
    for (const index of first.keys()) {
      expect(objects.has(objectOf(uids[index]!))).toBe(first[index]!.answer.status === 200);
    }
    // Back when told, each refused user is served in its turn, ahead of anyone new.
    const answers = await Promise.all(
      first.map(async ({ answer, at }, index) => {
        if (answer.status === 200) return answer;
        const retryAfter = Number(answer.headers.get("Retry-After"));
        await new Promise((resolve) => setTimeout(resolve, at + retryAfter * 1000 - Date.now()));
        return issue(await hsJwt(uids[index]!));
      }),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    // One NetEase creation per uid: a refusal made nothing at NetEase.
    for (const answer of answers) {
      const { accid } = await answer.json<{ accid: string }>();
      expect((await emulatedAccount(accid)).calls.create).toBe(1);
    }
  });
});
