/**
 * The emulated CommsEase app: accounts, nonces, counters, faults and the checks NetEase makes. All
 * state lives in this one Durable Object, so check-then-create is atomic, exactly like the real
 * service's uniqueness (two racing create calls for one accid get 200 and 414 `already register`).
 * See worker.ts for what it serves and what it models.
 */

import { DurableObject } from "cloudflare:workers";
import { json, nim } from "./answers.ts";
import { type Base, FaultBook, faultAnswer } from "./faults.ts";
import {
  ACCID_PATTERN,
  CHECKSUM_WINDOW_SECONDS,
  callbackHeaders,
  checkDynamicToken,
  checkRtcToken,
  sameText,
  serverApiCheckSum,
} from "./netease.ts";
import { type Emulated, emulatorRoutes } from "./routes.ts";

export interface EmulatorEnv {
  NIM_APP_KEY: string;
  NIM_APP_SECRET: string;
  /** getUinfos with an unknown accid: "omit" it (default) or "fail" the batch with 414. */
  EMULATOR_GETUINFOS_UNKNOWN?: string;
  /** Server API calls allowed per second (0 or unset: no limit); over it, 416 and ~10 s refused. */
  EMULATOR_RATE_LIMIT?: string;
  COMMSEASE: DurableObjectNamespace<CommsEase>;
}

interface Account {
  accid: string;
  name: string;
  token: string;
  blocked: boolean;
  createdAt: number;
}

const ACTIONS = ["user/create.action", "user/block.action", "user/unblock.action", "user/getUinfos.action"] as const;
type Action = (typeof ACTIONS)[number];

/** The emulated CommsEase app: accounts, nonces, counters and faults. */
export class CommsEase extends DurableObject<EmulatorEnv> implements Emulated {
  readonly #accounts = new Map<string, Account>();
  readonly #nonces = new Map<string, number>();
  readonly #calls = new Map<string, Record<string, number>>();
  readonly #faults = new FaultBook();
  readonly #routes = emulatorRoutes(this);
  #recentCalls: number[] = [];
  #refusedUntil = 0;
  /** How many times each accid's live sessions were kicked (a block with needkick=true). */
  readonly #kicks = new Map<string, number>();
  /** "<base>:<RequestId>" of every call per accid, in order (what a test checks retries by). */
  readonly #requestIds = new Map<string, string[]>();
  /** The answer to each RequestId answered so far. */
  readonly #answered = new Map<string, unknown>();

  constructor(ctx: DurableObjectState, env: EmulatorEnv) {
    super(ctx, env);
    // Load persisted accounts before any request, so every later check-then-set is synchronous.
    void ctx.blockConcurrencyWhile(async () => {
      const stored = await ctx.storage.list<Account>({ prefix: "account:" });
      for (const account of stored.values()) this.#accounts.set(account.accid, account);
    });
  }

  override fetch(request: Request): Promise<Response> {
    return Promise.resolve(this.#routes.fetch(request));
  }

  /** What `GET /emulator/accounts/<accid>` shows: state, kicks and the server API calls seen. */
  account(accid: string): unknown {
    const account = this.#accounts.get(accid.toLowerCase());
    return {
      accid,
      exists: Boolean(account),
      blocked: account?.blocked ?? false,
      kicks: this.#kicks.get(accid.toLowerCase()) ?? 0,
      calls: this.#calls.get(accid) ?? {},
      requestIds: this.#requestIds.get(accid) ?? [],
    };
  }

  /** A "stock" account, as if the app's backend had registered it long ago (no CheckSum needed). */
  createStock(accid: unknown): Response {
    return this.#create(new URLSearchParams(typeof accid === "string" ? { accid } : {}));
  }

  async serverApi(name: string, request: Request, base: Base): Promise<Response> {
    if (!(ACTIONS as readonly string[]).includes(name)) return json({ code: 404, desc: "not found" }, 404);
    const action = name as Action;
    const rejection = await this.#authenticate(request);
    if (rejection) return rejection;
    const limited = this.#overRate();
    if (limited) return limited;
    if (!/^application\/x-www-form-urlencoded/i.test(request.headers.get("Content-Type") ?? "")) {
      return nim(414, { desc: "Content-Type must be application/x-www-form-urlencoded" });
    }
    const form = new URLSearchParams(await request.text());
    const accids = involvedAccids(form);
    for (const accid of accids) this.#count(accid, action);
    const requestId = request.headers.get("RequestId") ?? "";
    for (const accid of accids)
      this.#requestIds.set(accid, [...(this.#requestIds.get(accid) ?? []), `${base}:${requestId}`]);

    const fault = this.#faults.take(action, accids, base);
    if (fault?.mode === "applied_timeout") await this.#execute(action, form);
    if (fault) return faultAnswer(fault);
    // NetEase may de-duplicate by RequestId: a repeat of an answered call gets the first answer.
    const earlier = requestId ? this.#answered.get(requestId) : undefined;
    if (earlier) return json(earlier);
    const response = await this.#execute(action, form);
    if (requestId) this.#answered.set(requestId, await response.clone().json());
    return response;
  }

  async #execute(action: Action, form: URLSearchParams): Promise<Response> {
    switch (action) {
      case "user/create.action":
        return this.#create(form);
      case "user/block.action":
      case "user/unblock.action":
        return this.#setBlocked(form, action === "user/block.action");
      case "user/getUinfos.action":
        return this.#getUinfos(form);
    }
  }

  /** NetEase's request authentication: AppKey, Nonce ≤ 128, CurTime within 5 minutes, CheckSum. */
  async #authenticate(request: Request): Promise<Response | undefined> {
    const appKey = request.headers.get("AppKey");
    const nonce = request.headers.get("Nonce");
    const curTime = request.headers.get("CurTime");
    const checkSum = request.headers.get("CheckSum");
    if (!appKey || !nonce || !curTime || !checkSum)
      return nim(414, { desc: "missing AppKey, Nonce, CurTime or CheckSum" });
    if (appKey !== this.env.NIM_APP_KEY) return nim(403, { desc: "illegal appkey" });
    if (nonce.length > 128) return nim(414, { desc: "nonce too long" });
    const nowSeconds = Math.floor(Date.now() / 1000);
    if (!/^\d{1,12}$/.test(curTime) || Math.abs(nowSeconds - Number(curTime)) > CHECKSUM_WINDOW_SECONDS) {
      return nim(414, { desc: "curtime expired" });
    }
    const expected = serverApiCheckSum(this.env.NIM_APP_SECRET, nonce, curTime);
    if (!sameText(expected, checkSum.toLowerCase())) return nim(414, { desc: "checksum error" });
    const replayKey = `${nonce}:${curTime}`;
    this.#forgetOldNonces(nowSeconds);
    if (this.#nonces.has(replayKey)) return nim(431, { desc: "repeated request" });
    this.#nonces.set(replayKey, Number(curTime));
    return undefined;
  }

  #forgetOldNonces(nowSeconds: number): void {
    for (const [key, seconds] of this.#nonces) {
      if (nowSeconds - seconds > CHECKSUM_WINDOW_SECONDS) this.#nonces.delete(key);
    }
  }

  #create(form: URLSearchParams): Response {
    const accid = form.get("accid");
    if (!accid || !ACCID_PATTERN.test(accid)) return nim(414, { desc: "parameter error: accid" });
    const name = form.get("name") ?? "";
    if (name.length > 64) return nim(414, { desc: "parameter error: name" });
    const token = form.get("token") ?? crypto.randomUUID().replaceAll("-", "");
    if (token.length > 128) return nim(414, { desc: "parameter error: token" });
    // NetEase treats accids case-insensitively and stores them lowercased.
    if (this.#accounts.has(accid.toLowerCase())) return nim(414, { desc: "already register" });
    const account: Account = { accid: accid.toLowerCase(), name, token, blocked: false, createdAt: Date.now() };
    this.#accounts.set(account.accid, account);
    this.ctx.waitUntil(this.ctx.storage.put(`account:${account.accid}`, account));
    return nim(200, { info: { token, accid: account.accid, name } });
  }

  #setBlocked(form: URLSearchParams, blocked: boolean): Response {
    const accid = form.get("accid");
    if (!accid || !ACCID_PATTERN.test(accid)) return nim(414, { desc: "parameter error: accid" });
    const needkick = form.get("needkick");
    if (blocked && needkick !== null && needkick !== "true" && needkick !== "false") {
      return nim(414, { desc: "parameter error: needkick" });
    }
    const account = this.#accounts.get(accid.toLowerCase());
    if (!account) return nim(414, { desc: "user not exist" });
    account.blocked = blocked;
    // NetEase kicks live sessions only when asked to (needkick defaults to false).
    if (blocked && needkick === "true") this.#kicks.set(account.accid, (this.#kicks.get(account.accid) ?? 0) + 1);
    this.ctx.waitUntil(this.ctx.storage.put(`account:${account.accid}`, account));
    return nim(200);
  }

  #getUinfos(form: URLSearchParams): Response {
    let accids: unknown;
    try {
      accids = JSON.parse(form.get("accids") ?? "");
    } catch {
      return nim(414, { desc: "parameter error: accids" });
    }
    if (!Array.isArray(accids) || accids.length > 200) return nim(414, { desc: "parameter error: accids" });
    // Whether NetEase leaves an unknown accid out or fails the whole batch is not documented; the
    // emulator does either (EMULATOR_GETUINFOS_UNKNOWN = "omit", the default, or "fail").
    const unknown = accids.filter((accid) => typeof accid !== "string" || !this.#accounts.has(accid.toLowerCase()));
    if (unknown.length > 0 && this.env.EMULATOR_GETUINFOS_UNKNOWN === "fail") {
      return nim(414, { desc: `accid not exist: ${String(unknown[0]).slice(0, 40)}` });
    }
    const uinfos = accids
      .map((accid) => (typeof accid === "string" ? this.#accounts.get(accid.toLowerCase()) : undefined))
      .filter((account): account is Account => Boolean(account))
      .map(({ accid, name }) => ({ accid, name }));
    return nim(200, { uinfos });
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
    const account = this.#accounts.get(body.accid.toLowerCase());
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
    const { NIM_APP_KEY: appKey, NIM_APP_SECRET: appSecret } = this.env;
    const check = checkDynamicToken(body.token, appKey, body.accid, appSecret, Date.now());
    if (!check.ok) return nim(302, { desc: `token rejected: ${check.reason}` });
    return nim(200, { expiresAt: check.expiresAt });
  }

  /** What NERTC decides when a client joins `channelName` as `uid` with a safe-mode token. */
  async rtcJoin(request: Request): Promise<Response> {
    const body = (await request.json().catch(() => null)) as {
      uid?: unknown;
      channelName?: unknown;
      token?: unknown;
    } | null;
    const { uid, channelName, token } = body ?? {};
    if (typeof uid !== "number" || typeof channelName !== "string" || typeof token !== "string") {
      return nim(414, { desc: "uid (number), channelName and token required" });
    }
    const check = checkRtcToken(token, this.env.NIM_APP_KEY, uid, channelName, this.env.NIM_APP_SECRET, Date.now());
    if (!check.ok) return nim(403, { desc: `token rejected: ${check.reason}` });
    return nim(200, { expiresAt: check.expiresAt });
  }

  /** Builds the login callback (eventType 36) NetEase would send for `accid`, signed with our secret. */
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
    const headers = callbackHeaders(this.env.NIM_APP_KEY, this.env.NIM_APP_SECRET, body, Date.now());
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
    return this.#faults.add(body, ACTIONS);
  }

  /** NetEase's frequency limit: over the configured calls per second, 416, then ~10 s of refusals. */
  #overRate(): Response | undefined {
    const limit = Number(this.env.EMULATOR_RATE_LIMIT ?? 0);
    if (!(limit > 0)) return undefined;
    const now = Date.now();
    if (now < this.#refusedUntil) return nim(416, { desc: "frequency limit, refused for a while" });
    this.#recentCalls = this.#recentCalls.filter((at) => now - at < 1000);
    this.#recentCalls.push(now);
    if (this.#recentCalls.length <= limit) return undefined;
    this.#refusedUntil = now + 10_000;
    return nim(416, { desc: "frequency limit" });
  }

  stats(): { accounts: number; calls: Record<string, number>; maxCallsPerAccid: Record<string, number> } {
    const calls: Record<string, number> = {};
    const maxCallsPerAccid: Record<string, number> = {};
    for (const counts of this.#calls.values()) {
      for (const [action, n] of Object.entries(counts)) {
        calls[action] = (calls[action] ?? 0) + n;
        maxCallsPerAccid[action] = Math.max(maxCallsPerAccid[action] ?? 0, n);
      }
    }
    return { accounts: this.#accounts.size, calls, maxCallsPerAccid };
  }

  #count(accid: string, action: string): void {
    const name = action.slice("user/".length, -".action".length);
    const counts = this.#calls.get(accid) ?? {};
    counts[name] = (counts[name] ?? 0) + 1;
    this.#calls.set(accid, counts);
  }
}

/** The accids a server API call is about: `accid`, or the JSON list in `accids` (getUinfos). */
function involvedAccids(form: URLSearchParams): string[] {
  const accid = form.get("accid");
  if (accid) return [accid];
  try {
    const list: unknown = JSON.parse(form.get("accids") ?? "[]");
    return Array.isArray(list) ? list.filter((a): a is string => typeof a === "string") : [];
  } catch {
    return [];
  }
}
