/**
 * `npm run readme:check`: runs the examples of the README and of `docs/` exactly as printed against a
 * running `npm start`, and checks each printed result, so the documentation cannot go stale.
 *
 * Which examples: every ```sh block right after a `<!-- readme-check -->` line, in the order of
 * `PAGES` (the README first: later pages use what its quick start made), in one bash process (so a
 * variable set in one block is there in the next). A page under docs/ with a checked example must be
 * listed in `PAGES`, or the check fails. A command may span lines
 * ending in `\`. A comment line right after a command that starts with `# {`, `# [` or `# ok` is that
 * command's printed result: its output must contain it, where `…` stands for any text. Other
 * comments are prose. A command that exits non-zero fails the check.
 *
 * Prints one line per command and exits non-zero if any failed. CI runs it (scripts/ci-smoke.sh).
 */

import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { projectRoot } from "./dev-vars.ts";

interface Example {
  command: string;
  expected: string[];
  line: number;
  page?: string;
}

/** The pages with checked examples, in the order their examples run. */
export const PAGES = [
  "README.md",
  "docs/api.md",
  "docs/login-callback.md",
  "docs/admin.md",
  "docs/apps.md",
  "docs/events.md",
  "docs/testing.md",
];

/** The checked examples of a README, in order. */
export function readmeExamples(markdown: string): Example[] {
  const lines = markdown.split("\n");
  const examples: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== "<!-- readme-check -->") continue;
    if (lines[i + 1]?.trim() !== "```sh") throw new Error(`line ${i + 1}: the marker must precede a sh block`);
    let current: Example | undefined;
    for (let j = i + 2; j < lines.length && lines[j]!.trim() !== "```"; j++) {
      const text = lines[j]!;
      if (/^#\s*(\{|\[|ok )/.test(text) && current) {
        current.expected.push(text.replace(/^#\s*/, ""));
        continue;
      }
      if (text.trim() === "" || text.trimStart().startsWith("#")) {
        current = undefined;
        continue;
      }
      let command = text;
      while (command.endsWith("\\") && j + 1 < lines.length) command = `${command}\n${lines[++j]}`;
      current = { command, expected: [], line: j + 1 };
      examples.push(current);
    }
  }
  return examples;
}

/** A printed result as a pattern: literal text, with `…` matching anything. */
export function resultPattern(expected: string): RegExp {
  const parts = expected.split("…").map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return new RegExp(parts.join("[\\s\\S]*?"));
}

if (import.meta.main) {
  const unlisted = readdirSync(join(projectRoot, "docs"))
    .map((name) => `docs/${name}`)
    .filter((page) => page.endsWith(".md") && !PAGES.includes(page))
    .filter((page) => readmeExamples(readFileSync(join(projectRoot, page), "utf8")).length > 0);
  if (unlisted.length > 0) throw new Error(`checked examples in pages not listed in PAGES: ${unlisted.join(", ")}`);
  const examples = PAGES.flatMap((page) =>
    readmeExamples(readFileSync(join(projectRoot, page), "utf8")).map((example) => ({ ...example, page })),
  );
  const dir = mkdtempSync(join(tmpdir(), "readme-check-"));
  const script = ["set -uo pipefail"];
  examples.forEach((example, index) => {
    script.push(
      `{ ${example.command}\n} >"${dir}/${index}.out" 2>"${dir}/${index}.err"; echo $? >"${dir}/${index}.rc"`,
    );
  });
  writeFileSync(join(dir, "run.sh"), `${script.join("\n")}\n`);
  spawnSync("bash", [join(dir, "run.sh")], { cwd: projectRoot, stdio: "inherit" });
  let failed = 0;
  examples.forEach((example, index) => {
    const read = (ext: string) => {
      try {
        return readFileSync(join(dir, `${index}.${ext}`), "utf8");
      } catch {
        return "";
      }
    };
    const rc = read("rc").trim();
    const out = read("out");
    const first = example.command.split("\n")[0]!.slice(0, 90);
    const missing = example.expected.filter((expected) => !resultPattern(expected).test(out));
    if (rc === "0" && missing.length === 0) {
      console.log(`ok - ${example.page} line ${example.line}: ${first}`);
      return;
    }
    failed++;
    console.log(`not ok - ${example.page} line ${example.line}: ${first}`);
    if (rc !== "0") console.log(`  exit code ${rc || "(not run)"}; stderr: ${read("err").slice(0, 300)}`);
    for (const expected of missing)
      console.log(`  expected output containing: ${expected}\n  got: ${out.slice(0, 400)}`);
  });
  rmSync(dir, { recursive: true, force: true });
  console.log(`docs: ${examples.length - failed} passed, ${failed} failed`);
  if (failed > 0 || examples.length === 0) process.exitCode = 1;
}
