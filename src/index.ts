/**
 * nim-token-worker's entry: a POST to a token endpoint goes through the token door
 * (`token-door.ts`), everything else through the Hono app (`app.ts`); and the Durable Object classes.
 */

import { app } from "./app.ts";
import type { Env } from "./env.ts";
import { answerAtTokenDoor, tokenDoorFor } from "./token-door.ts";

/**
 * The Worker's entry: a POST to a token endpoint goes through the token door (`token-door.ts`: the
 * same handlers and rules without Hono's per-request machinery), everything else through Hono.
 */
export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const handler = tokenDoorFor(request);
    return handler ? answerAtTokenDoor(handler, request, env, ctx) : app.fetch(request, env, ctx);
  },
} satisfies ExportedHandler<Env>;

/** The per-uid account objects (wrangler.toml binds the class as ACCOUNT_OBJECTS). */
export { AccountObject } from "./account-object/object.ts";
export { CreatePacer } from "./pacing/create-pacer.ts";
