/**
 * `npm run pack:client`: builds the client package (packages/client) and packs it with `npm pack`
 * into dist/. The tarball's absolute path is the last line printed, so scripts can take it with
 * `tail -n 1`; install it into an app with `npm install <that path>`.
 */

import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { projectRoot } from "./dev-vars.ts";

const packageDir = join(projectRoot, "packages/client");
const destination = resolve(projectRoot, "dist");
mkdirSync(destination, { recursive: true });
// `npm pack` runs the package's prepack script (its build) first. stderr passes through.
const output = execFileSync("npm", ["pack", "--json", "--pack-destination", destination], {
  cwd: packageDir,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
// npm prints the prepack script's output before the JSON; the JSON array is the last thing.
const packed = JSON.parse(output.slice(output.lastIndexOf("\n[") + 1)) as {
  filename: string;
  files: { path: string }[];
}[];
const [{ filename, files }] = packed as [(typeof packed)[number]];
console.log(`packed ${files.length} files: ${files.map((f) => f.path).join(", ")}`);
console.log(join(destination, filename));
