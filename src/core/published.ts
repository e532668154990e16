/**
 * Values anyone can read in this project's repository, which a deployed Worker must never run with:
 * the development values `npm start` writes to `.dev.vars` (and `.dev.vars.example` held before
 * them), and the placeholders `.dev.vars.example` holds for the Deploy to Cloudflare button, which
 * pre-fills every prompt with them. A deployer who accepts the defaults must get a Worker that says
 * what to set, not one whose admin API opens to a token printed in the docs.
 *
 * By mark rather than by list: every published development value carries `PUBLISHED_MARK` (so the
 * values of past releases are caught too, and a list cannot fall behind), every placeholder
 * `PLACEHOLDER_MARK`. Pure and free of the Workers types: the deploy preflight uses it as well.
 */

import { isLoopbackUrl, present } from "./setting-values.ts";

/** In every development value this project publishes (scripts/dev-defaults.ts). */
export const PUBLISHED_MARK = "NOT-FOR-PRODUCTION";
/** In every placeholder of `.dev.vars.example`. */
export const PLACEHOLDER_MARK = "REPLACE-ME";

/** What kind of public value `value` is, if it is one; compared without regard to case. */
export function publicValueKind(value: string): "published" | "placeholder" | undefined {
  const upper = value.toUpperCase();
  if (upper.includes(PLACEHOLDER_MARK)) return "placeholder";
  if (upper.includes(PUBLISHED_MARK)) return "published";
  return undefined;
}

/** The rule a setting holding a public value breaks, for `/healthz` and the log. */
export function publicValueRule(kind: "published" | "placeholder"): string {
  return kind === "placeholder"
    ? "your own value, not the placeholder of .dev.vars.example"
    : "your own value: this development value is published, and works only under npm start";
}

/**
 * Whether the Worker runs under `npm start` or the tests: LOCAL_DEVELOPMENT is "true" (only the dev
 * script and the test configuration set it; the deploy preflight refuses it) and every NetEase API
 * base the apps use is on this machine (the emulator, or a developer's own stand-in). Both at once:
 * the flag copied into a deployment still changes nothing while the Worker talks to NetEase, and a
 * Worker whose NetEase is on loopback cannot create an account when deployed.
 */
export function isLocalDevelopment(flag: string | undefined, apiBases: readonly string[]): boolean {
  return present(flag) === "true" && apiBases.length > 0 && apiBases.every(isLoopbackUrl);
}

/**
 * Reports, through `bad`, every string setting or secret in `bindings` holding a placeholder, and,
 * outside local development, every one holding a published development value: the names in `order`
 * first (the settings' documented order), then any other binding (a secret a NIM_APPS entry names).
 * Bindings that are not strings (KV, Durable Objects, Secrets Store) are skipped: a Secrets Store
 * value is checked when it is read (`secret.ts`). Names only ever reach `bad`, never values.
 */
export function checkPublicValues(
  bindings: object,
  local: boolean,
  bad: (name: string, rule: string) => void,
  order: readonly string[] = [],
): void {
  const values = bindings as Record<string, unknown>;
  for (const name of new Set([...order.filter((name) => Object.hasOwn(values, name)), ...Object.keys(values)])) {
    const value = values[name];
    if (typeof value !== "string") continue;
    const kind = publicValueKind(value);
    if (kind === "placeholder" || (kind === "published" && !local)) bad(name, publicValueRule(kind));
  }
}
