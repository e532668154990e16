/**
 * Pacing first-time creations (src/pacing/create-pacer.ts): the schedule's known answers, and the
 * pacer object over RPC. The end-to-end behaviour under a full queue runs in its own Vitest project
 * with a low NIM_CREATE_RATE (test/pacing/launch-burst.test.ts), so no other test shares its queue.
 */

import { describe, expect, it, vi } from "vitest";
import { DomainError } from "../../src/errors.ts";
import { CreatePacing, reserveSlot, type SlotAnswer, windowWait } from "../../src/pacing/create-pacer.ts";
import { env } from "./helpers.ts";

describe("the creation schedule", () => {
  it("spaces slots evenly at the rate, and refuses past the longest wait with the time the queue needs", () => {
    // 4 a second: a slot every 250 ms; callers accept up to 600 ms.
    let next = 0;
    const answers: SlotAnswer[] = [];
    for (let i = 0; i < 5; i++) {
      const reserved = reserveSlot(next, 10_000, 4, 600);
      answers.push(reserved.answer);
      next = reserved.next;
    }
    expect(answers).toEqual([
      { waitMs: 0 },
      { waitMs: 250 },
      { waitMs: 500 },
      { retryAfterSeconds: 1 },
      { retryAfterSeconds: 1 },
    ]);
    // A refusal takes no slot: the schedule still ends 750 ms ahead.
    expect(next).toBe(10_750);
    // Time passes: the queue drains, and an idle pacer never banks slots for a burst later.
    expect(reserveSlot(next, 10_700, 4, 600)).toEqual({ answer: { waitMs: 50 }, next: 11_000 });
    expect(reserveSlot(next, 60_000, 4, 600)).toEqual({ answer: { waitMs: 0 }, next: 60_250 });
  });

  it("computes Retry-After from how far the queue is over the longest wait", () => {
    // 10 a second, 20 s of queue, 3 s accepted: 17 s until a caller would be served in time.
    expect(reserveSlot(30_000, 10_000, 10, 3_000).answer).toEqual({ retryAfterSeconds: 17 });
    expect(reserveSlot(13_001, 10_000, 10, 3_000).answer).toEqual({ retryAfterSeconds: 1 });
  });
});

describe("the release window", () => {
  it("keeps every 1000 ms at the rate or under, whenever releases come", () => {
    expect(windowWait([], 5_000, 3)).toBe(0);
    expect(windowWait([4_100, 4_500], 5_000, 3)).toBe(0);
    // Three in the last second at 3 a second: the next may go when the oldest of them leaves.
    expect(windowWait([4_100, 4_500, 4_900], 5_000, 3)).toBe(100);
    // Late timers bunch releases: a fourth must wait until the window holds two.
    expect(windowWait([3_000, 4_990, 4_995, 4_999], 5_000, 3)).toBe(990);
    // Releases older than a second do not count.
    expect(windowWait([3_999, 4_000, 4_001], 5_001, 3)).toBe(0);
  });
});

describe("the pacer object", () => {
  it("hands out slots across callers at the rate, then refuses with creation_queue_full and a Retry-After", async () => {
    // A pacer of its own (the name is per app key): 5 a second, at most 1 s of waiting.
    const pacing = new CreatePacing(env.NIM_CREATE_PACER!, `test-${crypto.randomUUID()}`, 5, 1_000);
    const started = Date.now();
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => pacing.acquire()));
    const elapsed = Date.now() - started;
    const refused = outcomes.filter((outcome) => outcome.status === "rejected");
    // Slots at 0, 200, …, 1000 ms: six served, two refused.
    expect(outcomes.filter((outcome) => outcome.status === "fulfilled")).toHaveLength(6);
    expect(refused).toHaveLength(2);
    for (const outcome of refused) {
      const error = (outcome as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ kind: "creation_queue_full", retryAfter: 1 });
    }
    // The last served caller waited for its slot (behaviour, not a speed goal: a lower bound).
    expect(elapsed).toBeGreaterThanOrEqual(950);
  });

  it("lets creations through, and logs it, when the pacer cannot be reached", async () => {
    const broken = {
      idFromName: (name: string) => env.NIM_CREATE_PACER!.idFromName(name),
      get: () => ({
        reserve: () => Promise.reject(new Error("object unreachable")),
      }),
    };
    const logged = vi.spyOn(console, "warn");
    try {
      await new CreatePacing(broken, "app", 1, 0).acquire();
      expect(logged.mock.calls.map((args) => String(args[0])).join("\n")).toContain(
        '"event":"create_pacer_unreachable"',
      );
    } finally {
      logged.mockRestore();
    }
  });
});
