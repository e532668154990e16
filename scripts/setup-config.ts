/**
 * `npm run setup` reads and edits wrangler.jsonc with Microsoft's jsonc-parser (the parser VS Code
 * uses for its own JSONC settings): `modify` + `applyEdits` change one value in place, so the file's
 * comments, which document every setting for the next reader, and its formatting are kept. Setup
 * writes the file only when a value differs, so a rerun leaves it untouched.
 */

import { readFileSync, writeFileSync } from "node:fs";
import { applyEdits, type FormattingOptions, modify, type ParseError, parse, printParseErrorCode } from "jsonc-parser";
import { SetupError } from "./setup-wrangler.ts";

/** The parts of a Wrangler file setup reads. */
export interface WranglerConfig {
  name?: unknown;
  vars?: Record<string, unknown>;
  kv_namespaces?: { binding?: unknown; id?: unknown }[];
  assets?: { directory?: unknown };
}

/** A Wrangler file as setup holds it: the text it edits and what that text says. */
export interface WranglerFile {
  path: string;
  /** The text as it is on disk. */
  original: string;
  /** The text with setup's edits so far. */
  text: string;
  config: WranglerConfig;
}

/** Reads and parses a wrangler.json or wrangler.jsonc; throws a SetupError naming what is wrong. */
export function readWranglerFile(path: string): WranglerFile {
  if (!/\.jsonc?$/.test(path)) {
    throw new SetupError(`${path}: setup edits a wrangler.jsonc (or .json) file; pass one with --config.`);
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new SetupError(`${path} not found: run setup in the project's folder, or pass --config <path>.`);
  }
  return { path, original: text, text, config: parseConfig(path, text) };
}

function parseConfig(path: string, text: string): WranglerConfig {
  const errors: ParseError[] = [];
  const config: unknown = parse(text, errors, { allowTrailingComma: true, disallowComments: false });
  if (errors.length > 0) {
    const [first] = errors;
    const line = text.slice(0, first!.offset).split("\n").length;
    throw new SetupError(`${path}:${line}: ${printParseErrorCode(first!.error)}; fix the file and rerun setup.`);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    throw new SetupError(`${path} is not a JSON object.`);
  }
  return config as WranglerConfig;
}

/** The Worker's name (what every wrangler command acts on); throws when the file has none. */
export function workerName(file: WranglerFile): string {
  const { name } = file.config;
  if (typeof name !== "string" || !name) throw new SetupError(`${file.path} has no "name": set the Worker's name.`);
  return name;
}

/** The string value of var `name` in the file ("" when unset or not a string). */
export function varValue(file: WranglerFile, name: string): string {
  const value = file.config.vars?.[name];
  return typeof value === "string" ? value : "";
}

/** How inserted text is laid out: two spaces, the file's own line ending. */
function formatting(text: string): FormattingOptions {
  return { insertSpaces: true, tabSize: 2, eol: text.includes("\r\n") ? "\r\n" : "\n" };
}

function edit(file: WranglerFile, path: (string | number)[], value: unknown): void {
  file.text = applyEdits(file.text, modify(file.text, path, value, { formattingOptions: formatting(file.text) }));
  file.config = parseConfig(file.path, file.text);
}

/**
 * Sets each var in `wanted` whose value in the file differs (an unset var counts as ""), and
 * returns the names it changed.
 */
export function setVars(file: WranglerFile, wanted: Readonly<Record<string, string>>): string[] {
  const changed: string[] = [];
  for (const [name, value] of Object.entries(wanted)) {
    if (varValue(file, name) === value) continue;
    edit(file, ["vars", name], value);
    changed.push(name);
  }
  return changed;
}

/** The id of KV binding `binding` in the file, if it has one. */
export function namespaceId(file: WranglerFile, binding: string): string | undefined {
  const entry = file.config.kv_namespaces?.find((kv) => kv?.binding === binding);
  return typeof entry?.id === "string" && entry.id ? entry.id : undefined;
}

/** Writes `id` into the entry of KV binding `binding`, adding the entry when there is none. */
export function setNamespaceId(file: WranglerFile, binding: string, id: string): void {
  const list = file.config.kv_namespaces;
  const index = Array.isArray(list) ? list.findIndex((kv) => kv?.binding === binding) : -1;
  if (index >= 0) edit(file, ["kv_namespaces", index, "id"], id);
  else if (Array.isArray(list))
    edit(file, ["kv_namespaces", -1], { binding, id }); // -1: append
  else edit(file, ["kv_namespaces"], [{ binding, id }]);
}

/** Writes the edited text to disk if it differs from what was read; returns whether it wrote. */
export function saveWranglerFile(file: WranglerFile): boolean {
  if (file.text === file.original) return false;
  writeFileSync(file.path, file.text);
  file.original = file.text;
  return true;
}
