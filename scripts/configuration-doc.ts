/**
 * `npm run docs:config`: writes the settings tables of docs/configuration.md from the doc comments of
 * the `Env` interface in src/env.ts, so that each setting is described once, next to its type. Only
 * the region between the two marker lines is generated; the prose around it is written by hand.
 *
 * In the interface, a `// ## Title` line starts a group (a `##` heading and a table), the `//` lines
 * right after it are the group's introduction, and each member's doc comment is its meaning. A member
 * tagged `@secret` is marked as a secret, a member whose type is a binding as that binding.
 * `npm run docs:config -- --check` exits 1 when the page is stale; test/node/docs.test.ts fails then too.
 */

import { readFileSync, writeFileSync } from "node:fs";
import ts from "typescript";
import { projectRoot } from "./dev-vars.ts";

export const PAGE_PATH = `${projectRoot}docs/configuration.md`;
export const ENV_PATH = `${projectRoot}src/env.ts`;
export const START_MARKER = "<!-- generated from src/env.ts by npm run docs:config: edit the doc comments there -->";
export const END_MARKER = "<!-- end of generated settings -->";

/** How each binding type of `Env` reads in the table; a member of another type than these and `string` is refused. */
const BINDING_KINDS: Record<string, string> = {
  KVNamespace: "KV binding",
  ObjectNamespace: "Durable Object binding",
  RateLimit: "Rate-limit binding",
  MetricsDataset: "Analytics Engine binding",
  Fetcher: "Static assets binding",
  Queue: "Queue binding",
  R2Bucket: "R2 binding",
  Workflow: "Workflow binding",
};

/** One member of `Env`. */
export interface Setting {
  name: string;
  /** The doc comment's text on one line (Markdown). */
  meaning: string;
  /** `var`, `secret`, or the binding's kind (`KV binding`, …). */
  kind: string;
}

/** One `// ##` group of `Env`. */
export interface SettingGroup {
  title: string;
  /** The `//` lines after the title, as written. */
  intro: string[];
  settings: Setting[];
}

/** The members of `Env` in src/env.ts, by group, in source order. */
export function envGroups(source: string = readFileSync(ENV_PATH, "utf8")): SettingGroup[] {
  const file = ts.createSourceFile("env.ts", source, ts.ScriptTarget.Latest, true);
  const env = file.statements.find(
    (node): node is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(node) && node.name.text === "Env",
  );
  if (!env) throw new Error("src/env.ts: no `interface Env`");
  const groups: SettingGroup[] = [];
  for (const member of env.members) {
    if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name) || !member.type) {
      throw new Error(`src/env.ts: Env member \`${member.getText(file)}\` is not \`NAME?: Type\``);
    }
    const name = member.name.text;
    for (const range of ts.getLeadingCommentRanges(source, member.getFullStart()) ?? []) {
      if (range.kind !== ts.SyntaxKind.SingleLineCommentTrivia) continue;
      const line = source.slice(range.pos + 2, range.end).trim();
      if (line.startsWith("## ")) groups.push({ title: line.slice(3).trim(), intro: [], settings: [] });
      else if (groups.length === 0 || groups.at(-1)!.settings.length > 0) {
        throw new Error(`src/env.ts: the // comment above ${name} is no group's introduction: make it a doc comment`);
      } else groups.at(-1)!.intro.push(line);
    }
    const group = groups.at(-1);
    if (!group) throw new Error(`src/env.ts: ${name} comes before the first // ## group`);
    const doc = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc).at(-1);
    const meaning = (ts.getTextOfJSDocComment(doc?.comment) ?? "").replace(/\s+/g, " ").trim();
    if (!meaning) throw new Error(`src/env.ts: ${name} has no doc comment`);
    if (meaning.includes("|"))
      throw new Error(`src/env.ts: ${name}'s doc comment has a "|" (it would split the table cell)`);
    const secret = doc?.tags?.some((tag) => tag.tagName.text === "secret") ?? false;
    const type = member.type.getText(file);
    const kind = type === "string" ? (secret ? "secret" : "var") : BINDING_KINDS[type];
    if (kind === undefined) throw new Error(`src/env.ts: ${name}'s type ${type} is not in BINDING_KINDS`);
    if (secret && type !== "string") throw new Error(`src/env.ts: ${name} is a binding tagged @secret`);
    group.settings.push({ name, meaning, kind });
  }
  return groups;
}

/** A Markdown table with its columns padded as `biome format` pads them, so the page stays as formatted. */
function table(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const width = (text: string) => [...text].length;
  const widths = header.map((title, column) => Math.max(width(title), ...rows.map((row) => width(row[column]!))));
  const line = (cells: readonly string[]) =>
    `| ${cells.map((cell, column) => cell + " ".repeat(widths[column]! - width(cell))).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/** The generated region, markers included. */
export function renderSettings(groups: readonly SettingGroup[]): string {
  const lines = [START_MARKER];
  for (const group of groups) {
    lines.push("", `## ${group.title}`, "");
    if (group.intro.length > 0) lines.push(...group.intro, "");
    const rows = group.settings.map(({ name, meaning, kind }) => [
      `\`${name}\``,
      kind === "var" ? meaning : `**${kind[0]!.toUpperCase()}${kind.slice(1)}.** ${meaning}`,
    ]);
    lines.push(...table(["Setting", "Meaning"], rows));
  }
  lines.push("", END_MARKER);
  return lines.join("\n");
}

/** docs/configuration.md as it should be: `page` (by default the file) with its generated region rendered anew. */
export function configurationPage(page: string = readFileSync(PAGE_PATH, "utf8")): string {
  const start = page.indexOf(START_MARKER);
  const end = page.indexOf(END_MARKER);
  if (start < 0 || end < start) throw new Error("docs/configuration.md: the generated region's markers are missing");
  return page.slice(0, start) + renderSettings(envGroups()) + page.slice(end + END_MARKER.length);
}

if (import.meta.main) {
  const current = readFileSync(PAGE_PATH, "utf8");
  const page = configurationPage(current);
  if (process.argv.includes("--check")) {
    if (current !== page) {
      console.error("docs/configuration.md is stale: run `npm run docs:config`.");
      process.exit(1);
    }
  } else if (current !== page) {
    writeFileSync(PAGE_PATH, page);
    console.log("wrote docs/configuration.md");
  }
}
