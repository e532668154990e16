/**
 * A local stand-in for NetEase's CommsEase server API, for `npm start`, the tests and the benchmark.
 * Never deployed. It speaks the real wire format: form-encoded POSTs with AppKey / Nonce / CurTime /
 * CheckSum headers checked as NetEase documents them (5-minute window, repeated nonces refused), the
 * accid rules, and JSON answers with NetEase's codes (200, 403, 414, 416, 422, 431, 500).
 *
 * Like NetEase it serves a primary and a backup base (`/nimserver/…` and `/backup/nimserver/…`; a
 * fault can hit one base only, so failover is testable end to end), records each call's `RequestId`
 * (per accid, in `GET /emulator/accounts/<accid>`) and answers a repeated RequestId with the first
 * answer, as NetEase may de-duplicate by it.
 *
 * All state lives in one Durable Object so that check-then-create is atomic, exactly like the real
 * service's uniqueness: two racing `create.action` calls for one accid get 200 and 414 `already
 * register`. Accounts are kept in Durable Object storage (persisted by `npm start`); call counters
 * and injected faults are in memory, being test aids only.
 *
 * Emulator-only endpoints (under /emulator/):
 *   POST /emulator/login            {accid, token, authType?, callbackUrl?} → the login check NetEase's IM
 *                                   server would make; with callbackUrl, it also asks the app's
 *                                   login callback first, signed as NetEase signs it
 *   POST /emulator/rtc/join         {uid, channelName, token} → the check NERTC makes when a client
 *                                   joins a channel in safe mode: signature and validity;
 *                                   {"code":200,"expiresAt"} or {"code":403,"desc"}
 *   POST /emulator/callbacks/login  {accid, token?, authType?, url?} → a signed login-callback request: sent to
 *                                   `url` (answer returned), or returned unsent for a test to send
 *   POST /emulator/accounts         {accid} → creates a "stock" account, as if your backend had
 *                                   registered it with NetEase long ago (no CheckSum needed);
 *                                   {"code":200} or {"code":414,"desc":"already register"}
 *   GET  /emulator/accounts/<accid>                  → {exists, blocked, kicks, calls, requestIds}
 *   POST /emulator/faults           {accid?, action, mode, times?, base?} → make the next calls fail
 *   GET  /emulator/stats            → {accounts, calls, maxCallsPerAccid} over every accid
 *   GET  /emulator/health
 */

import { DurableObject } from "cloudflare:workers";
import {
  ACCID_PATTERN,
  CHECKSUM_WINDOW_SECONDS,
  callbackHeaders,
  checkDynamicToken,
  checkRtcToken,
  sameText,
  serverApiCheckSum,
} from "./netease.ts";

interface EmulatorEnv {
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

/** How an injected fault answers. */
type FaultMode =
  | "http500"
  | "http502"
  | "code500"
  | "code416"
  | "code403"
  | "malformed"
  | "timeout"
  | "applied_timeout";
const FAULT_MODES: readonly FaultMode[] = [
  "http500",
  "http502",
  "code500",
  "code416",
  "code403",
  "malformed",
  "timeout",
  // The call takes effect, but its answer never arrives in time: the caller sees a failure for a
  // change that happened (what a timeout or a 5xx after NetEase acted looks like).
  "applied_timeout",
];

interface Fault {
  accid: string | undefined;
  action: string;
  mode: FaultMode;
  remaining: number;
  /** Only on this base (default: both). */
  base?: Base;
}

type Base = "primary" | "backup";

const ACTIONS = ["user/create.action", "user/block.action", "user/unblock.action", "user/getUinfos.action"] as const;
type Action = (typeof ACTIONS)[number];

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json; charset=utf-8" } });
const nim = (code: number, extra: Record<string, unknown> = {}) => json({ code, ...extra });

/** The emulated CommsEase app: accounts, nonces, counters and faults. */
export class CommsEase extends DurableObject<EmulatorEnv> {
  readonly #accounts = new Map<string, Account>();
  readonly #nonces = new Map<string, number>();
  readonly #calls = new Map<string, Record<string, number>>();
  #faults: Fault[] = [];
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

  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const path = url.pathname;
    // Two bases, as NetEase serves a primary and a backup domain: /nimserver/ and /backup/nimserver/.
    const served = /^\/(backup\/)?nimserver\/(.+)$/.exec(path);
    if (served) {
      const action = served[2] as Action;
      if (!ACTIONS.includes(action)) return json({ code: 404, desc: "not found" }, 404);
      if (request.method !== "POST") return json({ code: 405, desc: "method not allowed" }, 405);
      return this.#serverApi(action, request, served[1] ? "backup" : "primary");
    }
    if (path === "/emulator/health") return json({ status: "ok" });
    if (path === "/emulator/stats") return json(this.#stats());
    if (path === "/emulator/login" && request.method === "POST") return this.#login(request);
    if (path === "/emulator/rtc/join" && request.method === "POST") return this.#rtcJoin(request);
    if (path === "/emulator/accounts" && request.method === "POST") {
      const body = (await request.json().catch(() => null)) as { accid?: unknown } | null;
      return this.#create(new URLSearchParams(typeof body?.accid === "string" ? { accid: body.accid } : {}));
    }
    if (path === "/emulator/faults" && request.method === "POST") return this.#addFault(request);
    if (path === "/emulator/callbacks/login" && request.method === "POST") return this.#loginCallback(request);
    if (path.startsWith("/emulator/accounts/") && request.method === "GET") {
      const accid = decodeURIComponent(path.slice("/emulator/accounts/".length));
      const account = this.#accounts.get(accid.toLowerCase());
      return json({
        accid,
        exists: Boolean(account),
        blocked: account?.blocked ?? false,
        kicks: this.#kicks.get(accid.toLowerCase()) ?? 0,
        calls: this.#calls.get(accid) ?? {},
        requestIds: this.#requestIds.get(accid) ?? [],
      });
    }
    return json({ code: 404, desc: "not found" }, 404);
  }

  async #serverApi(action: Action, request: Request, base: Base): Promise<Response> {
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

    const fault = this.#takeFault(action, accids, base);
    if (fault?.mode === "applied_timeout") await this.#execute(action, form);
    if (fault) return this.#faultAnswer(fault);
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
  async #login(request: Request): Promise<Response> {
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
  async #rtcJoin(request: Request): Promise<Response> {
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

  async #loginCallback(request: Request): Promise<Response> {
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

  async #addFault(request: Request): Promise<Response> {
    const body = (await request.json().catch(() => null)) as Partial<Record<keyof Fault | "times", unknown>> | null;
    const action = body?.action;
    const mode = body?.mode as FaultMode;
    const times = body?.times ?? 1;
    if (typeof action !== "string" || !(ACTIONS as readonly string[]).concat("*").includes(action)) {
      return json({ error: `action must be one of ${ACTIONS.join(", ")} or *` }, 400);
    }
    if (!FAULT_MODES.includes(mode)) return json({ error: `mode must be one of ${FAULT_MODES.join(", ")}` }, 400);
    if (!Number.isInteger(times) || (times as number) < 1)
      return json({ error: "times must be a positive integer" }, 400);
    const accid = typeof body?.accid === "string" ? body.accid : undefined;
    const base = body?.base === "primary" || body?.base === "backup" ? body.base : undefined;
    this.#faults.push({ accid, action, mode, remaining: times as number, base });
    return json({ ok: true }, 201);
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

  #takeFault(action: string, accids: readonly string[], base: Base): Fault | undefined {
    const fault = this.#faults.find(
      (f) =>
        (f.action === "*" || f.action === action) &&
        (f.accid === undefined || accids.includes(f.accid)) &&
        (f.base === undefined || f.base === base),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining <= 0) this.#faults = this.#faults.filter((f) => f !== fault);
    return fault;
  }

  async #faultAnswer(fault: Fault): Promise<Response> {
    switch (fault.mode) {
      case "http500":
        return new Response("Internal Server Error", { status: 500 });
      case "http502":
        return new Response("Bad Gateway", { status: 502 });
      case "code500":
        return nim(500, { desc: "internal error" });
      case "code416":
        return nim(416, { desc: "frequency limit" });
      case "code403":
        return nim(403, { desc: "illegal operation" });
      case "malformed":
        return new Response("<html>gateway</html>", { status: 200, headers: { "Content-Type": "text/html" } });
      case "timeout":
      case "applied_timeout":
        // Longer than any client timeout; the caller gives up first.
        await new Promise((resolve) => setTimeout(resolve, 30_000));
        return nim(500, { desc: "late" });
    }
  }

  #stats(): { accounts: number; calls: Record<string, number>; maxCallsPerAccid: Record<string, number> } {
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

export default {
  fetch(request: Request, env: EmulatorEnv): Promise<Response> {
    // One app, one object: every request goes through the same serialized state.
    return env.COMMSEASE.get(env.COMMSEASE.idFromName("app")).fetch(request);
  },
} satisfies ExportedHandler<EmulatorEnv>;
