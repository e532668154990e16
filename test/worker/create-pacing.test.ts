/**
 * Pacing first-time creations (src/accounts/create-pacer.ts): the schedule's known answers, and the
 * pacer object over RPC. The end-to-end behaviour under a full queue runs in its own Vitest project
 * with a low NIM_CREATE_RATE (test/pacing/launch-burst.test.ts), so no other test shares its queue.
 */

import { describe, expect, it, vi } from "vitest";
import { CreatePacing, CreateSchedule, windowWait } from "../../src/accounts/create-pacer.ts";
import { DomainError } from "../../src/core/errors.ts";
import { networkOf, visitorNetworkOf } from "../../src/http/limits.ts";
import { call, env, hsJwt, issue, ownRuntime, uniqueUid } from "./helpers.ts";

describe("the creation schedule", () => {
  // Small bounds, so the known answers stay readable: turns booked up to 5 s ahead, kept 1 s past
  // their time, released uids remembered for 10 s; no network bound but where a test sets one.
  const bounds = { horizonMs: 5_000, graceMs: 1_000, rememberMs: 10_000, bookingsPerNetwork: 1_000 };

  it("spaces turns evenly at the rate; past the longest wait it books the turn and says when to come back", () => {
    // 4 a second: a turn every 250 ms; callers accept up to 600 ms on the spot.
    const schedule = new CreateSchedule(bounds);
    const answers = ["u0", "u1", "u2", "u3", "u4"].map((uid) => schedule.ask(uid, 10_000, 4, 600));
    expect(answers).toEqual([
      { waitMs: 0 },
      { waitMs: 250 },
      { waitMs: 500 },
      // Turns at 10 750 and 11 000, booked: come back within the second before the turn.
      { retryAfterSeconds: 1 },
      { retryAfterSeconds: 1 },
    ]);
    expect(schedule.bookings).toBe(2);
    // u4 comes back too early: told again, its turn kept.
    expect(schedule.ask("u4", 10_100, 4, 600)).toEqual({ retryAfterSeconds: 1 });
    expect(schedule.bookings).toBe(2);
    // u3 comes back 250 ms after its turn (within the grace): it goes at once.
    expect(schedule.ask("u3", 11_000, 4, 600)).toEqual({ waitMs: 0 });
    expect(schedule.bookings).toBe(1);
    // A newcomer queues behind the booked turns; it does not take u4's.
    expect(schedule.ask("n1", 11_000, 4, 600)).toEqual({ waitMs: 250 });
    // u4 is back in time for its turn (11 000), and is held for the rest of it.
    expect(schedule.ask("u4", 10_800, 4, 600)).toEqual({ waitMs: 200 });
    expect(schedule.bookings).toBe(0);
  });

  it("without booking (a chatroom call), refuses a far turn and takes nobody's place", () => {
    const schedule = new CreateSchedule(bounds);
    expect(schedule.ask("u0", 0, 1, 0)).toEqual({ waitMs: 0 });
    expect(schedule.ask("room", 0, 1, 0, "net", false)).toEqual({ retryAfterSeconds: 1 });
    expect(schedule.bookings).toBe(0);
    // The next sign-up gets the turn the chatroom call was refused: at 1 000, booked.
    expect(schedule.ask("u1", 0, 1, 0)).toEqual({ retryAfterSeconds: 1 });
    expect(schedule.bookings).toBe(1);
    // Within reach, a chatroom call takes a turn like anyone.
    expect(schedule.ask("room", 0, 1, 5_000, "net", false)).toEqual({ waitMs: 2_000 });
  });

  it("forgets a turn whose caller is later than the grace; that caller queues again", () => {
    const schedule = new CreateSchedule(bounds);
    schedule.ask("u0", 0, 1, 0);
    expect(schedule.ask("u1", 0, 1, 0)).toEqual({ retryAfterSeconds: 1 }); // turn at 1 000
    expect(schedule.ask("u2", 0, 1, 0)).toEqual({ retryAfterSeconds: 2 }); // turn at 2 000
    // At 2 100, u1's turn is 1 100 ms gone (grace 1 000): forgotten. u2's is 100 ms gone: kept.
    expect(schedule.ask("u2", 2_100, 1, 0)).toEqual({ waitMs: 0 });
    expect(schedule.bookings).toBe(0);
    // u1 is a newcomer again: the next free turn is 3 000.
    expect(schedule.ask("u1", 2_100, 1, 0)).toEqual({ retryAfterSeconds: 1 });
  });

  it("books only within the horizon; beyond it, says when the queue will be short enough to book", () => {
    const schedule = new CreateSchedule(bounds);
    // 1 a second, nothing accepted on the spot but a turn now.
    const answers = Array.from({ length: 8 }, (_, i) => schedule.ask(`u${i}`, 0, 1, 0));
    expect(answers).toEqual([
      { waitMs: 0 },
      { retryAfterSeconds: 1 },
      { retryAfterSeconds: 2 },
      { retryAfterSeconds: 3 },
      { retryAfterSeconds: 4 },
      { retryAfterSeconds: 5 },
      // The next turn would be 6 s away, past the 5 s horizon: not booked.
      { retryAfterSeconds: 1 },
      { retryAfterSeconds: 1 },
    ]);
    expect(schedule.bookings).toBe(5);
  });

  it("tells a far-off booked caller to come back within the second before its turn", () => {
    // 10 a second, the queue 20 s long, 3 s accepted on the spot: back in 20 s, not in 17 s (when
    // it would be held for 3 s) nor after its turn.
    const schedule = new CreateSchedule({ ...bounds, horizonMs: 60_000 });
    for (let i = 0; i < 200; i++) schedule.ask(`early${i}`, 10_000, 10, 3_000);
    expect(schedule.ask("late", 10_000, 10, 3_000)).toEqual({ retryAfterSeconds: 20 });
    expect(schedule.ask("later", 10_050, 10, 3_000)).toEqual({ retryAfterSeconds: 20 });
  });

  it("books at most its share of turns for one client network; others still book, and claimed turns free the share", () => {
    // 1 a second, nothing accepted on the spot but a turn now; 2 bookings a network, 10 s horizon.
    const schedule = new CreateSchedule({ ...bounds, horizonMs: 10_000, bookingsPerNetwork: 2 });
    expect(schedule.ask("a0", 0, 1, 0, "203.0.113.9")).toEqual({ waitMs: 0 });
    expect(schedule.ask("a1", 0, 1, 0, "203.0.113.9")).toEqual({ retryAfterSeconds: 1 }); // booked at 1 000
    expect(schedule.ask("a2", 0, 1, 0, "203.0.113.9")).toEqual({ retryAfterSeconds: 2 }); // booked at 2 000
    // The network's share is held: refused without a turn (the queue does not move) ...
    for (let i = 3; i < 50; i++)
      expect(schedule.ask(`a${i}`, 0, 1, 0, "203.0.113.9")).toEqual({ retryAfterSeconds: 3 });
    expect(schedule.bookings).toBe(2);
    // ... so a real sign-up from elsewhere books the very next turn, not one 48 s away.
    expect(schedule.ask("real", 0, 1, 0, "198.51.100.7")).toEqual({ retryAfterSeconds: 3 }); // booked at 3 000
    expect(schedule.bookings).toBe(3);
    // A claimed turn frees a place in the network's share.
    expect(schedule.ask("a1", 1_000, 1, 0, "203.0.113.9")).toEqual({ waitMs: 0 });
    expect(schedule.ask("a3", 1_000, 1, 0, "203.0.113.9")).toEqual({ retryAfterSeconds: 3 }); // booked at 4 000
    expect(schedule.bookings).toBe(3);
    // So does a turn forgotten after its grace: a2 (2 000) never came back; by 3 100 it is gone.
    expect(schedule.ask("a4", 3_100, 1, 0, "203.0.113.9")).toEqual({ retryAfterSeconds: 2 }); // booked at 5 000
  });

  it("lets a uid released within KV's consistency window past the queue, taking no turn", () => {
    const schedule = new CreateSchedule(bounds);
    expect(schedule.ask("u0", 0, 1, 5_000)).toEqual({ waitMs: 0 });
    schedule.release("u0", 0);
    expect(schedule.ask("u1", 0, 1, 5_000)).toEqual({ waitMs: 1_000 });
    // Another location whose KV does not show u0's record yet: u0 goes at once, the queue unmoved.
    expect(schedule.ask("u0", 500, 1, 5_000)).toEqual({ waitMs: 0 });
    expect(schedule.ask("u2", 500, 1, 5_000)).toEqual({ waitMs: 1_500 });
    // After the window, u0 is a stranger again (its record is visible everywhere by then).
    expect(schedule.ask("u0", 10_001, 1, 5_000)).toEqual({ waitMs: 0 });
    expect(schedule.ask("u3", 10_001, 1, 5_000)).toEqual({ waitMs: 1_000 });
  });

  it("keeps releases, booked or not, at the rate in every second", () => {
    const schedule = new CreateSchedule(bounds);
    for (const at of [4_100, 4_500, 4_900]) schedule.release(`r${at}`, at);
    expect(schedule.windowWait(5_000, 3)).toBe(100);
    expect(schedule.windowWait(5_100, 3)).toBe(0);
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
  it("hands out turns at the rate, refuses past the longest wait, and serves the refused in their booked turns", async () => {
    // A pacer of its own (the name is per app key): 5 a second, at most 1 s of waiting.
    const pacing = new CreatePacing(env.NIM_CREATE_PACER!, `test-${crypto.randomUUID()}`, 5, 1_000);
    const uids = Array.from({ length: 8 }, (_, i) => `signup-${i}`);
    const started = Date.now();
    const outcomes = await Promise.allSettled(uids.map((uid) => pacing.acquire(uid)));
    const elapsed = Date.now() - started;
    // Turns at 0, 200, …, 1000 ms: six served; the two after are booked (1 200, 1 400 ms) and refused.
    expect(outcomes.map((outcome) => outcome.status)).toEqual([...Array(6).fill("fulfilled"), "rejected", "rejected"]);
    for (const outcome of outcomes.slice(6)) {
      const error = (outcome as PromiseRejectedResult).reason;
      expect(error).toBeInstanceOf(DomainError);
      expect(error).toMatchObject({ kind: "creation_queue_full", retryAfter: 1 });
    }
    // The last served caller waited for its turn (behaviour, not a speed goal: a lower bound).
    expect(elapsed).toBeGreaterThanOrEqual(950);
    // Newcomers now would queue after 1 400 ms; the two refused, back when told, go first.
    await new Promise((resolve) => setTimeout(resolve, 1_000 - (Date.now() - started)));
    const order: string[] = [];
    const ask = (uid: string) => pacing.acquire(uid).then(() => order.push(uid));
    await Promise.all([ask("newcomer"), ask(uids[7]!), ask(uids[6]!)]);
    expect(order).toEqual([uids[6], uids[7], "newcomer"]);
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
      await new CreatePacing(broken, "app", 1, 0).acquire("someone");
      expect(logged.mock.calls.map((args) => String(args[0])).join("\n")).toContain(
        '"event":"create_pacer_unreachable"',
      );
    } finally {
      logged.mockRestore();
    }
  });
});

describe("the client network a turn is booked for", () => {
  it.each([
    ["203.0.113.9", "203.0.113.9"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"],
    ["2001:0DB8:0001:0002::1", "2001:db8:1:2::/64"],
    ["2001:db8:1:2:ffff::", "2001:db8:1:2::/64"],
    ["2001:db8::1", "2001:db8:0:0::/64"],
    ["::1", "0:0:0:0::/64"],
    // IPv4 written as IPv6 is that IPv4 address: mapped (dotted or not) and NAT64's well-known prefix.
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["::FFFF:c000:0201", "192.0.2.1"],
    ["0:0:0:0:0:ffff:192.0.2.1", "192.0.2.1"],
    ["64:ff9b::198.51.100.7", "198.51.100.7"],
    ["64:ff9b:1:2:3:4:192.0.2.1", "64:ff9b:1:2::/64"],
    // Not IPv6 addresses: each its own network, as written.
    ["1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7:8:9"],
    ["1::2::3", "1::2::3"],
    ["1:2:3:4:5:6:7::8:9", "1:2:3:4:5:6:7::8:9"],
    ["2001:db8:g::1", "2001:db8:g::1"],
    ["fe80::1%eth0", "fe80::1%eth0"],
    ["::ffff:300.1.1.1", "::ffff:300.1.1.1"],
    ["1:2:3:4:5:6:1.2.3.4:7", "1:2:3:4:5:6:1.2.3.4:7"],
    ["198.51.100.7:abcd", "198.51.100.7:abcd"],
    ["unknown", "unknown"],
  ])("%s is %s", (ip, network) => {
    expect(networkOf(ip)).toBe(network);
  });

  it.each([
    ["203.0.113.9", "203.0.113.9"],
    ["2001:db8:1:2:3:4:5:6", "2001:db8:1:0::/56"],
    ["2001:db8:1:2ff::1", "2001:db8:1:200::/56"],
    ["::ffff:192.0.2.1", "192.0.2.1"],
    ["unknown", "unknown"],
  ])("for a visitor without a session, %s is %s", (ip, network) => {
    expect(visitorNetworkOf(ip)).toBe(network);
  });

  it("is the one the request came from, read only on a first use", async () => {
    const asked: string[] = [];
    const recording = {
      idFromName: (name: string) => env.NIM_CREATE_PACER!.idFromName(name),
      get: () => ({
        reserve: async (_uid: string, _rate: number, _wait: number, network: string) => {
          asked.push(network);
          return { waitMs: 0 };
        },
      }),
    };
    const settings = { ...ownRuntime(), NIM_CREATE_PACER: recording };
    const uid = uniqueUid("network");
    const first = await issue(await hsJwt(uid), undefined, settings);
    expect(first.status).toBe(200);
    asked.length = 0;
    for (const ip of ["2001:db8:aa:bb:1:2:3:4", "2001:db8:aa:bb:ffff::9"]) {
      const response = await call(
        "/v1/token",
        {
          method: "POST",
          headers: { Authorization: `Bearer ${await hsJwt(uniqueUid("network"))}`, "CF-Connecting-IP": ip },
        },
        settings,
      );
      expect(response.status).toBe(200);
    }
    expect(asked).toEqual(["2001:db8:aa:bb::/64", "2001:db8:aa:bb::/64"]);
    // A known user asks for no turn at all.
    expect((await issue(await hsJwt(uid), undefined, settings)).status).toBe(200);
    expect(asked).toHaveLength(2);
  });
});
