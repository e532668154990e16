/**
 * The NetEase apps one emulator serves, each fully apart (its own Durable Object: accounts, calls,
 * nonces, faults, rate limit). The list comes from startEmulator as the `EMULATOR_APPS` binding;
 * which app a request is for is decided once, by the entry (worker.ts), and handed to the app's
 * object in `APP_HEADER`.
 */

/** One NetEase app the emulator serves. */
export interface EmulatedApp {
  appKey: string;
  appSecret: string;
  /** NERTC's permSecret: joins that send a permission key have it checked (omit: keys are ignored). */
  permSecret?: string;
}

/**
 * The header the entry names an object's app in (its appKey). Only the entry sets it: a client's
 * own is overwritten, so a request cannot reach one app's object as another app.
 */
export const APP_HEADER = "X-Emulator-App";

/** The `?appKey=` answer for an app the emulator does not serve. */
export const NO_SUCH_APP = { code: 404, desc: "no such app" } as const;

/**
 * Checks an app list (what startEmulator is given, and what the binding holds): at least one app,
 * each with a key and a secret, no appKey twice (requests are routed by it).
 * Throws naming the problem, never a secret.
 */
export function checkApps(apps: readonly EmulatedApp[]): EmulatedApp[] {
  if (apps.length === 0) throw new Error("the emulator needs at least one app");
  const seen = new Set<string>();
  for (const [index, app] of apps.entries()) {
    if (typeof app?.appKey !== "string" || !app.appKey) throw new Error(`app ${index}: appKey is required`);
    if (typeof app.appSecret !== "string" || !app.appSecret)
      throw new Error(`app ${app.appKey}: appSecret is required`);
    if (app.permSecret !== undefined && typeof app.permSecret !== "string") {
      throw new Error(`app ${app.appKey}: permSecret must be a string`);
    }
    if (seen.has(app.appKey)) throw new Error(`app ${app.appKey} is listed twice`);
    seen.add(app.appKey);
  }
  return [...apps];
}

/** The apps in the `EMULATOR_APPS` binding (JSON), first first. */
export function parseApps(binding: string): EmulatedApp[] {
  const apps: unknown = JSON.parse(binding);
  if (!Array.isArray(apps)) throw new Error("EMULATOR_APPS must be a JSON list of apps");
  return checkApps(apps as EmulatedApp[]);
}

/**
 * The Durable Object name of an app's state. The first app keeps the name the one-app emulator
 * used, so the accounts `npm start` persisted before are still there.
 */
export function objectName(apps: readonly EmulatedApp[], app: EmulatedApp): string {
  return app.appKey === apps[0]?.appKey ? "app" : `app:${app.appKey}`;
}
