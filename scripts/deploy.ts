/**
 * `npm run deploy [-- wrangler deploy options]`: the deploy preflight, then `wrangler deploy` with the
 * same options. The preflight must check what is deployed: `--env` (or CLOUDFLARE_ENV) picks the
 * environment for both, and each `--var NAME:VALUE` is checked as wrangler will set it, so that
 * neither `-- --env production` nor `-- --var LOCAL_DEVELOPMENT:true` can slip past it.
 */

import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

/** What the preflight must know of `wrangler deploy`'s options: the environment and the `--var` values. */
export interface DeployTarget {
  env: string | undefined;
  vars: Record<string, string>;
}

/** Reads `--env`/`-e` and every `--var` (`NAME:VALUE`, as wrangler takes them) from wrangler's arguments. */
export function deployTarget(args: readonly string[], env: string | undefined): DeployTarget {
  const target: DeployTarget = { env, vars: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [flag, inline] =
      arg.startsWith("--") && arg.includes("=")
        ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)]
        : [arg, undefined];
    if (flag !== "--env" && flag !== "-e" && flag !== "--var") continue;
    const value = inline ?? args[++i];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag !== "--var") {
      target.env = value;
      continue;
    }
    // wrangler's --var takes a list: `--var A:1 B:2`; every following word with a colon is one.
    for (const pair of [value, ...(inline === undefined ? takeWhile(args, i + 1) : [])]) {
      const colon = pair.indexOf(":");
      if (colon <= 0) throw new Error(`--var takes NAME:VALUE, not ${pair.split(":")[0]}`);
      target.vars[pair.slice(0, colon)] = pair.slice(colon + 1);
    }
    if (inline === undefined) i += takeWhile(args, i + 1).length;
  }
  return target;
}

/** The arguments from `start` on that are further NAME:VALUE pairs of one `--var` (up to the next option). */
function takeWhile(args: readonly string[], start: number): string[] {
  const taken: string[] = [];
  for (let i = start; i < args.length && !args[i]!.startsWith("-") && args[i]!.includes(":"); i++) taken.push(args[i]!);
  return taken;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  let target: DeployTarget;
  try {
    target = deployTarget(args, process.env.CLOUDFLARE_ENV);
  } catch (error) {
    console.error(`[deploy] ${(error as Error).message}`);
    process.exit(1);
  }
  const env: NodeJS.ProcessEnv = { ...process.env, PREFLIGHT_VARS: JSON.stringify(target.vars) };
  if (target.env !== undefined) env.CLOUDFLARE_ENV = target.env;
  const preflight = spawnSync(process.execPath, [fileURLToPath(new URL("./deploy-preflight.ts", import.meta.url))], {
    stdio: "inherit",
    env,
  });
  if (preflight.status !== 0) process.exit(preflight.status ?? 1);
  const deploy = spawnSync("wrangler", ["deploy", ...args], { stdio: "inherit" });
  process.exit(deploy.status ?? 1);
}
