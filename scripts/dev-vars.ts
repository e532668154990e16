/**
 * Reads the development variables: `.dev.vars` when it exists, else `.dev.vars.example`.
 * The parser covers what wrangler's dotenv format needs here: KEY=VALUE lines, `#` comments and
 * optional single or double quotes around a value.
 */

import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The project root (this file lives in scripts/). */
export const projectRoot = fileURLToPath(new URL("..", import.meta.url));
/** Path of the developer's own variables (git-ignored). */
export const devVarsPath = `${projectRoot}.dev.vars`;
/** Path of the committed development-only example. */
export const devVarsExamplePath = `${projectRoot}.dev.vars.example`;

/** Parses dotenv text into a map. */
export function parseDevVars(text: string): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    vars[line.slice(0, eq).trim()] = value;
  }
  return vars;
}

/** The development variables in effect. */
export function readDevVars(): Record<string, string> {
  const path = existsSync(devVarsPath) ? devVarsPath : devVarsExamplePath;
  return parseDevVars(readFileSync(path, "utf8"));
}
