/** Chatroom link addresses per isolate (src/chatroom/links.ts): kept per room and place, shared, paced. */

import { describe, expect, it } from "vitest";
import type { CreatePacing } from "../../src/accounts/create-pacer.ts";
import { ChatroomLinks, clientPlace } from "../../src/chatroom/links.ts";
import { TIMING } from "../../src/core/constants.ts";
import { DomainError } from "../../src/core/errors.ts";
import type { ChatroomAddressQuery, NimServerApi } from "../../src/nim/server-api.ts";

/** A NetEase that answers each address call after `delayMs` with addresses naming the client's IP, and counts the calls. */
function fakeNetEase(delayMs = 0) {
  const calls: ChatroomAddressQuery[] = [];
  const nim = {
    async chatroomAddresses(query: ChatroomAddressQuery) {
      calls.push(query);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      if (query.roomId === "404") throw new DomainError("chatroom_unavailable");
      if (query.accid === "banned") throw new DomainError("chatroom_refused");
      return [`near-${query.clientIp}:443`];
    },
  } as unknown as NimServerApi;
  return { nim, calls };
}

const room = (roomId: string, clientType: 1 | 2 | 3 = 1) => ({ roomId, accid: "a1", clientType });
const here = clientPlace({ asn: 4134, colo: "HKG" }, "203.0.113.7", "203.0.113.7");

describe("where a client is, for the links NetEase picks (clientPlace)", () => {
  it("is its carrier and Cloudflare location when Cloudflare says them, else its own network", () => {
    expect(here).toEqual({ ip: "203.0.113.7", key: "as4134@HKG", network: "203.0.113.7" });
    expect(clientPlace(undefined, undefined, "unknown").key).toBe("net:unknown");
    expect(clientPlace({ asn: "4134", colo: "HKG" }, "192.0.2.1", "192.0.2.1").key).toBe("net:192.0.2.1");
    expect(clientPlace({ asn: 4134, colo: "hk/../x" }, "192.0.2.1", "192.0.2.1").key).toBe("net:192.0.2.1");
  });
});

describe("ChatroomLinks", () => {
  it("asks NetEase once per room, client type and place within the window, with the first asker's IP", async () => {
    let now = 1_000_000;
    const { nim, calls } = fakeNetEase();
    const links = new ChatroomLinks(nim, undefined, () => now);
    expect(await links.addresses(room("1"), here)).toEqual(["near-203.0.113.7:443"]);
    const neighbour = clientPlace({ asn: 4134, colo: "HKG" }, "203.0.113.99", "203.0.113.99");
    expect(await links.addresses({ ...room("1"), accid: "other" }, neighbour)).toEqual(["near-203.0.113.7:443"]);
    expect(calls).toHaveLength(1);
    await links.addresses(room("1", 2), here);
    await links.addresses(room("2"), here);
    await links.addresses(room("1"), clientPlace({ asn: 4837, colo: "HKG" }, "198.51.100.1", "198.51.100.1"));
    expect(calls).toHaveLength(4);
    now += TIMING.chatroomLinksTtlMs;
    await links.addresses(room("1"), here);
    expect(calls).toHaveLength(5);
    expect(calls[0]).toEqual({ roomId: "1", accid: "a1", clientType: 1, clientIp: "203.0.113.7" });
  });

  it("shares one call among concurrent askers, but one account's refusal stays its own", async () => {
    const { nim, calls } = fakeNetEase(20);
    const links = new ChatroomLinks(nim, undefined);
    const answers = await Promise.all(Array.from({ length: 50 }, () => links.addresses(room("1"), here)));
    expect(new Set(answers.map((answer) => answer.join()))).toEqual(new Set(["near-203.0.113.7:443"]));
    expect(calls).toHaveLength(1);
    // A banned account's call in flight: the others waiting on it ask for themselves.
    const banned = links.addresses({ ...room("2"), accid: "banned" }, here);
    const other = links.addresses(room("2"), here);
    await expect(banned).rejects.toMatchObject({ kind: "chatroom_refused" });
    expect(await other).toEqual(["near-203.0.113.7:443"]);
    expect(calls.map((call) => call.accid)).toEqual(["a1", "banned", "a1"]);
  });

  it("keeps a room NetEase does not know for the window, whatever the place, and no other failure", async () => {
    let now = 0;
    const { nim, calls } = fakeNetEase();
    const links = new ChatroomLinks(nim, undefined, () => now);
    const elsewhere = clientPlace({ asn: 1, colo: "FRA" }, "192.0.2.1", "192.0.2.1");
    await expect(links.addresses(room("404"), here)).rejects.toMatchObject({ kind: "chatroom_unavailable" });
    await expect(links.addresses(room("404", 2), elsewhere)).rejects.toMatchObject({ kind: "chatroom_unavailable" });
    expect(calls).toHaveLength(1);
    now += TIMING.chatroomLinksTtlMs;
    await expect(links.addresses(room("404"), here)).rejects.toMatchObject({ kind: "chatroom_unavailable" });
    expect(calls).toHaveLength(2);
    await expect(links.addresses({ ...room("5"), accid: "banned" }, here)).rejects.toMatchObject({
      kind: "chatroom_refused",
    });
    await expect(links.addresses({ ...room("5"), accid: "banned" }, here)).rejects.toMatchObject({
      kind: "chatroom_refused",
    });
    expect(calls).toHaveLength(4);
  });

  it("keeps at most its limit of answers, dropping the oldest", async () => {
    const { nim, calls } = fakeNetEase();
    const links = new ChatroomLinks(nim, undefined);
    for (let i = 0; i <= 1000; i++) await links.addresses(room(String(10_000 + i)), here);
    await links.addresses(room("11000"), here); // the newest: kept
    expect(calls).toHaveLength(1001);
    await links.addresses(room("10000"), here); // the oldest: dropped, so asked again
    expect(calls).toHaveLength(1002);
  });

  it("takes a turn at the app's pacer before a call, and tells a caller whose turn is far to retry", async () => {
    const { nim, calls } = fakeNetEase();
    const turns: string[] = [];
    const pacing = {
      async acquire(uid: string, network: string, book: boolean) {
        turns.push(`${uid} from ${network}, booking ${book}`);
        if (turns.length > 1) throw new DomainError("creation_queue_full", { retryAfter: 7 });
      },
    } as unknown as CreatePacing;
    const links = new ChatroomLinks(nim, pacing);
    await links.addresses(room("1"), here);
    await links.addresses(room("1"), here); // kept: no turn
    // A key no uid can be (uids hold no NUL), and never a booking that would hold back sign-ups.
    expect(turns).toEqual(["\u0000chatroom:1/1/as4134@HKG from 203.0.113.7, booking false"]);
    const refused = await links.addresses(room("2"), here).catch((error: unknown) => error);
    expect(refused).toMatchObject({ kind: "upstream_unavailable", retryAfter: 7 });
    expect(calls).toHaveLength(1);
  });
});
