/**
 * The emulator's HTTP surface, routed with Hono: NetEase's server API on two bases, and the
 * emulator-only endpoints tests and `npm start` use. Each route hands its request to the emulated
 * app (`Emulated`, implemented by the CommsEase Durable Object), which holds every bit of state.
 */

import { Hono } from "hono";
import { json } from "./answers.ts";
import type { Base } from "./faults.ts";

/** NetEase's two server API dialects: v1 form posts, v2 REST JSON (IM 10.x). */
export type Dialect = "v1" | "v2";

/** What the routes need of the emulated app. */
export interface Emulated {
  /** A server API call on one base: v1 `path` like `user/create.action`, v2 the path after `/im/v2/`. */
  serverApi(dialect: Dialect, path: string, request: Request, base: Base): Promise<Response>;
  login(request: Request): Promise<Response>;
  rtcJoin(request: Request): Promise<Response>;
  createStock(accid: unknown): Response;
  createStockMany(accids: readonly unknown[]): Response;
  chatroom(roomid: string): Response;
  createStockChatroom(request: Request): Promise<Response>;
  setStockChatroomValid(roomid: string, request: Request): Promise<Response>;
  addFault(request: Request): Promise<Response>;
  loginCallback(request: Request): Promise<Response>;
  account(accid: string): unknown;
  stats(): unknown;
}

/** The most stock accounts one call creates. */
const STOCK_BATCH = 10_000;

const notFound = () => json({ code: 404, desc: "not found" }, 404);

/** The emulator's routes over `app`. */
export function emulatorRoutes(app: Emulated): Hono {
  const routes = new Hono();
  // Two bases, as NetEase serves a primary and a backup domain: /nimserver/… and /backup/nimserver/….
  for (const [prefix, base] of [
    ["/nimserver", "primary"],
    ["/backup/nimserver", "backup"],
  ] as const) {
    routes.on(["GET", "POST", "PATCH"], `${prefix}/im/v2/*`, (c) =>
      app.serverApi("v2", c.req.path.slice(`${prefix}/im/v2/`.length), c.req.raw, base),
    );
    // What NetEase's Go server SDK probes every 5 s to rank its endpoints; it reads only the status.
    routes.get(`${prefix}/health/liveness.action`, () => json({ code: 200 }));
    routes.post(`${prefix}/:group/:action`, (c) =>
      app.serverApi("v1", `${c.req.param("group")}/${c.req.param("action")}`, c.req.raw, base),
    );
    routes.all(`${prefix}/*`, () => json({ code: 405, desc: "method not allowed" }, 405));
  }
  routes.get("/emulator/health", () => json({ status: "ok" }));
  routes.get("/emulator/stats", () => json(app.stats()));
  routes.post("/emulator/login", (c) => app.login(c.req.raw));
  routes.post("/emulator/rtc/join", (c) => app.rtcJoin(c.req.raw));
  routes.post("/emulator/accounts", async (c) => {
    const body = (await c.req.json().catch(() => null)) as { accid?: unknown; accids?: unknown } | null;
    if (body?.accids === undefined) return app.createStock(body?.accid);
    if (!Array.isArray(body.accids) || body.accids.length > STOCK_BATCH) {
      return json({ error: `accids must be a list of at most ${STOCK_BATCH}` }, 400);
    }
    return app.createStockMany(body.accids);
  });
  routes.get("/emulator/accounts/:accid", (c) => json(app.account(c.req.param("accid"))));
  routes.post("/emulator/chatrooms", (c) => app.createStockChatroom(c.req.raw));
  routes.get("/emulator/chatrooms/:roomid", (c) => app.chatroom(c.req.param("roomid")));
  routes.patch("/emulator/chatrooms/:roomid", (c) => app.setStockChatroomValid(c.req.param("roomid"), c.req.raw));
  routes.post("/emulator/faults", (c) => app.addFault(c.req.raw));
  routes.post("/emulator/callbacks/login", (c) => app.loginCallback(c.req.raw));
  routes.notFound(notFound);
  return routes;
}
