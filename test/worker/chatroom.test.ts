/**
 * POST /v1/chatroom/address against the emulator over HTTP, in both of NetEase's API versions (the
 * worker-v2 project runs it again): rooms made and closed the way NetEase's server SDKs do it, the
 * client's IP from CF-Connecting-IP, the room policy, visitors without a session, NetEase's faults.
 */

import { describe, expect, it } from "vitest";
import { type NetEaseBody, netEaseCall } from "../netease-call.ts";
import {
  adminCall,
  apiVersion,
  call,
  emulator,
  env,
  expectedAccid,
  freshRateLimitWindow,
  hsJwt,
  type Overrides,
  registerAtNetEase,
  seg,
  stockAccid,
  uniqueUid,
} from "./helpers.ts";

/** A signed call to the emulated NetEase (at `origin`), as its server SDKs make it (v1 form post, v2 JSON). */
async function atNetEase(method: string, path: string, body: NetEaseBody, origin = env.EMULATOR_URL) {
  const app = { appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET! };
  const response = await netEaseCall(`${origin}/nimserver`, app, method, path, body);
  return (await response.json()) as { code: number; chatroom?: { roomid: number }; data?: { room_id: number } };
}

/** A new open room, made by a registered creator in this run's API version (at `origin`'s NetEase). */
async function newRoom(origin = env.EMULATOR_URL): Promise<{ roomId: string; creator: string }> {
  const creator = stockAccid();
  if (origin === env.EMULATOR_URL) await registerAtNetEase(creator);
  else if ((await atNetEase("POST", "user/create.action", { form: { accid: creator } }, origin)).code !== 200) {
    throw new Error("creator not registered");
  }
  const answer =
    apiVersion() === "v2"
      ? await atNetEase("POST", "im/v2/chatrooms", { json: { creator, room_name: "test room" } }, origin)
      : await atNetEase("POST", "chatroom/create.action", { form: { creator, name: "test room" } }, origin);
  const roomId = answer.chatroom?.roomid ?? answer.data?.room_id;
  if (answer.code !== 200 || roomId === undefined) throw new Error(`room not created: ${JSON.stringify(answer)}`);
  return { roomId: String(roomId), creator };
}

/** Closes a room as its creator (toggleCloseStat / update_status). */
async function closeRoom({ roomId, creator }: { roomId: string; creator: string }): Promise<void> {
  const answer =
    apiVersion() === "v2"
      ? await atNetEase("PATCH", `im/v2/chatrooms/${roomId}/actions/update_status`, {
          json: { operator_account_id: creator, valid: false },
        })
      : await atNetEase("POST", "chatroom/toggleCloseStat.action", {
          form: { roomid: roomId, operator: creator, valid: "false" },
        });
  if (answer.code !== 200) throw new Error(`room not closed: ${JSON.stringify(answer)}`);
}

/** What the emulator (at `origin`) knows of a room's address calls. */
async function roomAtNetEase(roomId: string, origin = env.EMULATOR_URL) {
  return (await fetch(`${origin}/emulator/chatrooms/${roomId}`)).json<{
    addressRequests: number;
    lastClientIp: string | null;
    lastAccid: string | null;
    lastClientType: number;
  }>();
}

/** A client at an IPv4 address of its own (TEST-NET-3, a /16 apart per call), with Cloudflare's facts about it. */
let nextClient = 0;
function client(asn = 64_500 + (nextClient % 100)): { ip: string; cf: { asn: number; colo: string } } {
  nextClient++;
  return { ip: `10.${nextClient % 250}.${Math.floor(nextClient / 250) % 250}.7`, cf: { asn, colo: "HKG" } };
}

/** POST /v1/chatroom/address from `from`, with a session JWT or none. */
function ask(
  body: unknown,
  jwt: string | undefined,
  from = client(),
  overrides: Overrides = {},
  path = "/v1/chatroom/address",
): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json", "CF-Connecting-IP": from.ip };
  if (jwt !== undefined) headers.Authorization = `Bearer ${jwt}`;
  return call(path, { method: "POST", headers, body: JSON.stringify(body), cf: from.cf } as RequestInit, overrides);
}

interface Answer {
  roomId: string;
  accid: string;
  addresses: string[];
  anonymous: boolean;
}

describe("POST /v1/chatroom/address", () => {
  it("gives a signed-in user an open room's addresses for the client's IP, provisioning the account", async () => {
    const room = await newRoom();
    const uid = uniqueUid();
    const from = client();
    const response = await ask({ roomId: room.roomId }, await hsJwt(uid), from);
    expect(response.status).toBe(200);
    expect(response.headers.get("Cache-Control")).toBe("no-store");
    const body = await response.json<Answer>();
    const accid = await expectedAccid(uid);
    expect(body).toEqual({ roomId: room.roomId, accid, addresses: expect.any(Array), anonymous: false });
    expect(body.addresses[0]).toMatch(/^weblink-\d\.chatroom\.emulator\.test:443$/);
    const seen = await roomAtNetEase(room.roomId);
    expect(seen).toMatchObject({ addressRequests: 1, lastClientIp: from.ip, lastAccid: accid, lastClientType: 1 });
    // The native SDKs' links, for clientType 2.
    const native = await ask({ roomId: room.roomId, clientType: 2 }, await hsJwt(uid), from);
    expect((await native.json<Answer>()).addresses[0]).toMatch(/^link-\d\.chatroom\.emulator\.test:8080$/);
  });

  it("takes the client's IP from Cloudflare, never from the body, and asks once per room and place", async () => {
    const room = await newRoom();
    const near = { ip: "10.1.0.1", cf: { asn: 4134, colo: "HKG" } };
    const far = { ip: "10.3.0.1", cf: { asn: 4837, colo: "HKG" } };
    const first = await (await ask({ roomId: room.roomId }, await hsJwt(uniqueUid()), near)).json<Answer>();
    // The same carrier through the same location: the same links, without another NetEase call.
    const neighbour = { ip: "10.1.0.2", cf: near.cf };
    const second = await (await ask({ roomId: room.roomId }, await hsJwt(uniqueUid()), neighbour)).json<Answer>();
    expect(second.addresses).toEqual(first.addresses);
    expect((await roomAtNetEase(room.roomId)).addressRequests).toBe(1);
    const other = await (await ask({ roomId: room.roomId }, await hsJwt(uniqueUid()), far)).json<Answer>();
    expect(other.addresses).not.toEqual(first.addresses); // another /16: another edge, as NetEase would pick
    expect(await roomAtNetEase(room.roomId)).toMatchObject({ addressRequests: 2, lastClientIp: far.ip });
    // A clientIp in the body is refused, not used.
    const smuggled = await ask({ roomId: room.roomId, clientIp: "10.4.0.1" }, await hsJwt(uniqueUid()), far);
    expect(smuggled.status).toBe(400);
  });

  it("answers a room NetEase does not know, or has closed, 404 chatroom_unavailable", async () => {
    const unknown = await ask({ roomId: "999999999" }, await hsJwt(uniqueUid()));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({
      error: "chatroom_unavailable",
      message: "NetEase does not know this chatroom, or it is closed.",
    });
    const room = await newRoom();
    await closeRoom(room);
    const closed = await ask({ roomId: room.roomId }, await hsJwt(uniqueUid()));
    expect(closed.status).toBe(404);
    expect((await closed.json<{ error: string }>()).error).toBe("chatroom_unavailable");
  });

  it("refuses a bad body 400, and no session 401, whatever the body", async () => {
    const jwt = await hsJwt(uniqueUid());
    const bad = [{}, { roomId: 1000001 }, { roomId: "01" }, { roomId: "12a" }, { roomId: "1".repeat(20) }];
    for (const body of [...bad, { roomId: "9223372036854775808" }]) {
      expect((await ask(body, jwt)).status, JSON.stringify(body)).toBe(400);
    }
    expect((await ask({ roomId: "1", clientType: 4 }, jwt)).status).toBe(400);
    // The largest int64 is a room id (one NetEase does not know).
    expect((await ask({ roomId: "9223372036854775807" }, jwt)).status).toBe(404);
    for (const body of [{ roomId: "1" }, { roomId: "bad" }]) {
      const response = await ask(body, undefined);
      expect(response.status).toBe(401);
      expect((await response.json<{ error: string }>()).error).toBe("missing_session");
    }
    expect((await ask({ roomId: "1" }, "not-a-jwt")).status).toBe(401);
  });

  it("gives a blocked user 403 and a signed-out session 401, as the token path does", async () => {
    const room = await newRoom();
    const blocked = uniqueUid();
    expect((await ask({ roomId: room.roomId }, await hsJwt(blocked))).status).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(blocked)}/block`, { kick: false })).status).toBe(200);
    const refused = await ask({ roomId: room.roomId }, await hsJwt(blocked));
    expect(refused.status).toBe(403);
    expect((await refused.json<{ error: string }>()).error).toBe("account_blocked");
    const signedOut = uniqueUid();
    const session = await hsJwt(signedOut, { issuedAt: Math.floor(Date.now() / 1000) - 5 });
    const revoke = await call("/v1/sessions/revoke", {
      method: "POST",
      headers: { Authorization: `Bearer ${session}` },
    });
    expect(revoke.status).toBe(200);
    const revoked = await ask({ roomId: room.roomId }, session);
    expect(revoked.status).toBe(401);
    expect((await revoked.json<{ error: string }>()).error).toBe("session_revoked");
  });

  it("keeps a user out of rooms the policy or the session's claim does not grant, before any NetEase call", async () => {
    const open = await newRoom();
    const mine = await newRoom();
    const policy = { CHATROOM_POLICY: JSON.stringify([{ room: open.roomId }, { room: mine.roomId }]) };
    const jwt = await hsJwt(uniqueUid());
    expect((await ask({ roomId: open.roomId }, jwt, client(), policy)).status).toBe(200);
    const elsewhere = await ask({ roomId: "4242" }, jwt, client(), policy);
    expect(elsewhere.status).toBe(403);
    expect((await elsewhere.json<{ error: string }>()).error).toBe("chatroom_refused");
    // Another user's private room: the claim lists only the user's own.
    const claim = { ...policy, CHATROOM_POLICY_CLAIM: "rooms" };
    const owner = await hsJwt(uniqueUid(), { claims: { rooms: [{ room: mine.roomId }] } });
    const stranger = await hsJwt(uniqueUid(), { claims: { rooms: [{ room: open.roomId }] } });
    expect((await ask({ roomId: mine.roomId }, owner, client(), claim)).status).toBe(200);
    const intruder = await ask({ roomId: mine.roomId }, stranger, client(), claim);
    expect(intruder.status).toBe(403);
    expect((await roomAtNetEase(mine.roomId)).addressRequests).toBe(1);
  });

  it("serves visitors without a session only for rooms a rule opens, counted per network", async () => {
    const lobby = await newRoom();
    const members = await newRoom();
    const policy = {
      CHATROOM_POLICY: JSON.stringify([{ room: lobby.roomId, anonymous: true }, { room: members.roomId }]),
    };
    const visitor = client();
    await freshRateLimitWindow();
    const response = await ask({ roomId: lobby.roomId }, undefined, visitor, policy);
    expect(response.status).toBe(200);
    const body = await response.json<Answer>();
    expect(body).toMatchObject({ roomId: lobby.roomId, anonymous: true });
    expect(body.accid).toMatch(/^nimanon_[0-9a-f]{16}$/);
    expect(await roomAtNetEase(lobby.roomId)).toMatchObject({ lastAccid: body.accid, lastClientIp: visitor.ip });
    const closed = await ask({ roomId: members.roomId }, undefined, visitor, policy);
    expect(closed.status).toBe(401);
    expect((await closed.json<{ error: string }>()).error).toBe("missing_session");
    // 20 a minute per network (wrangler.jsonc's ANONYMOUS_RATE_LIMITER): the visitor has used 2.
    const statuses: number[] = [];
    for (let i = 0; i < 19; i++)
      statuses.push((await ask({ roomId: lobby.roomId }, undefined, visitor, policy)).status);
    expect(statuses.slice(0, 18).every((status) => status === 200)).toBe(true);
    expect(statuses[18]).toBe(429);
    // Off by default: the same room without the rule; and an app the deployment lacks is no session too.
    expect((await ask({ roomId: lobby.roomId }, undefined, client())).status).toBe(401);
    const elsewhere = await ask(
      { roomId: lobby.roomId },
      undefined,
      client(),
      policy,
      "/v1/apps/nope/chatroom/address",
    );
    expect(elsewhere.status).toBe(401);
  });

  it("needs ANONYMOUS_RATE_LIMITER to open a room to visitors", async () => {
    const policy = { CHATROOM_POLICY: '[{"room":"1*","anonymous":true}]', ANONYMOUS_RATE_LIMITER: undefined };
    const health = await call("/healthz", {}, policy);
    expect(health.status).toBe(503);
    expect((await health.json<{ missing: string[] }>()).missing).toEqual(["ANONYMOUS_RATE_LIMITER"]);
  });

  it("answers NetEase's outage and rate limit 503 with Retry-After, never a 500", async () => {
    const room = await newRoom();
    for (const mode of ["http500", "code416", "timeout"]) {
      const fault = { action: "requestAddr", mode, times: 1 };
      expect((await emulator("/emulator/faults", { method: "POST", body: JSON.stringify(fault) })).status).toBe(201);
      const response = await ask({ roomId: room.roomId }, await hsJwt(uniqueUid()), client(), { RUNTIME_TAG: mode });
      expect(response.status, mode).toBe(503);
      expect(response.headers.get("Retry-After"), mode).toMatch(/^\d+$/);
      expect((await response.json<{ error: string }>()).error).toBe("upstream_unavailable");
    }
  });

  it("lets 2,000 viewers into one room within 10 s at one NetEase call per place, never tripping its cap", {
    timeout: 60_000,
  }, async () => {
    // A NetEase that enforces its cap (100 calls a second, then 416 for 10 s); 250 places, all in the
    // first second: unpaced, 250 calls at once would trip it.
    if (!env.CAPPED_EMULATOR_URL) return; // only the "worker" project has one; its v1 run is the measure
    const origin = env.CAPPED_EMULATOR_URL;
    const room = await newRoom(origin);
    const settings = {
      NIM_API_BASE: `${origin}/nimserver`,
      NIM_API_VERSION: "",
      CHATROOM_POLICY: JSON.stringify([{ room: room.roomId, anonymous: true }]),
    };
    const places = 250;
    const statuses = new Map<number, number>();
    let bareFailures = 0;
    const started = Date.now();
    const waves: Promise<void>[] = [];
    for (let second = 0; second < 10; second++) {
      // Each viewer from a network of its own (the visitors' limit counts per network).
      const wave = Array.from({ length: 200 }, async (_, i) => {
        const n = second * 200 + i;
        const place = (second === 0 ? n : n + 50) % places;
        const viewer = {
          ip: `10.${100 + (n % 150)}.${Math.floor(n / 250)}.${n % 250}`,
          cf: { asn: 65_000 + place, colo: "SIN" },
        };
        const response = await ask({ roomId: room.roomId }, undefined, viewer, settings);
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status >= 500 && !response.headers.get("Retry-After")) bareFailures++;
        await response.body?.cancel();
      });
      waves.push(Promise.all(wave).then(() => {}));
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, started + (second + 1) * 1000 - Date.now())));
    }
    await Promise.all(waves);
    expect(bareFailures).toBe(0);
    expect(Object.fromEntries(statuses)).toEqual({ 200: 2000 });
    // The design: one call per place in the 30 s window, paced under NetEase's cap: never a 416.
    expect((await roomAtNetEase(room.roomId, origin)).addressRequests).toBe(places);
    const stats = await (await fetch(`${origin}/emulator/stats`)).json<{ rateRefusals: number }>();
    expect(stats.rateRefusals).toBe(0);
  });

  it("serves a named app at /v1/apps/{app}/chatroom/address", async () => {
    const room = await newRoom();
    const response = await ask(
      { roomId: room.roomId },
      await hsJwt(uniqueUid()),
      client(),
      {},
      "/v1/apps/default/chatroom/address",
    );
    expect(response.status).toBe(200);
    const unknown = await ask(
      { roomId: room.roomId },
      await hsJwt(uniqueUid()),
      client(),
      {},
      "/v1/apps/nope/chatroom/address",
    );
    expect(unknown.status).toBe(404);
  });
});
