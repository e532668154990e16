/**
 * What `npm run setup` would deploy, as one digest: so a rerun can tell whether the deployed Worker
 * is already this one, and skip the deploy. The digest covers the bundle `wrangler deploy --dry-run
 * --outdir` writes (the Worker's code as wrangler would upload it), the static assets (the console)
 * and the Wrangler file's settings as parsed (vars, bindings, KV id, compatibility date; not its
 * comments or layout, which deploy nothing). It travels with the deploy as its version tag, and
 * `wrangler versions view` gives it back.
 */

import { createHash, type Hash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

/** Cloudflare keeps a version tag of at most 100 bytes ("workers/tag"); this prefix and 32 hex digits are 38. */
const TAG_PREFIX = "setup-";
const TAG_HEX_DIGITS = 32;

/** Every file under `dir`, as paths relative to it with `/` separators, sorted. */
function filesUnder(dir: string): string[] {
  const found: string[] = [];
  const walk = (at: string): void => {
    for (const entry of readdirSync(at, { withFileTypes: true })) {
      const path = join(at, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) found.push(relative(dir, path).split(sep).join("/"));
    }
  };
  walk(dir);
  return found.sort();
}

function addFile(hash: Hash, label: string, content: Buffer | string): void {
  hash.update(`${label}\0${Buffer.byteLength(content)}\0`);
  hash.update(content);
}

/**
 * The content digest of a deploy, as a version tag: `setup-` and the first 32 hex digits of a SHA-256
 * over the dry-run bundle in `bundleDir`, the files of `assetsDir` (if any) and `settings`.
 *
 * Left out of the bundle because they change on every build without changing what runs: the
 * README.md wrangler writes beside it (it holds the build time) and each source map's `sourceRoot`
 * (the absolute path of the temporary output folder).
 */
export function deployTag(bundleDir: string, assetsDir: string | undefined, settings: unknown): string {
  const hash = createHash("sha256");
  for (const path of filesUnder(bundleDir)) {
    if (path === "README.md") continue;
    let content: Buffer | string = readFileSync(join(bundleDir, path));
    if (path.endsWith(".map")) {
      const map = JSON.parse(content.toString("utf8")) as { sourceRoot?: string };
      delete map.sourceRoot;
      content = JSON.stringify(map);
    }
    addFile(hash, `bundle/${path}`, content);
  }
  if (assetsDir && statSync(assetsDir, { throwIfNoEntry: false })?.isDirectory()) {
    for (const path of filesUnder(assetsDir)) addFile(hash, `assets/${path}`, readFileSync(join(assetsDir, path)));
  }
  addFile(hash, "settings", JSON.stringify(settings));
  return `${TAG_PREFIX}${hash.digest("hex").slice(0, TAG_HEX_DIGITS)}`;
}
