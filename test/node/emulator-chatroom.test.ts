/**
 * The emulator's chatrooms over real HTTP, in both dialects, as NetEase's own server SDKs send and
 * read them (`src/im/v1/chatroom`, `src/im/v2/chatroom` of yunxin-server-sdk-golang): create, get,
 * close and reopen, and the link addresses a client enters by, which vary with its IP and client
 * type. Requests are signed here with Node's crypto, apart from the emulator's and the Worker's own
 * signing code. The codes for an unknown or closed room are the emulator's choice (docs/emulator.md).
 */

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningEmulator, startEmulator } from "../../emulator/serve.ts";
import { type NetEaseBody, netEaseCall } from "../netease-call.ts";

interface App {
  appKey: string;
  appSecret: string;
}
const appA: App = { appKey: "chatroomtestappkeya0000000000000", appSecret: "chatroom-test-secret-a" };
const appB: App = { appKey: "chatroomtestappkeyb0000000000000", appSecret: "chatroom-test-secret-b" };

/** What an answer carries; `room` and `addresses` are read from where each dialect puts them. */
interface Answer {
  status: number;
  code: number;
  text?: string;
  room?: { roomid: number; valid: boolean; creator: string; name: string };
  addresses?: string[];
  // biome-ignore lint/suspicious/noExplicitAny: a test reads NetEase's answers field by field.
  body: Record<string, any>;
}

interface Client {
  /** An address call's client: its IP, NetEase's client type (1 web, 2 native, 3 WeChat), v2's ip_type. */
  ip?: string;
  type?: number;
  ipType?: number;
}

/** One dialect's chatroom calls, and its codes for an unknown and a closed room. */
interface Dialect {
  name: "v1" | "v2";
  notFound: number;
  closed: number;
  create(creator: string, name: string, extra?: Record<string, unknown>): Promise<Answer>;
  get(roomid: number | string): Promise<Answer>;
  setValid(roomid: number | string, operator: string, valid: boolean): Promise<Answer>;
  addresses(roomid: number | string, accid: string, client?: Client): Promise<Answer>;
}

/** A signed server API call at `url`; `secret` signs it (default: the app's own). */
async function serverCall(
  url: string,
  app: App,
  method: string,
  path: string,
  body?: NetEaseBody,
  secret?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const signer = { appKey: app.appKey, appSecret: secret ?? app.appSecret };
  const response = await netEaseCall(`${url}/nimserver`, signer, method, path, body);
  const text = await response.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, body: parsed };
}

function dialect(name: "v1" | "v2", url: () => string, app: App = appA): Dialect {
  const read = (
    { status, body }: { status: number; body: Record<string, unknown> },
    where: "chatroom" | "desc" | "data" | "addr" | "items",
  ): Answer => {
    const code = body.code as number;
    const text = (body.desc ?? body.msg) as string | undefined;
    const answer: Answer = { status, code, body, ...(typeof text === "string" ? { text } : {}) };
    if (code !== 200) return answer;
    if (where === "addr") return { ...answer, addresses: body.addr as string[] };
    if (where === "items") return { ...answer, addresses: (body.data as { items: string[] }).items };
    const room = body[where] as Record<string, unknown>;
    return {
      ...answer,
      room:
        name === "v1"
          ? {
              roomid: room.roomid as number,
              valid: room.valid as boolean,
              creator: room.creator as string,
              name: room.name as string,
            }
          : {
              roomid: room.room_id as number,
              valid: room.valid as boolean,
              creator: room.creator as string,
              name: room.room_name as string,
            },
    };
  };
  if (name === "v1") {
    const post = (action: string, form: Record<string, string>) =>
      serverCall(url(), app, "POST", `chatroom/${action}.action`, { form });
    return {
      name,
      notFound: 404,
      closed: 13002,
      create: async (creator, roomName, extra = {}) =>
        read(await post("create", { creator, name: roomName, ...(extra as Record<string, string>) }), "chatroom"),
      get: async (roomid) => read(await post("get", { roomid: String(roomid) }), "chatroom"),
      setValid: async (roomid, operator, valid) =>
        read(await post("toggleCloseStat", { roomid: String(roomid), operator, valid: String(valid) }), "desc"),
      addresses: async (roomid, accid, client = {}) => {
        const form: Record<string, string> = { roomid: String(roomid), accid };
        if (client.type !== undefined) form.clienttype = String(client.type);
        if (client.ip !== undefined) form.clientip = client.ip;
        return read(await post("requestAddr", form), "addr");
      },
    };
  }
  return {
    name,
    notFound: 113404,
    closed: 113406,
    create: async (creator, roomName, extra = {}) =>
      read(
        await serverCall(url(), app, "POST", "im/v2/chatrooms", { json: { creator, room_name: roomName, ...extra } }),
        "data",
      ),
    get: async (roomid) => read(await serverCall(url(), app, "GET", `im/v2/chatrooms/${roomid}`), "data"),
    setValid: async (roomid, operator, valid) =>
      read(
        await serverCall(url(), app, "PATCH", `im/v2/chatrooms/${roomid}/actions/update_status`, {
          json: { operator_account_id: operator, valid },
        }),
        "data",
      ),
    addresses: async (roomid, accid, client = {}) => {
      // A GET with its parameters in the query, no body and no Content-Type, as NetEase's Go SDK sends it.
      const query = new URLSearchParams({ account_id: accid });
      if (client.ip !== undefined) query.set("client_ip", client.ip);
      if (client.type !== undefined) query.set("client_type", String(client.type));
      if (client.ipType !== undefined) query.set("ip_type", String(client.ipType));
      return read(await serverCall(url(), app, "GET", `im/v2/chatrooms/${roomid}/actions/address?${query}`), "items");
    },
  };
}

/** The emulator-only endpoints (no CheckSum). */
async function emulatorCall(url: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}/emulator/${path}`, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  // biome-ignore lint/suspicious/noExplicitAny: a test reads the answers field by field.
  return { status: response.status, body: (await response.json()) as Record<string, any> };
}

const web = (edge: string, v6 = "") => [
  `weblink-${edge}.${v6}chatroom.emulator.test:443`,
  `weblink-${edge}-bak.${v6}chatroom.emulator.test:443`,
];

describe.each(["v1", "v2"] as const)("chatrooms over the %s server API", (version) => {
  let emulator: RunningEmulator;
  const nim = dialect(version, () => emulator.url);
  const inspect = async (roomid: number, appKey?: string) =>
    (await emulatorCall(emulator.url, "GET", `chatrooms/${roomid}${appKey ? `?appKey=${appKey}` : ""}`)).body;
  const stats = async () => (await emulatorCall(emulator.url, "GET", "stats")).body;
  /** A room created by `creator` (registered first). */
  const roomOf = async (creator: string, name = "room"): Promise<number> => {
    await emulatorCall(emulator.url, "POST", "accounts", { accid: creator });
    const created = await nim.create(creator, name);
    expect(created).toMatchObject({ status: 200, code: 200 });
    return created.room!.roomid;
  };

  beforeAll(async () => {
    emulator = await startEmulator({ ...appA, apps: [appB] });
    for (const accid of ["host_1", "guest_1", "other_1"]) {
      await emulatorCall(emulator.url, "POST", "accounts", { accid });
    }
  });
  afterAll(() => emulator.dispose());

  it("creates rooms with int64 ids in order from 1000001, answered in the dialect's own shape", async () => {
    const first = await nim.create("Host_1", "first room", version === "v1" ? { ext: '{"k":1}' } : { extension: "x" });
    const second = await nim.create("host_1", "second room");
    expect(first.room).toEqual({ roomid: 1_000_001, valid: true, creator: "host_1", name: "first room" });
    expect(second.room?.roomid).toBe(1_000_002);
    if (version === "v1") {
      // NetEase's own example of create.action: an empty announcement reads null, in `chatroom`.
      expect(first.body.chatroom).toMatchObject({ announcement: null, broadcasturl: "", ext: '{"k":1}' });
    } else {
      expect(first.body).toMatchObject({ msg: "success" });
      expect(first.body.data).toEqual({
        room_id: 1_000_001,
        valid: true,
        creator: "host_1",
        room_name: "first room",
        announcement: "",
        live_url: "",
        extension: "x",
        queue_level: 0,
      });
    }
    expect((await nim.get(1_000_001)).room).toEqual(first.room);
  });

  it("refuses a create without a registered creator or a name, or with a name over 128 characters", async () => {
    expect(await nim.create("nobody_1", "room")).toMatchObject({ status: 200, code: 414 });
    expect(await nim.create("host_1", "")).toMatchObject({ code: 414 });
    expect(await nim.create("host_1", "n".repeat(129))).toMatchObject({ code: 414 });
    expect(await nim.create("host_1", "n".repeat(128))).toMatchObject({ code: 200 });
  });

  it("answers addresses that vary with the client's IP network and client type", async () => {
    const roomid = await roomOf("host_2");
    const at = async (client: Client) => (await nim.addresses(roomid, "guest_1", client)).addresses;
    // The /16 picks the edge: 1 + (first octet × 256 + second) mod 5; 10.0/16 → 1, 10.1/16 → 2.
    expect(await at({ ip: "10.0.9.9" })).toEqual(web("1"));
    expect(await at({ ip: "10.0.200.1" })).toEqual(web("1"));
    expect(await at({ ip: "10.1.2.3" })).toEqual(web("2"));
    expect(await at({ ip: "10.1.2.3", type: 1 })).toEqual(web("2"));
    expect(await at({ ip: "10.1.2.3", type: 2 })).toEqual([
      "link-2.chatroom.emulator.test:8080",
      "link-2-bak.chatroom.emulator.test:8080",
    ]);
    expect(await at({ ip: "10.1.2.3", type: 3 })).toEqual([
      "wxlink-2.chatroom.emulator.test:443",
      "wxlink-2-bak.chatroom.emulator.test:443",
    ]);
    // IPv6: the /32 picks it; an IPv4-mapped address is its IPv4 address.
    expect(await at({ ip: "2001:db8::1" })).toEqual(web("1"));
    expect(await at({ ip: "2001:db9:ffff::1" })).toEqual(web("2"));
    expect(await at({ ip: "::ffff:10.1.2.3" })).toEqual(web("2"));
    for (const bad of ["10.1.2", "256.1.1.1", "2001:db8::1::2", "example.com"]) {
      expect(await nim.addresses(roomid, "guest_1", { ip: bad })).toMatchObject({ code: 414 });
    }
    expect(await nim.addresses(roomid, "guest_1", { ip: "10.1.2.3", type: 4 })).toMatchObject({ code: 414 });
    if (version === "v1") {
      // No clientip: the default edge 0. (v2 requires client_ip, as NetEase's Go SDK does.)
      expect(await at({})).toEqual(web("0"));
    } else {
      expect(await nim.addresses(roomid, "guest_1")).toMatchObject({ status: 200, code: 414 });
      expect(await at({ ip: "2001:db8::1", ipType: 1 })).toEqual(web("1", "v6."));
      expect(await nim.addresses(roomid, "guest_1", { ip: "10.1.2.3", ipType: 2 })).toMatchObject({ code: 414 });
    }
  });

  it("refuses a closed room's addresses until its creator reopens it", async () => {
    const roomid = await roomOf("host_3");
    const closed = await nim.setValid(roomid, "HOST_3", false);
    expect(closed).toMatchObject({ status: 200, code: 200, room: { roomid, valid: false } });
    if (version === "v1") expect(closed.body.desc).toMatchObject({ roomid, valid: false, creator: "host_3" });
    expect(await nim.addresses(roomid, "guest_1", { ip: "10.0.0.1" })).toMatchObject({
      status: 200,
      code: nim.closed,
    });
    expect((await nim.get(roomid)).room?.valid).toBe(false);
    expect(await nim.setValid(roomid, "host_3", true)).toMatchObject({ code: 200, room: { valid: true } });
    expect((await nim.addresses(roomid, "guest_1", { ip: "10.0.0.1" })).addresses).toEqual(web("1"));
  });

  it("lets only the creator close a room (403), and a registered operator only", async () => {
    const roomid = await roomOf("host_4");
    expect(await nim.setValid(roomid, "other_1", false)).toMatchObject({ status: 200, code: 403 });
    expect(await nim.setValid(roomid, "nobody_4", false)).toMatchObject({ code: 414 });
    expect((await nim.get(roomid)).room?.valid).toBe(true);
    expect(await inspect(roomid)).toMatchObject({ valid: true });
  });

  it("answers an unknown room with its not-found code, and a malformed room id with 414", async () => {
    await roomOf("host_5");
    for (const answer of [
      await nim.addresses(9_999_999, "guest_1", { ip: "10.0.0.1" }),
      await nim.get(9_999_999),
      await nim.setValid(9_999_999, "host_5", false),
    ]) {
      expect(answer).toMatchObject({ status: 200, code: nim.notFound });
    }
    expect(await nim.get("12ab")).toMatchObject({ code: 414 });
    expect(await nim.get("99999999999999999999")).toMatchObject({ code: 414 }); // over int64
  });

  it("refuses an unregistered accid's addresses (414) but lets an anonymous nimanon_ visitor in", async () => {
    const roomid = await roomOf("host_6");
    expect(await nim.addresses(roomid, "nobody_6", { ip: "10.0.0.1" })).toMatchObject({ status: 200, code: 414 });
    const anonymous = `nimanon_${crypto.randomUUID()}`; // NetEase's SDKs: "nimanon_" + a UUID
    expect((await nim.addresses(roomid, anonymous, { ip: "10.0.0.1" })).addresses).toEqual(web("1"));
    expect((await nim.addresses(roomid, "GUEST_1", { ip: "10.0.0.1" })).addresses).toEqual(web("1"));
  });

  it("refuses a bad CheckSum as every other call, before it reaches the room", async () => {
    const roomid = await roomOf("host_7");
    const path =
      version === "v1"
        ? "chatroom/requestAddr.action"
        : `im/v2/chatrooms/${roomid}/actions/address?account_id=guest_1&client_ip=10.0.0.1`;
    const body = version === "v1" ? { form: { roomid: String(roomid), accid: "guest_1" } } : undefined;
    const method = version === "v1" ? "POST" : "GET";
    const refused = await serverCall(emulator.url, appA, method, path, body, "not-the-secret");
    expect(refused).toEqual({
      status: 200,
      body: version === "v1" ? { code: 414, desc: "checksum error" } : { code: 414, msg: "checksum error" },
    });
    const close =
      version === "v1"
        ? await serverCall(
            emulator.url,
            appA,
            "POST",
            "chatroom/toggleCloseStat.action",
            { form: { roomid: String(roomid), operator: "host_7", valid: "false" } },
            "not-the-secret",
          )
        : await serverCall(
            emulator.url,
            appA,
            "PATCH",
            `im/v2/chatrooms/${roomid}/actions/update_status`,
            { json: { operator_account_id: "host_7", valid: false } },
            "not-the-secret",
          );
    expect(close.body).toMatchObject({ code: 414 });
    expect(await inspect(roomid)).toMatchObject({ valid: true, addressRequests: 0 });
  });

  it("shows a room's address calls: how many, and the last one's client IP, accid and client type", async () => {
    const roomid = await roomOf("host_8");
    expect(await inspect(roomid)).toEqual({
      roomid,
      exists: true,
      valid: true,
      creator: "host_8",
      name: "room",
      announcement: "",
      broadcasturl: "",
      ext: "",
      queuelevel: 0,
      addressRequests: 0,
      lastClientIp: null,
      lastAccid: null,
      lastClientType: null,
    });
    await nim.addresses(roomid, "guest_1", { ip: "10.0.0.1", type: 2 });
    await nim.addresses(roomid, "guest_1", { ip: "2001:db8::7", type: 3 });
    expect(await inspect(roomid)).toMatchObject({
      addressRequests: 2,
      lastClientIp: "2001:db8::7",
      lastAccid: "guest_1",
      lastClientType: 3,
    });
    // A refused call reached the room too, and counts.
    await nim.setValid(roomid, "host_8", false);
    await nim.addresses(roomid, "guest_1", { ip: "10.9.0.1", type: 1 });
    expect(await inspect(roomid)).toMatchObject({ addressRequests: 3, lastClientIp: "10.9.0.1", lastClientType: 1 });
    expect(await inspect(9_999_999)).toEqual({ roomid: 9_999_999, exists: false });
    expect((await emulatorCall(emulator.url, "GET", "chatrooms/abc")).status).toBe(400);
  });

  it("counts chatroom calls with every other call: per operation, and per accid", async () => {
    const roomid = await roomOf("host_9");
    const before = await stats();
    await Promise.all([1, 2, 3, 4, 5].map(() => nim.addresses(roomid, "guest_9x", { ip: "10.0.0.1" })));
    await nim.get(roomid);
    const after = await stats();
    expect(after.calls.requestAddr - (before.calls.requestAddr ?? 0)).toBe(5);
    expect(after.calls.getChatroom - (before.calls.getChatroom ?? 0)).toBe(1);
    expect(after.chatrooms).toBeGreaterThanOrEqual(1);
    // Each call once, for the room and the accid it names (this accid is unregistered: each is 414).
    expect(await inspect(roomid)).toMatchObject({ addressRequests: 5 });
    const account = (await emulatorCall(emulator.url, "GET", "accounts/guest_9x")).body;
    expect(account.calls).toEqual({ requestAddr: 5 });
    expect(account.requestIds).toHaveLength(5);
    expect((await emulatorCall(emulator.url, "GET", "accounts/host_9")).body.calls).toEqual({ createChatroom: 1 });
  });

  it("fails chatroom calls with injected faults, by operation, v1 path or accid, on one base", async () => {
    const roomid = await roomOf("host_10");
    const fault = (body: Record<string, unknown>) => emulatorCall(emulator.url, "POST", "faults", body);
    expect((await fault({ action: "requestAddr", mode: "http503" })).status).toBe(201);
    expect(await nim.addresses(roomid, "guest_1", { ip: "10.0.0.1" })).toMatchObject({ status: 503 });
    expect((await fault({ action: "chatroom/requestAddr.action", mode: "code416" })).status).toBe(201);
    expect(await nim.addresses(roomid, "guest_1", { ip: "10.0.0.1" })).toMatchObject({ status: 200, code: 416 });
    expect((await fault({ action: "requestAddr", accid: "other_1", mode: "code500" })).status).toBe(201);
    expect(await nim.addresses(roomid, "guest_1", { ip: "10.0.0.1" })).toMatchObject({ code: 200 });
    expect(await nim.addresses(roomid, "other_1", { ip: "10.0.0.1" })).toMatchObject({ code: 500 });
    expect((await fault({ action: "createChatroom", mode: "code500" })).status).toBe(201);
    expect(await nim.create("host_10", "faulted")).toMatchObject({ code: 500 });
    expect((await fault({ action: "toggleCloseStat", mode: "http500", base: "primary" })).status).toBe(201);
    expect(await nim.setValid(roomid, "host_10", false)).toMatchObject({ status: 500 });
    expect((await nim.get(roomid)).room?.valid).toBe(true); // not applied
    // The faulted calls reached the room: they count.
    expect(await inspect(roomid)).toMatchObject({ addressRequests: 4 });
  });

  it("keeps each app's rooms apart: ids per app, inspected with ?appKey=", async () => {
    const atB = dialect(version, () => emulator.url, appB);
    await emulatorCall(emulator.url, "POST", `accounts?appKey=${appB.appKey}`, { accid: "host_b" });
    const created = await atB.create("host_b", "room at B");
    expect(created.room?.roomid).toBe(1_000_001); // B's first room; A has many
    expect((await atB.addresses(1_000_001, "host_b", { ip: "10.1.0.1" })).addresses).toEqual(web("2"));
    expect(await inspect(1_000_001, appB.appKey)).toMatchObject({
      creator: "host_b",
      addressRequests: 1,
      lastClientIp: "10.1.0.1",
    });
    expect(await inspect(1_000_001)).toMatchObject({ creator: "host_1" });
  });
});

describe("the emulator-only chatroom endpoints, persistence and the rate limit", () => {
  it("creates and closes stock rooms without a CheckSum", async () => {
    const emulator = await startEmulator(appA);
    try {
      const call = (method: string, path: string, body?: unknown) => emulatorCall(emulator.url, method, path, body);
      expect((await call("POST", "chatrooms", { creator: "nobody" })).body).toMatchObject({ code: 414 });
      await call("POST", "accounts", { accid: "stock_host" });
      const { body } = await call("POST", "chatrooms", { creator: "stock_host" });
      expect(body).toMatchObject({ code: 200, chatroom: { roomid: 1_000_001, valid: true, creator: "stock_host" } });
      expect((await call("PATCH", "chatrooms/1000001", { valid: false })).body).toMatchObject({
        code: 200,
        chatroom: { valid: false },
      });
      const nim = dialect("v1", () => emulator.url);
      expect(await nim.addresses(1_000_001, "stock_host")).toMatchObject({ code: 13002 });
      expect((await call("POST", "chatrooms", { creator: "stock_host", valid: false })).body).toMatchObject({
        chatroom: { roomid: 1_000_002, valid: false },
      });
      expect((await call("PATCH", "chatrooms/1000009", { valid: true })).body).toMatchObject({ code: 404 });
    } finally {
      await emulator.dispose();
    }
  });

  it("keeps rooms across a restart, as accounts, and goes on numbering after them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "emulator-chatroom-"));
    try {
      const first = await startEmulator({ ...appA, persistTo: dir });
      await emulatorCall(first.url, "POST", "accounts", { accid: "kept_host" });
      expect((await dialect("v2", () => first.url).create("kept_host", "kept")).room?.roomid).toBe(1_000_001);
      await dialect("v1", () => first.url).setValid(1_000_001, "kept_host", false);
      await first.dispose();

      const second = await startEmulator({ ...appA, persistTo: dir });
      try {
        const nim = dialect("v1", () => second.url);
        expect((await nim.get(1_000_001)).room).toEqual({
          roomid: 1_000_001,
          valid: false,
          creator: "kept_host",
          name: "kept",
        });
        expect((await nim.create("kept_host", "next")).room?.roomid).toBe(1_000_002);
      } finally {
        await second.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(["v1", "v2"] as const)(
    "answers 416 over EMULATOR_RATE_LIMIT for chatroom calls too (%s)",
    async (version) => {
      const emulator = await startEmulator({ ...appA, rateLimitPerSecond: 3 });
      try {
        await emulatorCall(emulator.url, "POST", "accounts", { accid: "rate_host" });
        await emulatorCall(emulator.url, "POST", "chatrooms", { creator: "rate_host" });
        const nim = dialect(version, () => emulator.url);
        const codes: number[] = [];
        for (let i = 0; i < 5; i++) codes.push((await nim.addresses(1_000_001, "rate_host", { ip: "10.0.0.1" })).code);
        expect(codes).toEqual([200, 200, 200, 416, 416]);
        const stats = (await emulatorCall(emulator.url, "GET", "stats")).body;
        expect(stats).toMatchObject({ rateRefusals: 2, calls: { requestAddr: 3 } });
        expect((await emulatorCall(emulator.url, "GET", "chatrooms/1000001")).body).toMatchObject({
          addressRequests: 3,
        });
      } finally {
        await emulator.dispose();
      }
    },
  );
});
