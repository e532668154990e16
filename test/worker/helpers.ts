/** Helpers for tests that run inside workerd. */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { importJWK, type JWTPayload, SignJWT } from "jose";
import { vi } from "vitest";
import { deriveAccid, deriveRtcUid, importDerivationKey } from "../../src/accounts/object/derive.ts";
import type { TokenResponse } from "../../src/contract/responses.ts";
import type { NimApiVersion } from "../../src/core/constants.ts";
import type { Env } from "../../src/env.ts";
import worker from "../../src/index.ts";
import { nimServerApi } from "../../src/nim/connect.ts";
import type { NimServerApi } from "../../src/nim/server-api.ts";

export { env };

/** base64url (no padding) of a value's compact JSON: a JWT header or payload segment. */
export function b64urlJson(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/**
 * Respells the last character of a JWT's signature so that it still decodes to the same bytes: puts
 * `bits` (non-zero; all ones by default) into the unused low bits that lenient base64 decoders ignore.
 */
export function respellSignature(jwt: string, bits = 0xff): string {
  const signature = jwt.slice(jwt.lastIndexOf(".") + 1);
  const mask = (1 << ((signature.length * 6) % 8)) - 1;
  const last = B64URL.indexOf(jwt.at(-1)!);
  return jwt.slice(0, -1) + B64URL[(last & ~mask) | (bits & mask || 1)];
}

/** A uid no other test uses, so tests sharing the emulator never collide. */
export function uniqueUid(prefix = "user"): string {
  return `${prefix}-${crypto.randomUUID()}`;
}

/** Options for minting test session JWTs. */
export interface JwtOptions {
  /** Seconds from now; default 300. */
  expiresIn?: number;
  omitExp?: boolean;
  /** Unix seconds; default now. */
  issuedAt?: number;
  /** Leave `iat` out. */
  omitIat?: boolean;
  notBefore?: number;
  issuer?: string;
  audience?: string;
  claims?: JWTPayload;
}

function claims(uid: string | undefined, options: JwtOptions): SignJWT {
  const now = Math.floor(Date.now() / 1000);
  let jwt = new SignJWT({ ...options.claims });
  if (!options.omitIat) jwt = jwt.setIssuedAt(options.issuedAt ?? now);
  if (uid !== undefined) jwt = jwt.setSubject(uid);
  if (!options.omitExp) jwt = jwt.setExpirationTime(now + (options.expiresIn ?? 300));
  if (options.notBefore !== undefined) jwt = jwt.setNotBefore(options.notBefore);
  if (options.issuer) jwt = jwt.setIssuer(options.issuer);
  if (options.audience) jwt = jwt.setAudience(options.audience);
  return jwt;
}

/** An HS256 session JWT signed with `secret` (the test SESSION_JWT_SECRET by default). */
export function hsJwt(
  uid: string | undefined,
  options: JwtOptions = {},
  secret: string = env.SESSION_JWT_SECRET!,
): Promise<string> {
  return claims(uid, options).setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(new TextEncoder().encode(secret));
}

/** The issuer and audience the identity-provider stand-in's tokens carry (a JWKS always needs both). */
export const TEST_IDP = { issuer: "https://idp.nim-token-worker.test/", audience: "nim-token-worker-test" } as const;

/**
 * Settings for JWKS sessions from the identity-provider stand-in at `path` (its own runtime per
 * path), with the issuer and audience pinned; `secret` keeps SESSION_JWT_SECRET too (both modes).
 */
export function jwksSettings(path = "/jwks.json", secret = false): Record<string, string> {
  return {
    ...(secret ? {} : { SESSION_JWT_SECRET: "" }),
    SESSION_JWKS_URL: `${env.IDP_URL}${path}`,
    SESSION_JWT_ISSUER: TEST_IDP.issuer,
    SESSION_JWT_AUDIENCE: TEST_IDP.audience,
  };
}

/**
 * An ES256 session JWT signed with the identity-provider stand-in's key (kid "es-1"), for
 * TEST_IDP's issuer and audience unless `options` says otherwise ("" leaves the claim out).
 */
export async function esJwt(uid: string | undefined, options: JwtOptions & { kid?: string } = {}): Promise<string> {
  const key = await importJWK(JSON.parse(env.IDP_PRIVATE_JWK), "ES256");
  return claims(uid, { ...TEST_IDP, ...options })
    .setProtectedHeader({ alg: "ES256", kid: options.kid ?? "es-1" })
    .sign(key);
}

/** A random client IP (TEST-NET-2), so deliberate auth failures in one test never add up to a limit in another. */
export function randomIp(): string {
  return `198.51.100.${Math.floor(Math.random() * 254) + 1}:${crypto.randomUUID().slice(0, 8)}`;
}

/** Settings a test overrides; `RUNTIME_TAG` (read by nothing) only gives the test a runtime of its own. */
export type Overrides = Partial<Record<keyof Env | "RUNTIME_TAG", unknown>>;

/**
 * Overrides that change nothing but give the requests sent with them a per-isolate runtime of their
 * own: empty caches, a fresh NetEase client, fresh probes.
 */
export function ownRuntime(): Overrides {
  return { RUNTIME_TAG: crypto.randomUUID() };
}

const envs = new Map<string, Env>();
const identities = new WeakMap<object, number>();
let nextIdentity = 1;
/**
 * The Env for these overrides: the same object for the same overrides, as workerd hands every request
 * of an isolate the same Env (the Worker keys its per-isolate runtime on that object). Bindings given
 * as overrides (objects) are told apart by identity.
 */
export function envWith(overrides: Overrides = {}): Env {
  const entries = Object.entries(overrides).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return env as Env;
  const key = JSON.stringify(
    entries.map(([name, value]) => {
      if (typeof value !== "object" || value === null) return [name, value];
      if (!identities.has(value)) identities.set(value, nextIdentity++);
      return [name, `#${identities.get(value)}`];
    }),
  );
  let found = envs.get(key);
  if (!found) {
    found = { ...env, ...overrides } as Env;
    envs.set(key, found);
  }
  return found;
}

/**
 * Sends a request through the Worker's own fetch handler, optionally with settings overridden. Each
 * request gets a random CF-Connecting-IP unless the caller sets one.
 */
export async function call(path: string, init: RequestInit = {}, overrides: Overrides = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const headers = new Headers(init.headers);
  if (!headers.has("CF-Connecting-IP")) headers.set("CF-Connecting-IP", randomIp());
  const request = new Request(`https://nim-token-worker.test${path}`, { ...init, headers });
  const response = await worker.fetch(request, envWith(overrides), ctx);
  await waitOnExecutionContext(ctx);
  return response;
}

/** What `action` logs with console.error, its lines joined (and kept out of the test output). */
export async function errorLog(action: () => Promise<unknown>): Promise<string> {
  const lines: string[] = [];
  const spy = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void lines.push(args.join(" ")));
  try {
    await action();
  } finally {
    spy.mockRestore();
  }
  return lines.join("\n");
}

/** POST /v1/token with a bearer session and an optional JSON body. */
export function issue(jwt: string | undefined, body?: unknown, overrides: Overrides = {}): Promise<Response> {
  const headers: Record<string, string> = {};
  if (jwt !== undefined) headers.Authorization = `Bearer ${jwt}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return call(
    "/v1/token",
    { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) },
    overrides,
  );
}

/** Calls the CommsEase emulator over HTTP. */
export function emulator(path: string, init?: RequestInit): Promise<Response> {
  return fetch(`${env.EMULATOR_URL}${path}`, init);
}

/** What the emulator knows about `accid`. */
export async function emulatedAccount(accid: string): Promise<{
  exists: boolean;
  blocked: boolean;
  kicks: number;
  calls: Record<string, number>;
  requestIds: string[];
}> {
  return (await emulator(`/emulator/accounts/${encodeURIComponent(accid)}`)).json();
}

/** Makes the emulator fail the next `times` calls of `action` for `accid`. */
export async function injectFault(
  accid: string,
  action: string,
  mode: string,
  times = 1,
  base?: "primary" | "backup",
): Promise<void> {
  const response = await emulator("/emulator/faults", {
    method: "POST",
    body: JSON.stringify({ accid, action, mode, times, base }),
  });
  if (response.status !== 201) throw new Error(`fault not accepted: ${await response.text()}`);
}

/** The emulator's login check for a dynamic token. */
export async function emulatorLogin(accid: string, token: string): Promise<{ code: number; desc?: string }> {
  return (await emulator("/emulator/login", { method: "POST", body: JSON.stringify({ accid, token }) })).json();
}

/** The accid the Worker derives for `uid` at `generation` with the test ACCID_SECRET. */
export async function expectedAccid(uid: string, generation = 0): Promise<string> {
  return deriveAccid(await importDerivationKey(env.ACCID_SECRET!), uid, generation);
}

/** The RTC uid the Worker derives for `uid` (first attempt) with the test ACCID_SECRET. */
export async function expectedRtcUid(uid: string, attempt = 0): Promise<number> {
  return deriveRtcUid(await importDerivationKey(env.ACCID_SECRET!), uid, attempt);
}

/** POST /v1/rtc/token with a bearer session and a JSON body. */
export function issueRtc(jwt: string | undefined, body: unknown, overrides: Overrides = {}): Promise<Response> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  if (jwt !== undefined) headers.Authorization = `Bearer ${jwt}`;
  return call("/v1/rtc/token", { method: "POST", headers, body: JSON.stringify(body) }, overrides);
}

/** Calls the admin API with the test ADMIN_TOKEN (or `token`, or none when null). */
export function adminCall(
  method: string,
  path: string,
  body?: unknown,
  options: {
    token?: string | null;
    contentType?: string;
    /** Sent as X-Request-Id (the operation's idempotency key at the uid's object). */
    requestId?: string;
    overrides?: Overrides;
  } = {},
): Promise<Response> {
  const headers: Record<string, string> = {};
  if (options.requestId !== undefined) headers["X-Request-Id"] = options.requestId;
  const token = options.token === undefined ? env.ADMIN_TOKEN! : options.token;
  if (token !== null) headers.Authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (body !== undefined) {
    headers["Content-Type"] = options.contentType ?? "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  return call(`/admin/v1${path}`, { method, headers, body: payload }, options.overrides);
}

/** Path segment for a uid. */
export const seg = (uid: string) => encodeURIComponent(uid);

/** The NetEase API version this run of the suite speaks (the worker-v2 project sets v2). */
export const apiVersion = (): NimApiVersion => (env.NIM_API_VERSION === "v2" ? "v2" : "v1");

/**
 * The Worker's NetEase client, with the test app's credentials and this run's API version, against
 * the emulator's primary base (or `apiBases`). Each call makes a fresh client: its own cool-downs and
 * 416 block.
 */
export function emulatorNim(apiBases: string[] = [`${env.EMULATOR_URL}/nimserver`]): NimServerApi {
  return nimServerApi({ apiBases, appKey: env.NIM_APP_KEY!, appSecret: env.NIM_APP_SECRET!, apiVersion: apiVersion() });
}

/** Registers `accid` directly at the emulated NetEase, as an existing ("stock") account. */
export async function registerAtNetEase(accid: string): Promise<void> {
  await emulatorNim().createAccount(accid);
}

/** Provisions `uid` through /v1/token and returns the answer. */
export async function tokenFor(uid: string, overrides: Overrides = {}): Promise<TokenResponse> {
  const response = await issue(await hsJwt(uid), undefined, overrides);
  if (response.status !== 200) throw new Error(`token for ${uid}: HTTP ${response.status} ${await response.text()}`);
  return response.json();
}

/** A random accid in NetEase's rules, for stock accounts. */
export function stockAccid(): string {
  return `stock_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

/**
 * Waits, when needed, until at least `needMs` remain in the current rate-limit window. Miniflare's
 * limiter counts in fixed windows aligned to the wall clock (`floor(now / period)`), so a test that
 * counts up to a limit would fail whenever its requests straddled a window boundary.
 */
export async function freshRateLimitWindow(needMs = 20_000, periodMs = 60_000): Promise<void> {
  const remaining = periodMs - (Date.now() % periodMs);
  if (remaining < needMs) await new Promise((resolve) => setTimeout(resolve, remaining + 50));
}
