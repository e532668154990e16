/**
 * What only the Hono app's routes use, built once per isolate on first use and kept beside the
 * runtime (`runtime.ts`): per NetEase app its server API client and chatroom links, and the checker
 * of operators' Cloudflare Access assertions.
 *
 * Apart from the runtime because the token door imports the runtime, and every module it imports is
 * compiled on every cold start (src/index.ts says why); this module is imported only by the routes
 * of the Hono app, which the entry loads on the first request that needs it.
 */

import { AccessVerifier } from "./admin/access.ts";
import { ChatroomLinks } from "./chatroom/links.ts";
import { nimServerApi } from "./nim/connect.ts";
import type { NimServerApi } from "./nim/server-api.ts";
import type { AppRuntime, Runtime } from "./runtime.ts";

/** One app's services. */
interface AppServices {
  readonly nim: NimServerApi;
  readonly chatroomLinks: ChatroomLinks;
}

const appServices = new WeakMap<AppRuntime, AppServices>();
const accessVerifiers = new WeakMap<Runtime, AccessVerifier | undefined>();

function servicesOf(app: AppRuntime): AppServices {
  let services = appServices.get(app);
  if (!services) {
    const nim = nimServerApi(app.config, app.metrics);
    services = { nim, chatroomLinks: new ChatroomLinks(nim, app.pacing) };
    appServices.set(app, services);
  }
  return services;
}

/** The app's NetEase server API client. */
export function nimOf(app: AppRuntime): NimServerApi {
  return servicesOf(app).nim;
}

/** The app's chatroom link addresses, kept per place for a while (`chatroom/links.ts`). */
export function chatroomLinksOf(app: AppRuntime): ChatroomLinks {
  return servicesOf(app).chatroomLinks;
}

/** Checks Cloudflare Access assertions of operators; undefined without ACCESS_TEAM_DOMAIN. */
export function accessOf(runtime: Runtime): AccessVerifier | undefined {
  if (!accessVerifiers.has(runtime)) {
    accessVerifiers.set(runtime, runtime.config.access && new AccessVerifier(runtime.config.access));
  }
  return accessVerifiers.get(runtime);
}
