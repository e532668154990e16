/**
 * The wire under NetEase's server API, shared by both of its dialects (v1 form posts, v2 REST JSON):
 * request signing, failover between bases, the retry policy and the 416 block.
 *
 * Every request carries `AppKey`, a fresh random `Nonce`, `CurTime` (Unix seconds) and
 * `CheckSum = sha1(AppSecret + Nonce + CurTime)`, plus one trace id per logical call (`RequestId` on
 * v1, `X-custom-traceid` on v2) that stays the same on its retry, so NetEase can de-duplicate. Answers
 * are JSON with a numeric `code`; HTTP status is 200 even for most failures. Failures become
 * DomainErrors here so every caller sees them the same way: `upstream_unavailable` for transient ones
 * (timeouts, 5xx, malformed answers, 500, 431), `upstream_rate_limited` for 416 (NetEase then refuses
 * the app for about 10 s), and `upstream_rejected` for what retrying cannot fix (bad CheckSum, illegal
 * operation). What NetEase says (`desc`, `msg`) goes to the log detail, never to the caller.
 */

import { LIMITS, TIMING } from "../core/constants.ts";
import { DomainError, isFetchTimeout, type UpstreamFailure } from "../core/errors.ts";
import { type Secret, secretValue } from "../core/secret.ts";
import { sha1Hex, toHex } from "./digest.ts";

/** NetEase's result codes that this client distinguishes (the same on v1 and v2). */
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
export interface NimTransportOptions {
  /** Bases to call, primary first, then backups (e.g. NetEase's region list). */
  apiBases: readonly string[];
  appKey: string;
  /** The app secret: its value, or a Secret read when a call is signed (a Secrets Store binding may change). */
  appSecret: string | Secret;
  /** Per attempt. */
  timeoutMs?: number;
  fetch?: typeof fetch;
  now?: () => number;
}

/** One logical call, in either dialect. */
export interface NimCall {
  /** What the logs call it: `user/create.action`, `POST /im/v2/accounts`. */
  action: string;
  method: "GET" | "POST" | "PATCH";
  /** Appended to the base: `user/create.action`, `im/v2/accounts?account_ids=…`. */
  path: string;
  /** v1: form fields; v2: a JSON body. None for a GET. */
  body?: { form: Record<string, string> } | { json: unknown };
  /** v1 names the trace id `RequestId`, v2 `X-custom-traceid` (NetEase's SDKs do the same). */
  traceHeader: "RequestId" | "X-custom-traceid";
}

/** An answer NetEase sent: at least a numeric `code`; v1 adds `desc`, `info`…, v2 `msg`, `data`. */
export interface NimAnswer {
  code: number;
  desc?: string;
  msg?: string;
  [field: string]: unknown;
}

/**
 * HTTP statuses worth a second try on another base. NetEase answers every API call with HTTP 200 and
 * the outcome in `code`, so a non-200 comes from a gateway in front of it. NetEase's own Go and Java
 * SDKs retry only 502 (and connection failures and timeouts). We also retry 503 and 504, the other
 * two gateway answers ("no healthy upstream", "upstream timed out"): the backup domain goes through
 * another gateway, and every call this service makes is idempotent (create answers "already
 * register", block and unblock set a state, the trace id lets NetEase de-duplicate), so a retry can
 * do no harm. A 500 is not retried: it means NetEase's application itself failed, which sits behind
 * both domains, so a second try doubles the load of an incident for the same answer.
 */
const RETRIED_STATUSES: ReadonlySet<number> = new Set([502, 503, 504]);

/** Signs, sends and retries NetEase server API calls; one per isolate and settings. */
export class NimTransport {
  readonly #options: Required<NimTransportOptions>;
  /** Bases that failed recently, and until when (ms) they are skipped. Per isolate. */
  readonly #coolingUntil = new Map<string, number>();
  /** After a 416 NetEase refuses the app for a while; until then (ms) no call is made. */
  #blockedUntil = 0;

  constructor(options: NimTransportOptions) {
    if (options.apiBases.length === 0) throw new RangeError("at least one API base");
    this.#options = {
      apiBases: options.apiBases,
      appKey: options.appKey,
      appSecret: options.appSecret,
      timeoutMs: options.timeoutMs ?? TIMING.nimApiTimeoutMs,
      now: options.now ?? (() => Date.now()),
      fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    };
  }

  /**
   * One logical call: at most two attempts, on two bases, with one trace id and a fresh Nonce, CurTime
   * and CheckSum each. A connection failure, a timeout or a gateway status (`RETRIED_STATUSES`) moves
   * to the next base and puts the failed one in a cool-down, so a dead primary does not cost every
   * request a timeout. After a 416 no call is made until NetEase's block has passed.
   */
  async call(call: NimCall): Promise<NimAnswer> {
    const { now } = this.#options;
    if (now() < this.#blockedUntil) {
      throw new DomainError("upstream_rate_limited", {
        detail: `${call.action}: not called, NetEase's 416 block is still on`,
        upstream: { action: call.action, code: "held" },
      });
    }
    const traceId = crypto.randomUUID();
    let failure: DomainError | undefined;
    for (const base of this.#basesToTry()) {
      try {
        const answer = await this.#attempt(base, call, traceId);
        this.#coolingUntil.delete(base);
        if (answer.code === NIM_CODE.rateLimited) this.#blockedUntil = now() + TIMING.nimRateLimitBlockSeconds * 1000;
        return answer;
      } catch (error) {
        if (!(error instanceof RetryableFailure)) throw error;
        this.#coolingUntil.set(base, now() + TIMING.nimBaseCooldownMs);
        failure = unavailable(error.message, { action: call.action, code: error.code });
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

  async #attempt(base: string, call: NimCall, traceId: string): Promise<NimAnswer> {
    const { appKey, appSecret, timeoutMs } = this.#options;
    const headers: Record<string, string> = {
      ...(await serverApiHeaders(appKey, await secretValue(appSecret), this.#options.now())),
      [call.traceHeader]: traceId,
    };
    let body: string | undefined;
    if (call.body && "form" in call.body) {
      headers["Content-Type"] = "application/x-www-form-urlencoded;charset=utf-8";
      body = new URLSearchParams(call.body.form).toString();
    } else if (call.body) {
      headers["Content-Type"] = "application/json;charset=utf-8";
      body = JSON.stringify(call.body.json);
    }
    let response: Response;
    try {
      response = await this.#options.fetch(`${base}/${call.path}`, {
        method: call.method,
        headers,
        body,
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = isFetchTimeout(error);
      throw new RetryableFailure(
        `${call.action}: ${timedOut ? `no answer within ${timeoutMs} ms` : "network error"}`,
        timedOut ? "timeout" : "network",
      );
    }
    if (!response.ok) {
      await response.body?.cancel();
      const detail = `${call.action}: HTTP ${response.status}`;
      const upstream = { action: call.action, code: `HTTP_${response.status}` };
      if (RETRIED_STATUSES.has(response.status)) throw new RetryableFailure(detail, upstream.code);
      if (response.status >= 500) throw unavailable(detail, upstream);
      throw new DomainError("upstream_rejected", { detail, upstream });
    }
    let answer: unknown;
    try {
      answer = await response.json();
    } catch {
      throw unavailable(`${call.action}: answer is not JSON`, { action: call.action, code: "bad_answer" });
    }
    if (typeof answer !== "object" || answer === null || typeof (answer as NimAnswer).code !== "number") {
      throw unavailable(`${call.action}: answer has no numeric code`, { action: call.action, code: "bad_answer" });
    }
    return answer as NimAnswer;
  }
}

/** NetEase's text when it refuses the signature itself rather than a parameter. */
export const CREDENTIALS_PROBLEM = /checksum|appkey|curtime|nonce/i;

/** What NetEase said about a failure (v1 `desc`, v2 `msg`), for the log only. */
export function nimText(answer: NimAnswer): string {
  return typeof answer.desc === "string" ? answer.desc : typeof answer.msg === "string" ? answer.msg : "";
}

/** The DomainError for a call NetEase answered with a failure code. */
export function nimFailure(action: string, answer: NimAnswer): DomainError {
  // NetEase's text is free text from the vendor; keep it short and out of the response.
  const detail = `${action}: code ${answer.code} ${nimText(answer).slice(0, LIMITS.logDetailChars)}`;
  const upstream = { action, code: String(answer.code) };
  if (answer.code === NIM_CODE.rateLimited) return new DomainError("upstream_rate_limited", { detail, upstream });
  const transient: number[] = [NIM_CODE.internalError, NIM_CODE.repeatedRequest];
  if (transient.includes(answer.code)) return unavailable(detail, upstream);
  return new DomainError("upstream_rejected", { detail, upstream });
}

/**
 * How a readiness probe reads an answer: NetEase authenticated the call (`ok`, whatever the call's
 * own outcome: an unknown probe accid is fine), or refused our app key or CheckSum (a wrong secret).
 */
export function probeOutcome(answer: NimAnswer): "ok" | "credentials_rejected" | "rate_limited" {
  if (answer.code === NIM_CODE.rateLimited) return "rate_limited";
  if (answer.code === NIM_CODE.illegalOperation) return "credentials_rejected"; // illegal app key
  if (answer.code === NIM_CODE.parameterError && CREDENTIALS_PROBLEM.test(nimText(answer))) {
    return "credentials_rejected";
  }
  return "ok";
}

/** The probe's outcome when the call itself failed. */
export function probeFailure(error: unknown): "credentials_rejected" | "unreachable" | "rate_limited" {
  if (error instanceof DomainError && error.kind === "upstream_rate_limited") return "rate_limited";
  if (error instanceof DomainError && error.kind === "upstream_rejected") return "credentials_rejected";
  return "unreachable";
}

/** A failure that another base may not have: connection, timeout, a gateway status. */
class RetryableFailure extends Error {
  /** The metrics code: timeout, network or HTTP_<status>. */
  readonly code: string;

  constructor(message: string, code: string) {
    super(message);
    this.code = code;
  }
}

/** `upstream_unavailable` with a log detail (and, for a failed call, which one and how). */
export function unavailable(detail: string, upstream?: UpstreamFailure): DomainError {
  return new DomainError("upstream_unavailable", { detail, upstream });
}
