/**
 * The bench's practical limit: a hand-written minimal token issuer, the least a correct one must do.
 * One file; no Hono, no jose, no Valibot. It verifies the session JWT with WebCrypto (HS256 with a
 * key imported once, or ES256 with the JWKS key imported once), requires `exp` and checks
 * `nbf`/`iat` with the same 30 s tolerance, pins `iss`/`aud` for ES256, looks the account up in the
 * same isolate cache over KV (60 s), signs NetEase's SHA-1 dynamic token, and answers the same JSON
 * with the headers that matter (JSON, no-store, HSTS, nosniff, CORP, Vary: Origin). `/v1/rtc/token`
 * signs the NERTC token and a permission key under the same channel grant (HMAC-SHA256, a stored
 * zlib block) with the project's own pure signing code, so the two differ only in what wraps them.
 *
 * What it leaves out, and a real issuer needs: error bodies beyond a bare status, first-time
 * provisioning, revocation, request ids and access logs, CORS preflight, body validation, the
 * OpenAPI document, configuration checks, rate limits.
 */

import { signRtcPermissionKey } from "../../src/rtc/permission-key.ts";

interface Env {
  ACCOUNTS: KVNamespace;
  NIM_APP_KEY: string;
  NIM_APP_SECRET: string;
  SESSION_JWT_SECRET?: string;
  SESSION_JWKS_URL?: string;
  SESSION_JWT_ISSUER?: string;
  SESSION_JWT_AUDIENCE?: string;
  NERTC_PERM_SECRET?: string;
}

const encoder = new TextEncoder();
const TOLERANCE = 30;
const HEADERS = {
  "Content-Type": "application/json",
  "Cache-Control": "no-store",
  "Strict-Transport-Security": "max-age=15552000; includeSubDomains",
  "X-Content-Type-Options": "nosniff",
  "Cross-Origin-Resource-Policy": "same-origin",
  Vary: "Origin",
};

let hmacKey: Promise<CryptoKey> | undefined;
let esKey: Promise<CryptoKey> | undefined;
const accounts = new Map<string, { accid: string; rtcUid: number; at: number }>();

function b64urlBytes(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replaceAll("-", "+").replaceAll("_", "/"));
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return bytes;
}

function hex(buffer: ArrayBuffer): string {
  let out = "";
  for (const byte of new Uint8Array(buffer)) out += byte.toString(16).padStart(2, "0");
  return out;
}

async function sha1Hex(text: string): Promise<string> {
  return hex(await crypto.subtle.digest("SHA-1", encoder.encode(text)));
}

async function jwksKey(env: Env): Promise<CryptoKey> {
  const jwks = (await (await fetch(env.SESSION_JWKS_URL!)).json()) as { keys: JsonWebKey[] };
  return crypto.subtle.importKey("jwk", jwks.keys[0]!, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
}

/** The session's uid, or undefined for any failure. */
async function sessionUid(env: Env, authorization: string | null): Promise<string | undefined> {
  if (!authorization?.startsWith("Bearer ")) return undefined;
  const jwt = authorization.slice(7);
  const [header, payload, signature] = jwt.split(".");
  if (!header || !payload || !signature) return undefined;
  const alg = (JSON.parse(atob(header.replaceAll("-", "+").replaceAll("_", "/"))) as { alg?: string }).alg;
  const data = encoder.encode(`${header}.${payload}`);
  let valid: boolean;
  if (alg === "HS256" && env.SESSION_JWT_SECRET) {
    hmacKey ??= crypto.subtle.importKey(
      "raw",
      encoder.encode(env.SESSION_JWT_SECRET),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["verify"],
    );
    valid = await crypto.subtle.verify("HMAC", await hmacKey, b64urlBytes(signature), data);
  } else if (alg === "ES256" && env.SESSION_JWKS_URL) {
    esKey ??= jwksKey(env);
    valid = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, await esKey, b64urlBytes(signature), data);
  } else return undefined;
  if (!valid) return undefined;
  const claims = JSON.parse(new TextDecoder().decode(b64urlBytes(payload))) as Record<string, unknown>;
  const now = Date.now() / 1000;
  if (typeof claims.exp !== "number" || claims.exp < now - TOLERANCE) return undefined;
  if (typeof claims.nbf === "number" && claims.nbf > now + TOLERANCE) return undefined;
  if (typeof claims.iat === "number" && claims.iat > now + TOLERANCE) return undefined;
  if (alg === "ES256") {
    const aud = claims.aud;
    if (claims.iss !== env.SESSION_JWT_ISSUER) return undefined;
    if (!(aud === env.SESSION_JWT_AUDIENCE || (Array.isArray(aud) && aud.includes(env.SESSION_JWT_AUDIENCE))))
      return undefined;
  }
  return typeof claims.sub === "string" && claims.sub.length > 0 ? claims.sub : undefined;
}

async function account(env: Env, uid: string): Promise<{ accid: string; rtcUid: number } | undefined> {
  const now = Date.now();
  const cached = accounts.get(uid);
  if (cached && now - cached.at < 60_000) return cached;
  const record = await env.ACCOUNTS.get<{ accid: string; rtcUid: number; status: string }>(`uid:${uid}`, "json");
  if (record?.status !== "active") return undefined;
  const entry = { accid: record.accid, rtcUid: record.rtcUid, at: now };
  accounts.set(uid, entry);
  return entry;
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const { pathname } = new URL(request.url);
    const rtc = pathname === "/v1/rtc/token";
    if (request.method !== "POST" || !(rtc || pathname === "/v1/token")) return new Response(null, { status: 404 });
    const uid = await sessionUid(env, request.headers.get("Authorization"));
    if (!uid) return new Response(null, { status: 401 });
    const found = await account(env, uid);
    if (!found) return new Response(null, { status: 404 });
    const curTime = Date.now();
    const ttl = 600;
    const times = {
      curTime,
      ttl,
      expiresAt: curTime + ttl * 1000,
      serverTime: Date.now(),
      refreshAfter: curTime + Math.round(ttl * 800),
    };
    if (!rtc) {
      const signature = await sha1Hex(`${env.NIM_APP_KEY}${found.accid}${curTime}${ttl}${env.NIM_APP_SECRET}`);
      const token = btoa(`{"signature":"${signature}","curTime":${curTime},"ttl":${ttl}}`);
      return new Response(JSON.stringify({ accid: found.accid, token, appKey: env.NIM_APP_KEY, ...times }), {
        headers: HEADERS,
      });
    }
    const { channelName } = (await request.json()) as { channelName: string };
    // The bench's channel grant: "bench room *" → receive + join (44), keys for 1800 s.
    const privilege = channelName.startsWith("bench room ") ? 44 : 63;
    const signature = await sha1Hex(
      `${env.NIM_APP_KEY}${found.rtcUid}${curTime}${ttl}${channelName}${env.NIM_APP_SECRET}`,
    );
    const token = btoa(`{"signature":"${signature}","curTime":${curTime},"ttl":${ttl}}`);
    const keyTime = Math.floor(curTime / 1000);
    const { permKey } = await signRtcPermissionKey({
      appKey: env.NIM_APP_KEY,
      uid: found.rtcUid,
      channelName,
      privilege,
      ttl: 1800,
      curTime: keyTime,
      permSecret: env.NERTC_PERM_SECRET!,
    });
    return new Response(
      JSON.stringify({
        uid: found.rtcUid,
        channelName,
        token,
        appKey: env.NIM_APP_KEY,
        ...times,
        permKey,
        privilege,
        permKeyTtl: 1800,
        permKeyExpiresAt: (keyTime + 1800) * 1000,
      }),
      { headers: HEADERS },
    );
  },
};
