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
 *   POST /emulator/rtc/join         {uid, channelName, token, permKey?, publish?} → the check NERTC makes
 *                                   when a client joins a channel in safe mode: signature and validity;
 *                                   with a permission key (and a permSecret configured), also its
 *                                   signature, subject, lifetime, and the create (first joiner) or join
 *                                   bit, and a send bit per medium in `publish` ("audio", "video");
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

import type { EmulatorEnv } from "./commsease.ts";

export { CommsEase } from "./commsease.ts";

export default {
  fetch(request: Request, env: EmulatorEnv): Promise<Response> {
    // One app, one object: every request goes through the same serialized state.
    return env.COMMSEASE.get(env.COMMSEASE.idFromName("app")).fetch(request);
  },
} satisfies ExportedHandler<EmulatorEnv>;
