/**
 * `npm run -s kv-import -- stock.csv [out.json]`: turns a CSV of stock accounts (header `uid,accid`)
 * into the JSON that `wrangler kv bulk put` takes, for imports too large for the admin API. The
 * output goes to `out.json`, by default `.wrangler/kv-import.json` (git-ignored, so account lists
 * never end up in a commit by accident).
 *
 * Each row becomes the two keys the Worker reads: `uid:<uid>` (the account record) and
 * `accid:<accid>` (the reverse mapping for the login callback). Rows are checked against the same
 * rules as the admin API and against each other; any bad row stops the conversion (nothing is
 * written) with one message per bad line on stderr. Unlike the admin import, this path does not ask
 * NetEase whether each accid exists, nor KV whether a uid is already bound: run it for accounts you
 * know exist, into a namespace where they are not yet bound.
 */

import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, relative } from "node:path";
import { newAccountRecord } from "../src/accounts/record.ts";
import { NIM } from "../src/core/constants.ts";
import { isValidUid, UID_RULE } from "../src/core/uid.ts";

/** One entry of `wrangler kv bulk put`'s input. */
export interface KvBulkEntry {
  key: string;
  value: string;
}

/** Parses CSV (RFC 4180 quoting: fields in double quotes may hold commas, quotes as ""). */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field !== "" || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** Converts CSV text to bulk-put entries, or returns the problems found (line numbers from 1). */
export function csvToKvEntries(text: string, now: number): { entries: KvBulkEntry[] } | { problems: string[] } {
  const [header, ...rows] = parseCsv(text);
  if (header?.map((h) => h.trim().toLowerCase()).join(",") !== "uid,accid") {
    return { problems: ["line 1: the header must be exactly uid,accid"] };
  }
  const problems: string[] = [];
  const entries: KvBulkEntry[] = [];
  const uids = new Set<string>();
  const accids = new Set<string>();
  for (const [index, row] of rows.entries()) {
    const line = index + 2;
    const [uid, given] = row;
    // NetEase treats accids case-insensitively and stores them lowercased; so does the Worker.
    const accid = given?.toLowerCase();
    const problem =
      row.length !== 2
        ? `expected 2 fields, found ${row.length}`
        : !isValidUid(uid)
          ? `uid must be ${UID_RULE}`
          : !accid || !NIM.lowercaseAccidPattern.test(accid)
            ? "accid must be 1 to 32 letters, digits or _ @ . -"
            : uids.has(uid!)
              ? "uid appears twice"
              : accids.has(accid!)
                ? "accid appears twice"
                : undefined;
    if (problem) {
      problems.push(`line ${line}: ${problem}`);
      continue;
    }
    // The checks above passed: the row is exactly [uid, accid].
    const [validUid, validAccid] = [uid!, accid!];
    uids.add(validUid);
    accids.add(validAccid);
    entries.push(
      { key: `accid:${validAccid}`, value: validUid },
      { key: `uid:${validUid}`, value: JSON.stringify(newAccountRecord(validAccid, now)) },
    );
  }
  if (rows.length === 0) problems.push("the file has no rows");
  return problems.length > 0 ? { problems } : { entries };
}

/** Where the output goes when no path is given: git-ignored, inside the project. */
export const DEFAULT_OUTPUT = ".wrangler/kv-import.json";

if (import.meta.main) {
  const [input, output = DEFAULT_OUTPUT] = process.argv.slice(2);
  if (!input) {
    console.error("usage: npm run -s kv-import -- <stock.csv> [out.json]");
    process.exit(2);
  }
  if (!existsSync(input)) {
    console.error(`kv-import: no such file: ${input}`);
    process.exit(2);
  }
  const result = csvToKvEntries(readFileSync(input, "utf8"), Date.now());
  if ("problems" in result) {
    for (const problem of result.problems) console.error(problem);
    process.exit(1);
  }
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, `${JSON.stringify(result.entries)}\n`);
  const shown = relative(process.cwd(), output) || output;
  console.log(`${result.entries.length / 2} accounts → ${result.entries.length} KV entries in ${shown}`);
  console.log(`load them with: npx wrangler kv bulk put ${shown} --binding ACCOUNTS --remote`);
}
