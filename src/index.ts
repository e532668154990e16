/**
 * nim-token-worker's entry: a POST to a token endpoint goes through the token door
 * (`token-door.ts`), everything else through the Hono app (`app.ts`); and the Durable Object classes.
 */

import type { Env } from "./env.ts";
import { app } from "./http/app.ts";
import { answerAtTokenDoor, tokenDoorFor } from "./http/token-door.ts";

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

export { CreatePacer } from "./accounts/create-pacer.ts";
/** The per-uid account objects (wrangler.jsonc binds the class as ACCOUNT_OBJECTS). */
export { AccountObject } from "./accounts/object/object.ts";
