/**
 * A local stand-in for NetEase's CommsEase server API, for `npm start`, the tests and the benchmark.
 * Never deployed. It speaks the real wire format: form-encoded POSTs with AppKey / Nonce / CurTime /
 * CheckSum headers checked as NetEase documents them (5-minute window, repeated nonces refused), the
 * accid rules, and JSON answers with NetEase's codes (200, 403, 404, 414, 416, 422, 431, 500, and
 * the chatroom codes 13002, 113404, 113406).
 *
 * Besides accounts (`/user/*.action`, `/im/v2/accounts…`) it serves chatrooms: create, get, open or
 * close, and the link addresses a client enters by (`/chatroom/*.action`, `/im/v2/chatrooms…`;
 * chatrooms.ts has the address scheme, server-v1.ts and server-v2.ts the codes).
 *
 * Like NetEase it serves a primary and a backup base (`/nimserver/…` and `/backup/nimserver/…`; a
 * fault can hit one base only, so failover is testable end to end), records each call's `RequestId`
 * (per accid, in `GET /emulator/accounts/<accid>`) and answers a repeated RequestId with the first
 * answer, as NetEase may de-duplicate by it.
 *
 * It serves one or more NetEase apps (startEmulator's `appKey`/`appSecret`/`permSecret`, then its
 * `apps`), each fully apart, as NetEase keeps apps apart: each app's state lives in its own Durable
 * Object (the first app's is named "app", as when the emulator served one; each other's "app:<appKey>"),
 * so accounts, call counters, RequestIds, nonces, faults, stats and the per-second rate limit are per
 * app. One object per app makes check-then-create atomic, exactly like the real service's
 * uniqueness: two racing `create.action` calls for one accid get 200 and 414 `already register`.
 * Accounts and chatrooms are kept in Durable Object storage (persisted by `npm start`); call
 * counters, a room's address-call counts and injected faults are in memory, being test aids only.
 *
 * Which app a request is for:
 *   - the server API (v1 and v2, on both bases): its `AppKey` header, checked with that app's secret;
 *     an unknown or missing AppKey is refused as NetEase refuses it (403 "illegal appkey", in each
 *     dialect's shape; 414 when missing);
 *   - the emulator-only endpoints below (but health): `?appKey=<key>`, absent meaning the first app;
 *     a key the emulator does not serve answers 404 {"code":404,"desc":"no such app"}.
 * The entry names the app to its object in the X-Emulator-App header (apps.ts).
 *
 * Emulator-only endpoints (under /emulator/), each for the app `?appKey=` names:
 *   POST /emulator/login            {accid, token, authType?, callbackUrl?} → the login check NetEase's IM
 *                                   server would make, with this app's key and secret (a token signed
 *                                   for another app fails); with callbackUrl, it also asks the app's
 *                                   login callback first, signed as NetEase signs it
 *   POST /emulator/rtc/join         {uid, channelName, token, permKey?, publish?} → the check NERTC makes
 *                                   when a client joins a channel in safe mode: signature and validity;
 *                                   with a permission key (and the app's permSecret configured), also its
 *                                   signature, subject, lifetime, and the create (first joiner) or join
 *                                   bit, and a send bit per medium in `publish` ("audio", "video");
 *                                   {"code":200,"expiresAt"} or {"code":403,"desc"}
 *   POST /emulator/callbacks/login  {accid, token?, authType?, url?} → a login-callback request signed with
 *                                   this app's secret and sent with its AppKey: sent to `url` (answer
 *                                   returned), or returned unsent for a test to send
 *   POST /emulator/accounts         {accid} → creates a "stock" account, as if your backend had
 *                                   registered it with NetEase long ago (no CheckSum needed);
 *                                   {"code":200} or {"code":414,"desc":"already register"}
 *   GET  /emulator/accounts/<accid>                  → {exists, blocked, kicks, calls, requestIds}
 *   POST /emulator/chatrooms        {creator, name?, valid?} → a "stock" room (no CheckSum needed):
 *                                   {"code":200,"chatroom":{…}} or {"code":414} for an unknown creator
 *   GET  /emulator/chatrooms/<roomid> → {roomid, creator, name, announcement, broadcasturl, ext,
 *                                   queuelevel, valid, exists, addressRequests, lastClientIp,
 *                                   lastAccid, lastClientType}; {roomid, exists: false} when unknown
 *   PATCH /emulator/chatrooms/<roomid> {valid} → opens or closes it, with no operator check
 *   POST /emulator/faults           {accid?, action, mode, times?, base?} → make the app's next calls fail
 *   GET  /emulator/stats            → {accounts, chatrooms, calls, maxCallsPerAccid, rateRefusals}: calls per
 *                                   operation (each call once), the most calls of one operation per accid
 *   GET  /emulator/health           → {status: "ok"}, for the emulator as a whole (no ?appKey=)
 */

import { json } from "./answers.ts";
import { APP_HEADER, type EmulatedApp, NO_SUCH_APP, objectName, parseApps } from "./apps.ts";
import type { EmulatorEnv } from "./commsease.ts";

export { CommsEase } from "./commsease.ts";

export default {
  fetch(request: Request, env: EmulatorEnv): Promise<Response> {
    const apps = appsOf(env);
    const app = appFor(request, apps);
    if (app instanceof Response) return Promise.resolve(app);
    // One app, one object: each app's requests go through its own serialized state. The object
    // learns which app it is from this header (a client's own is overwritten here).
    const headers = new Headers(request.headers);
    headers.set(APP_HEADER, app.appKey);
    return env.COMMSEASE.get(env.COMMSEASE.idFromName(objectName(apps, app))).fetch(new Request(request, { headers }));
  },
} satisfies ExportedHandler<EmulatorEnv>;

let parsed: { binding: string; apps: EmulatedApp[] } | undefined;

/** The served apps, parsed once per binding value (it never changes while the emulator runs). */
function appsOf(env: EmulatorEnv): EmulatedApp[] {
  if (parsed?.binding !== env.EMULATOR_APPS)
    parsed = { binding: env.EMULATOR_APPS, apps: parseApps(env.EMULATOR_APPS) };
  return parsed.apps;
}

/**
 * Which app a request is for, or the answer when it names none the emulator serves. Emulator-only
 * endpoints name it by `?appKey=` (absent: the first app); the server API by its `AppKey` header,
 * as NetEase tells apps apart. An unknown or missing AppKey goes to the first app, whose
 * authentication refuses it exactly as a one-app emulator did (403 "illegal appkey", or 414).
 */
function appFor(request: Request, apps: readonly EmulatedApp[]): EmulatedApp | Response {
  const first = apps[0]!;
  const { pathname, searchParams } = new URL(request.url);
  if (pathname === "/emulator/health") return first; // global: it is about the emulator, not an app
  if (pathname.startsWith("/emulator/")) {
    const named = searchParams.get("appKey");
    if (named === null) return first;
    return apps.find((app) => app.appKey === named) ?? json(NO_SUCH_APP, 404);
  }
  const appKey = request.headers.get("AppKey");
  return apps.find((app) => app.appKey === appKey) ?? first;
}
