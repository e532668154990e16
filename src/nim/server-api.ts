/**
 * Client for NetEase's server API ("nimserver"): signed form POSTs, typed outcomes.
 *
 * Every request carries `AppKey`, a fresh random `Nonce`, `CurTime` (Unix seconds) and
 * `CheckSum = sha1(AppSecret + Nonce + CurTime)`. Answers are JSON with a `code` field; HTTP status
 * is 200 even for most failures. Failures become DomainErrors here so every caller sees them the same
 * way: `upstream_unavailable` for transient ones (timeouts, 5xx, malformed answers, 500, 431),
 * `upstream_rate_limited` for 416 (NetEase then refuses the app for about 10 s), and
 * `upstream_rejected` for what retrying cannot fix (bad CheckSum, illegal operation). The `desc`
 * NetEase returns goes to the log detail, never to the caller.
 */

import { LIMITS, NIM, TIMING } from "../constants.ts";
import { DomainError } from "../errors.ts";
import { sha1Hex, toHex } from "./digest.ts";

/** NetEase's result codes that this client distinguishes. */
export const NIM_CODE = {
  ok: 200,
  illegalOperation: 403,
  parameterError: 414,
  rateLimited: 416,
  repeatedRequest: 431,
  internalError: 500,
} as const;

/** Computes the server API CheckSum: sha1(AppSecret + Nonce + CurTime), CurTime in seconds. */
export function serverApiCheckSum(appSecret: string, nonce: string, curTime: string): Promise<string> {
  return sha1Hex(appSecret + nonce + curTime);
}

/** Builds the four authentication headers for one server API request. */
export async function serverApiHeaders(
  appKey: string,
  appSecret: string,
  nowMs: number = Date.now(),
): Promise<Record<string, string>> {
  const nonce = toHex(crypto.getRandomValues(new Uint8Array(16)));
  const curTime = String(Math.floor(nowMs / 1000));
  return {
    AppKey: appKey,
    Nonce: nonce,
    CurTime: curTime,
    CheckSum: await serverApiCheckSum(appSecret, nonce, curTime),
  };
}

/** Connection settings for the server API. */
export interface NimServerApiOptions {
  /** Bases to call, primary first, then backups (e.g. NetEase's region list). */
  apiBases: readonly string[];
  appKey: string;
  appSecret: string;
  /** Per attempt. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

interface NimAnswer {
  code: number;
  desc?: string;
  info?: Record<string, unknown>;
}

/** The subset of NetEase's account API this service uses. */
export class NimServerApi {
  readonly #options: Required<NimServerApiOptions>;
  /** Bases that failed recently, and until when (ms) they are skipped. Per isolate. */
  readonly #coolingUntil = new Map<string, number>();
  /** After a 416 NetEase refuses the app for a while; until then (ms) no call is made. */
  #blockedUntil = 0;

  constructor(options: NimServerApiOptions) {
    if (options.apiBases.length === 0) throw new RangeError("at least one API base");
    this.#options = {
      timeoutMs: TIMING.nimApiTimeoutMs,
      now: () => Date.now(),
      ...options,
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    };
  }

  /**
   * Registers `accid` (`/user/create.action`). NetEase's `414 already register` is success too:
   * racing first requests for one uid derive the same accid, and whichever loses still gets it.
   * The accid to use is the one NetEase answers with (it stores accids lowercased), else ours lowercased.
   */
  async createAccount(accid: string): Promise<{ accid: string; created: boolean }> {
    assertAccid(accid);
    const answer = await this.#call("user/create.action", { accid });
    const stored = answer.info?.accid;
    const registered = typeof stored === "string" && NIM.accidPattern.test(stored) ? stored : accid.toLowerCase();
    if (answer.code === NIM_CODE.ok) return { accid: registered, created: true };
    if (answer.code === NIM_CODE.parameterError && /already register/i.test(answer.desc ?? "")) {
      return { accid: registered, created: false };
    }
    throw failure("user/create.action", answer);
  }

  /** Blocks `accid` (`/user/block.action`); with `kick`, live sessions are disconnected too. */
  async blockAccount(accid: string, kick: boolean): Promise<void> {
    assertAccid(accid);
    const answer = await this.#call("user/block.action", { accid, needkick: String(kick) });
    if (answer.code !== NIM_CODE.ok) throw failure("user/block.action", answer);
  }

  /** Unblocks `accid` (`/user/unblock.action`). */
  async unblockAccount(accid: string): Promise<void> {
    assertAccid(accid);
    const answer = await this.#call("user/unblock.action", { accid });
    if (answer.code !== NIM_CODE.ok) throw failure("user/unblock.action", answer);
  }

  /**
   * Whether NetEase accepts a call signed with our app key and secret: a cheap read (`getUinfos` of
   * `accid`). `credentials_rejected` when NetEase refuses the app key or the CheckSum (a wrong secret),
   * distinct from `unreachable` (network, timeout, 5xx) and `rate_limited` (416). Any other answer
   * means NetEase authenticated the call: an unknown probe accid is fine.
   */
  async probe(accid: string): Promise<"ok" | "credentials_rejected" | "unreachable" | "rate_limited"> {
    let answer: NimAnswer;
    try {
      answer = await this.#call("user/getUinfos.action", { accids: JSON.stringify([accid]) });
    } catch (error) {
      if (error instanceof DomainError && error.kind === "upstream_rate_limited") return "rate_limited";
      if (error instanceof DomainError && error.kind === "upstream_rejected") return "credentials_rejected";
      return "unreachable";
    }
    if (answer.code === NIM_CODE.rateLimited) return "rate_limited";
    if (answer.code === NIM_CODE.illegalOperation) return "credentials_rejected"; // illegal app key
    if (answer.code === NIM_CODE.parameterError && CREDENTIALS_PROBLEM.test(answer.desc ?? "")) {
      return "credentials_rejected";
    }
    return "ok";
  }

  /**
   * Which of `accids` exist at NetEase (`/user/getUinfos.action`, at most 200 per call; callers
   * batch). Returns the subset that exists.
   */
  async existingAccounts(accids: readonly string[]): Promise<Set<string>> {
    if (accids.length > NIM.getUinfosBatch) throw new RangeError(`at most ${NIM.getUinfosBatch} accids per call`);
    accids.forEach(assertAccid);
    if (accids.length === 0) return new Set();
    const answer = await this.#call("user/getUinfos.action", { accids: JSON.stringify(accids) });
    // Whether NetEase leaves an unknown accid out of the answer or fails the whole batch with 414 is
    // not documented. Both are handled: a batch refused with 414 (not for our credentials) is split
    // in halves until the unknown accids are found; one alone refused is simply not there.
    if (answer.code === NIM_CODE.parameterError && !CREDENTIALS_PROBLEM.test(answer.desc ?? "")) {
      if (accids.length === 1) return new Set();
      const middle = Math.ceil(accids.length / 2);
      const [left, right] = await Promise.all([
        this.existingAccounts(accids.slice(0, middle)),
        this.existingAccounts(accids.slice(middle)),
      ]);
      return new Set([...left, ...right]);
    }
    if (answer.code !== NIM_CODE.ok) throw failure("user/getUinfos.action", answer);
    const uinfos = (answer as NimAnswer & { uinfos?: unknown }).uinfos;
    const found = new Set<string>();
    if (Array.isArray(uinfos)) {
      for (const info of uinfos) {
        const accid = (info as { accid?: unknown } | null)?.accid;
        if (typeof accid === "string") found.add(accid.toLowerCase());
      }
    }
    return found;
  }

  /**
   * One logical call: at most two attempts, on two bases, with one `RequestId` (NetEase may de-duplicate
   * by it) and a fresh Nonce, CurTime and CheckSum each. A connection failure, a timeout or an HTTP 5xx
   * moves to the next base and puts the failed one in a cool-down, so a dead primary does not cost
   * every request a timeout. After a 416 no call is made until NetEase's block has passed.
   */
  async #call(action: string, form: Record<string, string>): Promise<NimAnswer> {
    const { now } = this.#options;
    if (now() < this.#blockedUntil) {
      throw new DomainError("upstream_rate_limited", {
        detail: `${action}: not called, NetEase's 416 block is still on`,
      });
    }
    const requestId = crypto.randomUUID();
    let failure: DomainError | undefined;
    for (const base of this.#basesToTry()) {
      try {
        const answer = await this.#attempt(base, action, form, requestId);
        this.#coolingUntil.delete(base);
        if (answer.code === NIM_CODE.rateLimited) this.#blockedUntil = now() + TIMING.nimRateLimitBlockSeconds * 1000;
        return answer;
      } catch (error) {
        if (!(error instanceof RetryableFailure)) throw error;
        this.#coolingUntil.set(base, now() + TIMING.nimBaseCooldownMs);
        failure = unavailable(error.message);
      }
    }
    throw failure!;
  }

  /** The bases for one call: those not cooling down first, in order; at most two. */
  #basesToTry(): string[] {
    const now = this.#options.now();
    const bases = this.#options.apiBases;
    const healthy = bases.filter((base) => (this.#coolingUntil.get(base) ?? 0) <= now);
    const cooling = bases.filter((base) => !healthy.includes(base));
    return [...healthy, ...cooling].slice(0, LIMITS.nimApiAttempts);
  }

  async #attempt(base: string, action: string, form: Record<string, string>, requestId: string): Promise<NimAnswer> {
    const { appKey, appSecret, timeoutMs } = this.#options;
    const headers = {
      ...(await serverApiHeaders(appKey, appSecret, this.#options.now())),
      RequestId: requestId,
      "Content-Type": "application/x-www-form-urlencoded;charset=utf-8",
    };
    let response: Response;
    try {
      response = await this.#options.fetch(`${base}/${action}`, {
        method: "POST",
        headers,
        body: new URLSearchParams(form).toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
      throw new RetryableFailure(`${action}: ${timedOut ? `no answer within ${timeoutMs} ms` : "network error"}`);
    }
    if (response.status >= 500) {
      await response.body?.cancel();
      throw new RetryableFailure(`${action}: HTTP ${response.status}`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new DomainError("upstream_rejected", { detail: `${action}: HTTP ${response.status}` });
    }
    let answer: unknown;
    try {
      answer = await response.json();
    } catch {
      throw unavailable(`${action}: answer is not JSON`);
    }
    if (typeof answer !== "object" || answer === null || typeof (answer as NimAnswer).code !== "number") {
      throw unavailable(`${action}: answer has no numeric code`);
    }
    return answer as NimAnswer;
  }
}

/** NetEase's 414 desc when it refuses the signature itself rather than a parameter. */
const CREDENTIALS_PROBLEM = /checksum|appkey|curtime|nonce/i;

/** A failure that another base may not have: connection, timeout, HTTP 5xx. */
class RetryableFailure extends Error {}

function assertAccid(accid: string): void {
  if (!NIM.accidPattern.test(accid)) throw new RangeError("accid does not follow NetEase's rules");
}

function unavailable(detail: string): DomainError {
  return new DomainError("upstream_unavailable", { detail });
}

function failure(action: string, answer: NimAnswer): DomainError {
  // NetEase's desc is free text from the vendor; keep it short and out of the response.
  const detail = `${action}: code ${answer.code} ${(answer.desc ?? "").slice(0, LIMITS.logDetailChars)}`;
  if (answer.code === NIM_CODE.rateLimited) return new DomainError("upstream_rate_limited", { detail });
  const transient: number[] = [NIM_CODE.internalError, NIM_CODE.repeatedRequest];
  if (transient.includes(answer.code)) return unavailable(detail);
  return new DomainError("upstream_rejected", { detail });
}
