/**
 * Abuse limits, on Cloudflare's Rate Limiting binding (configured in wrangler.jsonc, simulated
 * locally by Miniflare): per uid on token issuance, and per client network (an IPv4 address, an IPv6
 * /64: see `networkOf`) on failed authentication
 * (session, admin and NetEase-callback 401s). Over a limit the answer is 429 `rate_limited` with
 * Retry-After. Counting is per Cloudflare location and approximate, as the binding documents; it
 * stops floods, it is not an exact quota.
 *
 * The failure limit slows only requests that fail: a request with valid credentials (a valid session,
 * the admin token, a correctly signed NetEase callback) is never refused by it, however many failures
 * came from its IP. Mobile carriers put many users behind one address (CGNAT), and expired sessions
 * are failures too, so refusing the address would lock out honest users, and NetEase's own callbacks,
 * because of one noisy client. Volumetric abuse belongs to Cloudflare's WAF rate-limiting rules in
 * front of the Worker (docs/security.md#where-they-end). Bindings are optional; without them nothing is limited.
 */

import type { MiddlewareHandler } from "hono";
import { DomainError } from "../core/errors.ts";
import type { LogFields } from "../core/log.ts";
import type { AppRuntime, Runtime } from "../runtime.ts";
import type { AppEnv } from "./context.ts";
import { describeError, errorResponse } from "./errors.ts";

/**
 * Counts one token request of `uid` in `app` (under the app's `limitKey`); throws 429
 * `rate_limited` when it is over its limit.
 */
export async function countTokenRequest(runtime: Runtime, app: AppRuntime, uid: string): Promise<void> {
  const limiter = runtime.config.rateLimiters.tokenRequests;
  if (limiter && !(await limiter.limit({ key: app.limitKey(uid) })).success) {
    throw new DomainError("rate_limited", { detail: "token requests per uid" });
  }
}

/** The caller's IP as Cloudflare reports it (absent locally, where all callers share one bucket). */
export function clientIpOf(request: Request): string {
  return request.headers.get("CF-Connecting-IP") ?? "unknown";
}

const HEXTET = /^[0-9a-f]{1,4}$/;
const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** An IPv6 address's eight hextets, or undefined when `ip` is not one (zone ids included). */
function hextetsOf(ip: string): number[] | undefined {
  const halves = ip.toLowerCase().split("::");
  if (halves.length > 2) return undefined;
  const head = halves[0] ? halves[0].split(":") : [];
  const tail = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  // A dotted IPv4 ending (`::ffff:192.0.2.1`) stands for the last two hextets.
  const last = halves.length === 2 ? tail : head;
  const dotted = DOTTED.exec(last.at(-1) ?? "");
  if (dotted) {
    const bytes = dotted.slice(1).map(Number);
    if (bytes.some((byte) => byte > 255)) return undefined;
    last.splice(-1, 1, ((bytes[0]! << 8) | bytes[1]!).toString(16), ((bytes[2]! << 8) | bytes[3]!).toString(16));
  }
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const hextets = [...head, ...Array<string>(halves.length === 2 ? missing : 0).fill("0"), ...tail];
  if (!hextets.every((hextet) => HEXTET.test(hextet))) return undefined;
  return hextets.map((hextet) => Number.parseInt(hextet, 16));
}

/**
 * The client network an IP belongs to, as per-client limits count it: an IPv4 address as it is, an
 * IPv6 address as its /64 (`2001:db8:0:1::/64`), and an IPv4 address written as IPv6 (mapped,
 * `::ffff:192.0.2.1`, or through NAT64's well-known prefix `64:ff9b::/96`) as that IPv4 address.
 * Why the /64: one IPv6 subscriber is handed a whole /64 at least (RFC 6177), so counting single
 * IPv6 addresses would give every caller 2^64 fresh ones. Anything else is its own network.
 */
export function networkOf(ip: string): string {
  if (!ip.includes(":")) return ip;
  const hextets = hextetsOf(ip);
  if (!hextets) return ip;
  const prefix = hextets.slice(0, 6).join(":");
  if (prefix === "0:0:0:0:0:65535" || prefix === "100:65435:0:0:0:0") {
    const [high, low] = [hextets[6]!, hextets[7]!];
    return `${high >> 8}.${high & 255}.${low >> 8}.${low & 255}`;
  }
  return `${hextets
    .slice(0, 4)
    .map((hextet) => hextet.toString(16))
    .join(":")}::/64`;
}

/**
 * The wider network a visitor without a session is counted by: an IPv4 address as `networkOf`
 * counts it, an IPv6 address as its /56, what an ISP commonly hands one home (RFC 6177), so a
 * visitor cannot be 256 /64s at once.
 */
export function visitorNetworkOf(ip: string): string {
  const hextets = ip.includes(":") ? hextetsOf(ip) : undefined;
  const network = networkOf(ip);
  if (!hextets || !network.endsWith("::/64")) return network;
  const head = [...hextets.slice(0, 3), hextets[3]! & 0xff00];
  return `${head.map((hextet) => hextet.toString(16)).join(":")}::/56`;
}

/**
 * Counts `answer` against its client network when it is a 401, and returns the answer to send: the
 * same one, or a 429 `rate_limited` once the network is over its limit of failures (its code goes to
 * `fields`, the access log's).
 */
export async function countAuthFailure(
  runtime: Runtime,
  request: Request,
  answer: Response,
  fields: LogFields,
): Promise<Response> {
  const limiter = runtime.config.rateLimiters.authFailures;
  if (!limiter || answer.status !== 401) return answer;
  const { success } = await limiter.limit({ key: `ip:${networkOf(clientIpOf(request))}` });
  if (success) return answer;
  const { code, message, headers } = describeError(new DomainError("rate_limited"));
  fields.error = code;
  return errorResponse(code, message, headers);
}

/**
 * Counts every 401 answered behind it per client network; over the limit, a failing request's 401 becomes a
 * 429. Mounted around the whole app, so that no route that authenticates can be left out of it: a
 * 401 is a failed authentication wherever it comes from.
 */
export function limitAuthFailures(): MiddlewareHandler<AppEnv> {
  return async function limitAuthFailures(c, next) {
    // Without a runtime (unusable settings) nothing authenticates.
    const runtime = c.get("runtime") as Runtime | undefined;
    if (!runtime?.config.rateLimiters.authFailures) return next();
    await next();
    const answer = await countAuthFailure(runtime, c.req.raw, c.res, c.get("logFields"));
    if (answer === c.res) return;
    // Replacing c.res copies the old headers over (CORS, security headers); the 401's challenge
    // does not belong on a 429.
    c.res.headers.delete("WWW-Authenticate");
    c.res = answer;
  };
}
