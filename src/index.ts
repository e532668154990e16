/**
 * nim-token-worker's entry: a POST to a token endpoint goes through the token door
 * (`token-door.ts`), everything else through the Hono app (`app.ts`); and the Durable Object classes.
 *
 * The Hono app is imported on the first request that needs it (`app-door.ts`), not with this module. Why: every
 * module this one imports is compiled and evaluated when an isolate starts, and most isolates at the
 * edge only ever issue tokens. The build (scripts/build-worker.mjs) makes the app and what only it
 * uses (the admin API, the console, the login callback, chatrooms, NetEase's server API) separate
 * modules that workerd loads when first imported, and so are NERTC's handler, a body's check and the
 * parsers of settings most deployments leave unset (docs/architecture.md); `npm run bench` checks
 * that an IM token request loads none of them.
 */

import type { Env } from "./env.ts";
import { answerWithApp } from "./http/app-door.ts";
import { answerAtTokenDoor, tokenDoorFor } from "./http/token-door.ts";

/**
 * The Worker's entry: a POST to a token endpoint goes through the token door (`token-door.ts`: the
 * same handlers and rules without Hono's per-request machinery), everything else through Hono.
 */
export default {
  fetch(request: Request, env: Env, ctx: ExecutionContext): Response | Promise<Response> {
    const handler = tokenDoorFor(request);
    return handler ? answerAtTokenDoor(handler, request, env, ctx) : answerWithApp(request, env, ctx);
  },
  /** Account-change events: delivered to EVENTS_WEBHOOK_URL, or parked when undeliverable (`events/consumer.ts`). */
  async queue(batch: MessageBatch<unknown>, env: Env): Promise<void> {
    const { consumeEvents } = await import("./events/consumer.ts");
    await consumeEvents(batch, env);
  },
} satisfies ExportedHandler<Env>;

export { CreatePacer } from "./accounts/create-pacer.ts";
/** The per-uid account objects (wrangler.jsonc binds the class as ACCOUNT_OBJECTS). */
export { AccountObject } from "./accounts/object/entry.ts";
/** The file import's Workflow and claims (wrangler.jsonc binds them as IMPORTS and IMPORT_CLAIMS). */
export { ImportClaims, ImportWorkflow } from "./imports/entry.ts";
