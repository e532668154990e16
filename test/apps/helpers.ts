/** Helpers shared by the worker-apps project's tests (apps `cn` and `sg` of test/settings.ts). */

import { TEST_APPS } from "../settings.ts";
import { env } from "../worker/helpers.ts";

/** One of the project's two apps. */
export type AppName = keyof typeof TEST_APPS;

/** The emulator's endpoint `path` for `app` (its `?appKey=`). */
export function atNetEase(app: AppName, path: string, init?: RequestInit): Promise<Response> {
  const separator = path.includes("?") ? "&" : "?";
  return fetch(`${env.EMULATOR_URL}${path}${separator}appKey=${TEST_APPS[app].appKey}`, init);
}
