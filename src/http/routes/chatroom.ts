/**
 * POST /v1/chatroom/address: a NetEase chatroom's link addresses, which only an app server may ask
 * NetEase for (the call is signed with the app secret), for the chatroom SDKs' `linkProvider` (v10)
 * or `chatroomAddresses` (v9).
 *
 * With a session: the same session check, per-uid limit and account as /v1/token (a first-time user
 * is provisioned, a blocked one gets 403, a revoked one 401), then the room policy
 * (`chatroom/room-policy.ts`), decided before the account so a refused room provisions nothing.
 * Without one: only where a CHATROOM_POLICY rule opens the room to visitors, counted per client
 * network (an IPv6 /56), under a `nimanon_` account of the visitor's own (how NetEase's SDKs name
 * anonymous members); an app that opens no room answers the usual 401 `missing_session` before
 * reading anything, and one that does, for a room it keeps closed.
 *
 * The policy decides which rooms this endpoint answers for. It does not keep anyone out of a room:
 * NetEase's links are not tied to one room, and a client with an IM token can ask NetEase itself.
 * Keeping people out takes NetEase's own controls (the room's blocklist, closing it).
 *
 * NetEase answers with the links nearest the client's IP, taken from Cloudflare's CF-Connecting-IP
 * (never from the body); `chatroom/links.ts` keeps answers per room and place for a while.
 */

import { Hono } from "hono";
import { clientPlace } from "../../chatroom/links.ts";
import { decideAnonymousRoom, decideRoom, opensRooms } from "../../chatroom/room-policy.ts";
import { chatroomAddressRequestSchema } from "../../contract/requests.ts";
import type { ChatroomAddressResponse } from "../../contract/responses.ts";
import { DomainError } from "../../core/errors.ts";
import { toHex } from "../../nim/digest.ts";
import type { AppRuntime } from "../../runtime.ts";
import { chatroomLinksOf } from "../../services.ts";
import { parseJsonBody } from "../body-check.ts";
import type { AppEnv } from "../context.ts";
import { activeAccount, countedSession, type TokenCall } from "../issuing.ts";
import { networkOf, visitorNetworkOf } from "../limits.ts";
import { honoTokenRoute } from "./token-routes.ts";

/** The room's addresses for the call's session user, or for a visitor where the room is open to them. */
export async function chatroomAddress(call: TokenCall): Promise<ChatroomAddressResponse> {
  if (!call.request.headers.has("Authorization")) return anonymousAddress(call);
  const { request, fields } = call;
  const { session, app } = await countedSession(call);
  const { roomId, clientType = 1 } = await parseJsonBody(request, chatroomAddressRequestSchema());
  fields.roomId = roomId;
  const decision = decideRoom(app.config.roomPolicy, session.uid, roomId, session.claims);
  if (!decision.allowed) throw new DomainError("chatroom_refused", { detail: decision.reason });
  const { accid } = await activeAccount(app, session, call);
  fields.accid = accid;
  return answer(call, app, { roomId, accid, clientType }, false);
}

/**
 * A visitor without a session: 401 `missing_session` unless the app opens rooms to visitors (and
 * serves every session, having no `match`), then counted per network (429 past the limit), then the
 * room must be one a rule opens.
 */
async function anonymousAddress(call: TokenCall): Promise<ChatroomAddressResponse> {
  const { request, runtime, fields } = call;
  const missing = new DomainError("missing_session", { detail: "no 'Bearer <JWT>' authorization" });
  // As the token path answers no session, whatever the path names: 401, an unknown app included.
  const { appName } = call;
  const app = appName === undefined ? runtime.app() : runtime.apps.find(({ config }) => config.name === appName);
  if (!app || !opensRooms(app.config.roomPolicy) || app.config.match) throw missing;
  const limiter = runtime.config.rateLimiters.anonymous;
  const network = visitorNetworkOf(clientIp(request) ?? "unknown");
  if (!limiter || !(await limiter.limit({ key: `anon:${network}` })).success) {
    throw new DomainError("rate_limited", { detail: "chatroom visitors per network" });
  }
  const { roomId, clientType = 1 } = await parseJsonBody(request, chatroomAddressRequestSchema());
  fields.roomId = roomId;
  const decision = decideAnonymousRoom(app.config.roomPolicy, roomId);
  if (!decision.allowed) throw missing;
  // A visitor's own account name for the room, as NetEase's SDKs make one: never a registered accid.
  const accid = `nimanon_${toHex(crypto.getRandomValues(new Uint8Array(8)))}`;
  return answer(call, app, { roomId, accid, clientType }, true);
}

/** Asks for (or reuses) the addresses and writes the answer's metric. */
async function answer(
  call: TokenCall,
  app: AppRuntime,
  query: { roomId: string; accid: string; clientType: 1 | 2 | 3 },
  anonymous: boolean,
): Promise<ChatroomAddressResponse> {
  const { request } = call;
  const ip = clientIp(request);
  const place = clientPlace(request.cf, ip, networkOf(ip ?? "unknown"));
  const addresses = await chatroomLinksOf(app).addresses(query, place);
  app.metrics.recordSampled("chatroom_address", [anonymous ? "anonymous" : "user", ""], Date.now() - call.startedAt);
  return { roomId: query.roomId, accid: query.accid, addresses, anonymous };
}

/** The client's IP as Cloudflare reports it; undefined where it does not (a local request without it). */
function clientIp(request: Request): string | undefined {
  return request.headers.get("CF-Connecting-IP") ?? undefined;
}

/** Routes under /v1/chatroom (and /v1/apps/{app}/chatroom). */
export const chatroomRoutes = new Hono<AppEnv>();

chatroomRoutes.post("/address", honoTokenRoute(chatroomAddress));
