/**
 * One emulated CommsEase app: accounts, chatrooms, nonces, counters, faults and the checks NetEase
 * makes. All of an app's state lives in its one Durable Object, so check-then-create is atomic,
 * exactly like the real service's uniqueness (two racing create calls for one accid get 200 and 414
 * `already register`), and apps are kept apart as NetEase keeps them. See worker.ts for what it serves and
 * what it models.
 */

import { DurableObject } from "cloudflare:workers";
import { AccountBook, type Refusal } from "./accounts.ts";
import { dialectAnswer, json, nim } from "./answers.ts";
import { APP_HEADER, type EmulatedApp, parseApps } from "./apps.ts";
import { type Chatroom, ChatroomBook, ROOM_TEXT_LIMITS, roomIdKey, roomText } from "./chatrooms.ts";
import { OPERATIONS, type ParsedCall, V1_ACTIONS } from "./dialect.ts";
import { type Base, FaultBook, faultAnswer } from "./faults.ts";
import {
  CHECKSUM_WINDOW_SECONDS,
  callbackHeaders,
  checkDynamicToken,
  checkPermissionKey,
  checkRtcToken,
  sameText,
  serverApiCheckSum,
} from "./netease.ts";
import { type Dialect, type Emulated, emulatorRoutes } from "./routes.ts";
import { parseV1 } from "./server-v1.ts";
import { parseV2 } from "./server-v2.ts";

export interface EmulatorEnv {
  /**
   * The apps served, first first: a JSON list of {appKey, appSecret, permSecret?} (apps.ts). An app's
   * permSecret set, a join that sends a permission key has it checked ("advanced token authentication").
   */
  EMULATOR_APPS: string;
  /** getUinfos with an unknown accid: "omit" it (default) or "fail" the batch with 414. */
  EMULATOR_GETUINFOS_UNKNOWN?: string;
  /** Server API calls allowed per second (0 or unset: no limit); over it, 416 and ~10 s refused. */
  EMULATOR_RATE_LIMIT?: string;
  COMMSEASE: DurableObjectNamespace<CommsEase>;
}

/** One emulated CommsEase app: accounts, nonces, counters and faults. */
export class CommsEase extends DurableObject<EmulatorEnv> implements Emulated {
  readonly #book = new AccountBook((account) => {
    this.ctx.waitUntil(this.ctx.storage.put(`account:${account.accid}`, account));
  });
  /** Chatrooms, stored as accounts are, each under its room id. */
  readonly #rooms = new ChatroomBook(this.#book, (room) => {
    this.ctx.waitUntil(this.ctx.storage.put(`room:${room.roomid}`, room));
  });
  readonly #nonces = new Map<string, number>();
  /** Server API calls per accid and operation (what `GET /emulator/accounts/<accid>` shows). */
  readonly #calls = new Map<string, Record<string, number>>();
  /** Server API calls per operation, each call once, whether or not it names an accid. */
  readonly #operationCalls: Record<string, number> = {};
  readonly #faults = new FaultBook();
  readonly #routes = emulatorRoutes(this);
  #recentCalls: number[] = [];
  #refusedUntil = 0;
  /** Calls answered 416 by the rate limit: how often the app tripped it or was refused during a block. */
  #rateRefusals = 0;
  /** "<base>:<trace id>" of every call per accid, in order (what a test checks retries by). */
  readonly #requestIds = new Map<string, string[]>();
  /** The answer to each trace id answered so far. */
  readonly #answered = new Map<string, unknown>();
  /** NERTC channels someone has joined: the next joiner joins, the first one creates. */
  readonly #channels = new Set<string>();
  /** The app this object is, learnt from its first request (the entry names it in APP_HEADER). */
  #app: EmulatedApp | undefined;

  constructor(ctx: DurableObjectState, env: EmulatorEnv) {
    super(ctx, env);
    // Load persisted accounts and rooms before any request, so every later check-then-set is synchronous.
    void ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.list<{ accid: string }>({ prefix: "account:" });
      for (const account of stored.values()) this.#book.restore(account);
      const rooms = await ctx.storage.list<Chatroom>({ prefix: "room:" });
      for (const room of rooms.values()) this.#rooms.restore(room);
    });
  }

  override fetch(request: Request): Promise<Response> {
    const named = request.headers.get(APP_HEADER);
    if (this.#app === undefined) this.#app = parseApps(this.env.EMULATOR_APPS).find((app) => app.appKey === named);
    // An object holds one app's state: a request for another app here would mix two apps.
    if (this.#app?.appKey !== named) return Promise.resolve(json({ error: `not the object of app ${named}` }, 500));
    return Promise.resolve(this.#routes.fetch(request));
  }

  /** The app this object is (set by fetch before any route runs). */
  get #config(): EmulatedApp {
    if (!this.#app) throw new Error("the emulated app is not known yet");
    return this.#app;
  }

  /** What `GET /emulator/accounts/<accid>` shows: state, profile, kicks and the server API calls seen. */
  account(accid: string): unknown {
    const account = this.#book.find(accid);
    return {
      accid,
      exists: Boolean(account),
      blocked: account?.blocked ?? false,
      kicks: this.#book.kicks(accid),
      calls: this.#calls.get(accid) ?? {},
      requestIds: this.#requestIds.get(accid) ?? [],
      ...(account
        ? {
            profile: {
              name: account.name,
              icon: account.icon,
              sign: account.sign,
              email: account.email,
              birth: account.birth,
              mobile: account.mobile,
              gender: account.gender,
              ex: account.ex,
            },
          }
        : {}),
    };
  }

  /** A "stock" account, as if the app's backend had registered it long ago (no CheckSum needed). */
  createStock(accid: unknown): Response {
    const outcome = this.#book.create({ accid });
    return outcome.ok ? nim(200) : nim(outcome.code, { desc: outcome.desc });
  }

  /**
   * Many stock accounts at once (an import's bench and tests): `{code: 200, created}` (an accid already
   * registered is skipped), or the first refusal's code with the place of the accid refused (those
   * before it are created).
   */
  createStockMany(accids: readonly unknown[]): Response {
    let created = 0;
    for (const [index, accid] of accids.entries()) {
      const outcome = this.#book.create({ accid });
      // One already there is skipped: a bench run again seeds the same accounts.
      if (!outcome.ok && outcome.desc !== "already register")
        return nim(outcome.code, { desc: outcome.desc, index, created });
      if (outcome.ok) created += 1;
    }
    return nim(200, { created });
  }

  /**
   * What `GET /emulator/chatrooms/<roomid>` shows: the room, and the address calls it met (how many,
   * and the last one's client IP, accid and client type). An unknown room is `exists: false`.
   */
  chatroom(roomid: string): Response {
    const key = roomIdKey(roomid);
    if (!key) return json({ error: "roomid must be a positive int64" }, 400);
    const found = this.#rooms.find(key);
    if (!found.ok) return json({ roomid: Number(key), exists: false });
    const { createdAt: _, ...room } = found.value;
    return json({ ...room, exists: true, ...this.#rooms.addressCalls(key) });
  }

  /**
   * A "stock" room, as if the app's backend had created it (no CheckSum needed): `{creator, name?,
   * valid?}`, the creator a registered account (else 414, as create.action). Answers `{code: 200,
   * chatroom}`, the room as `GET /emulator/chatrooms/<roomid>` shows it.
   */
  async createStockChatroom(request: Request): Promise<Response> {
    const body = (await request.json().catch(() => null)) as { creator?: unknown; name?: unknown; valid?: unknown };
    const { creator, valid = true } = body ?? {};
    const name = roomText(body?.name ?? "emulated room", ROOM_TEXT_LIMITS.name, true);
    if (typeof creator !== "string" || name === undefined || typeof valid !== "boolean") {
      return json({ error: "creator (an accid), name (≤ 128) and valid (a boolean) are expected" }, 400);
    }
    const room = this.#rooms.create({
      creator,
      name,
      announcement: "",
      broadcasturl: "",
      ext: "",
      queuelevel: 0,
      valid,
    });
    if (!room.ok) return nim(414, { desc: "user not exist" });
    const { createdAt: _, ...chatroom } = room.value;
    return nim(200, { chatroom });
  }

  /** Opens or closes a room with no operator check: `{valid}`. */
  async setStockChatroomValid(roomid: string, request: Request): Promise<Response> {
    const body = (await request.json().catch(() => null)) as { valid?: unknown } | null;
    const key = roomIdKey(roomid);
    if (!key || typeof body?.valid !== "boolean") {
      return json({ error: "a positive int64 roomid and valid (a boolean) are expected" }, 400);
    }
    const room = this.#rooms.setValid(key, undefined, body.valid);
    if (!room.ok) return nim(404, { desc: "chatroom not found" });
    const { createdAt: _, ...chatroom } = room.value;
    return nim(200, { chatroom });
  }

  /**
   * One server API call in either dialect: NetEase's authentication and rate limit, then the call's
   * own checks; counted per accid with its trace id (v1 `RequestId`, v2 `X-custom-traceid`).
   */
  async serverApi(dialect: Dialect, path: string, request: Request, base: Base): Promise<Response> {
    if (dialect === "v1" && !V1_ACTIONS[path]) return json({ code: 404, desc: "not found" }, 404);
    const refusal = (await this.#authenticate(request)) ?? this.#overRate();
    if (refusal?.code === 416) this.#rateRefusals += 1;
    if (refusal) return dialectAnswer(dialect, refusal.code, refusal.desc);
    const books = { accounts: this.#book, chatrooms: this.#rooms };
    const parsed: ParsedCall | Response =
      dialect === "v1"
        ? await parseV1(path, request, books, this.env.EMULATOR_GETUINFOS_UNKNOWN === "fail" ? "fail" : "omit")
        : await parseV2(request.method, path, request, books);
    if (parsed instanceof Response) return parsed;
    const { operation, accids } = parsed;
    this.#operationCalls[operation] = (this.#operationCalls[operation] ?? 0) + 1;
    for (const accid of accids) this.#count(accid, operation);
    parsed.note?.();
    const traceId = request.headers.get(dialect === "v1" ? "RequestId" : "X-custom-traceid") ?? "";
    for (const accid of accids)
      this.#requestIds.set(accid, [...(this.#requestIds.get(accid) ?? []), `${base}:${traceId}`]);

    const fault = this.#faults.take(operation, accids, base);
    if (fault?.mode === "applied_timeout") parsed.run();
    if (fault) return faultAnswer(fault, dialect);
    // NetEase de-duplicates by the trace id: a repeat of an answered call gets the first answer.
    const earlier = traceId ? this.#answered.get(traceId) : undefined;
    if (earlier) return json(earlier);
    const response = parsed.run();
    if (traceId) this.#answered.set(traceId, await response.clone().json());
    return response;
  }

  /** NetEase's request authentication: AppKey, Nonce ≤ 128, CurTime within 5 minutes, CheckSum. */
  async #authenticate(request: Request): Promise<Refusal | undefined> {
    const appKey = request.headers.get("AppKey");
    const nonce = request.headers.get("Nonce");
    const curTime = request.headers.get("CurTime");
    const checkSum = request.headers.get("CheckSum");
    if (!appKey || !nonce || !curTime || !checkSum)
      return { code: 414, desc: "missing AppKey, Nonce, CurTime or CheckSum" };
    if (appKey !== this.#config.appKey) return { code: 403, desc: "illegal appkey" };
    if (nonce.length > 128) return { code: 414, desc: "nonce too long" };
    const nowSeconds = Math.floor(Date.now() / 1000);
    if (!/^\d{1,12}$/.test(curTime) || Math.abs(nowSeconds - Number(curTime)) > CHECKSUM_WINDOW_SECONDS) {
      return { code: 414, desc: "curtime expired" };
    }
    const expected = serverApiCheckSum(this.#config.appSecret, nonce, curTime);
    if (!sameText(expected, checkSum.toLowerCase())) return { code: 414, desc: "checksum error" };
    const replayKey = `${nonce}:${curTime}`;
    this.#forgetOldNonces(nowSeconds);
    if (this.#nonces.has(replayKey)) return { code: 431, desc: "repeated request" };
    this.#nonces.set(replayKey, Number(curTime));
    return undefined;
  }

  #forgetOldNonces(nowSeconds: number): void {
    for (const [key, seconds] of this.#nonces) {
      if (nowSeconds - seconds > CHECKSUM_WINDOW_SECONDS) this.#nonces.delete(key);
    }
  }

  /** What NetEase's IM server decides when a client logs in with a dynamic token (authType 1). */
  async login(request: Request): Promise<Response> {
    const body = (await request.json().catch(() => null)) as {
      accid?: unknown;
      token?: unknown;
      authType?: unknown;
      callbackUrl?: unknown;
    } | null;
    if (typeof body?.accid !== "string" || typeof body.token !== "string")
      return nim(414, { desc: "accid and token required" });
    const account = this.#book.find(body.accid);
    if (!account) return nim(302, { desc: "account does not exist" });
    if (account.blocked) return nim(422, { desc: "account disabled" });
    if (typeof body.callbackUrl === "string") {
      // Login callback enabled: the app decides first; a rejection is error 302 for the client.
      const authType =
        typeof body.authType === "number" || typeof body.authType === "string" ? String(body.authType) : "1";
      const { request: callback } = await this.#signedLoginCallback(body.accid, body.token, body.callbackUrl, authType);
      const answer = (await fetch(callback)
        .then((r) => r.json())
        .catch(() => null)) as { errCode?: unknown; responseCode?: unknown } | null;
      if (answer?.errCode !== 0)
        return nim(302, { desc: "rejected by login callback", responseCode: answer?.responseCode });
    }
    const { appKey, appSecret } = this.#config;
    const check = checkDynamicToken(body.token, appKey, body.accid, appSecret, Date.now());
    if (!check.ok) return nim(302, { desc: `token rejected: ${check.reason}` });
    return nim(200, { expiresAt: check.expiresAt });
  }

  /**
   * What NERTC decides when a client joins `channelName` as `uid` with a safe-mode token and, when
   * sent, a permission key: the key must be valid for this app, uid and channel, and grant creating
   * the room (its first joiner) or joining it (anyone later), and sending each medium in `publish`.
   */
  async rtcJoin(request: Request): Promise<Response> {
    const body = (await request.json().catch(() => null)) as {
      uid?: unknown;
      channelName?: unknown;
      token?: unknown;
      permKey?: unknown;
      publish?: unknown;
    } | null;
    const { uid, channelName, token, permKey, publish = [] } = body ?? {};
    if (typeof uid !== "number" || typeof channelName !== "string" || typeof token !== "string") {
      return nim(414, { desc: "uid (number), channelName and token required" });
    }
    if (permKey !== undefined && typeof permKey !== "string") return nim(414, { desc: "permKey must be a string" });
    if (!Array.isArray(publish) || !publish.every((m) => m === "audio" || m === "video")) {
      return nim(414, { desc: 'publish must be a list of "audio" and "video"' });
    }
    const now = Date.now();
    const { appKey, appSecret, permSecret } = this.#config;
    const check = checkRtcToken(token, appKey, uid, channelName, appSecret, now);
    if (!check.ok) return nim(403, { desc: `token rejected: ${check.reason}` });
    let expiresAt = check.expiresAt;
    // With advanced token authentication off, NERTC does not look at a permission key.
    if (permKey !== undefined && permSecret) {
      const key = checkPermissionKey(permKey, appKey, uid, channelName, permSecret, now);
      if (!key.ok) return nim(403, { desc: `permission key rejected: ${key.reason}` });
      const creating = !this.#channels.has(channelName);
      if ((key.privilege & (creating ? 16 : 32)) === 0) {
        return nim(403, { desc: `no permission to ${creating ? "create" : "join"} the room` });
      }
      for (const medium of publish) {
        if ((key.privilege & (medium === "audio" ? 1 : 2)) === 0)
          return nim(403, { desc: `no permission to send ${medium}` });
      }
      expiresAt = Math.min(expiresAt, key.expiresAt);
    }
    this.#channels.add(channelName);
    return nim(200, { expiresAt });
  }

  /** Builds the login callback (eventType 36) NetEase would send for `accid`, signed with this app's secret. */
  async #signedLoginCallback(
    accid: string,
    token: string | undefined,
    url: string,
    authType?: string,
  ): Promise<{ request: Request; body: string }> {
    const event: Record<string, string> = {
      eventType: "36",
      fromAccount: accid,
      fromClientType: "WEB",
      fromDeviceId: "emulator-device",
      fromClientIp: "127.0.0.1",
      fromClientPort: "50000",
      code: "200",
      // NetEase sends the client's token and auth type when the client sent them (1: dynamic token).
      ...(token ? { token, authType: authType ?? "1" } : authType ? { authType } : {}),
    };
    const body = JSON.stringify(event);
    const headers = callbackHeaders(this.#config.appKey, this.#config.appSecret, body, Date.now());
    const request = new Request(url, {
      method: "POST",
      headers: { ...headers, "Content-Type": "application/json;charset=utf-8" },
      body,
    });
    return { request, body };
  }

  async loginCallback(request: Request): Promise<Response> {
    const input = (await request.json().catch(() => null)) as {
      accid?: unknown;
      token?: unknown;
      authType?: unknown;
      url?: unknown;
    } | null;
    if (typeof input?.accid !== "string") return json({ error: "accid required" }, 400);
    const token = typeof input.token === "string" ? input.token : undefined;
    const authType =
      typeof input.authType === "number" || typeof input.authType === "string" ? String(input.authType) : undefined;
    const url = typeof input.url === "string" ? input.url : "http://callback.invalid/";
    const signed = await this.#signedLoginCallback(input.accid, token, url, authType);
    if (typeof input.url !== "string") {
      return json({ headers: Object.fromEntries(signed.request.headers), body: signed.body });
    }
    const answer = await fetch(signed.request);
    return json({ status: answer.status, body: await answer.text() });
  }

  async addFault(request: Request): Promise<Response> {
    const body = (await request.json().catch(() => null)) as Parameters<FaultBook["add"]>[0];
    return this.#faults.add(body, OPERATIONS, V1_ACTIONS);
  }

  /** NetEase's frequency limit: over the configured calls per second, 416, then ~10 s of refusals. */
  #overRate(): Refusal | undefined {
    const limit = Number(this.env.EMULATOR_RATE_LIMIT ?? 0);
    if (!(limit > 0)) return undefined;
    const now = Date.now();
    if (now < this.#refusedUntil) return { code: 416, desc: "frequency limit, refused for a while" };
    this.#recentCalls = this.#recentCalls.filter((at) => now - at < 1000);
    this.#recentCalls.push(now);
    if (this.#recentCalls.length <= limit) return undefined;
    this.#refusedUntil = now + 10_000;
    return { code: 416, desc: "frequency limit" };
  }

  /**
   * The app's counters: `calls` counts server API calls per operation, each call once (a getUinfos
   * batch is one call; a chatroom call naming no accid counts too); `maxCallsPerAccid` the most
   * calls of each operation about one accid.
   */
  stats(): {
    accounts: number;
    chatrooms: number;
    calls: Record<string, number>;
    maxCallsPerAccid: Record<string, number>;
    rateRefusals: number;
  } {
    const maxCallsPerAccid: Record<string, number> = {};
    for (const counts of this.#calls.values()) {
      for (const [action, n] of Object.entries(counts)) {
        maxCallsPerAccid[action] = Math.max(maxCallsPerAccid[action] ?? 0, n);
      }
    }
    return {
      accounts: this.#book.size,
      chatrooms: this.#rooms.size,
      calls: { ...this.#operationCalls },
      maxCallsPerAccid,
      rateRefusals: this.#rateRefusals,
    };
  }

  #count(accid: string, operation: string): void {
    const counts = this.#calls.get(accid) ?? {};
    counts[operation] = (counts[operation] ?? 0) + 1;
    this.#calls.set(accid, counts);
  }
}
