import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { csvToKvEntries, parseCsv } from "../../scripts/kv-import.ts";

/** Runs the script as `npm run -s kv-import` would, in `cwd`. */
function kvImport(cwd: string, ...args: string[]) {
  const script = join(import.meta.dirname, "../../scripts/kv-import.ts");
  return spawnSync(process.execPath, [script, ...args], { cwd, encoding: "utf8" });
}

describe("the kv-import command", () => {
  it("writes to a git-ignored path by default and says how to load it", () => {
    const dir = mkdtempSync(join(tmpdir(), "kv-import-"));
    writeFileSync(join(dir, "stock.csv"), "uid,accid\nalice,stock_alice\n");
    const run = kvImport(dir, "stock.csv");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("1 accounts → 2 KV entries in .wrangler/kv-import.json");
    expect(run.stdout).toContain("npx wrangler kv bulk put .wrangler/kv-import.json --binding ACCOUNTS --remote");
    const entries = JSON.parse(readFileSync(join(dir, ".wrangler/kv-import.json"), "utf8")) as { key: string }[];
    expect(entries.map((e) => e.key)).toEqual(["accid:stock_alice", "uid:alice"]);
    expect(kvImport(dir, "stock.csv", "out/kv.json").status).toBe(0);
    expect(readFileSync(join(dir, "out/kv.json"), "utf8")).toContain("uid:alice");
  });

  it("answers a missing input file with one line", () => {
    const run = kvImport(mkdtempSync(join(tmpdir(), "kv-import-")), "nope.csv");
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe("kv-import: no such file: nope.csv");
  });
});

describe("CSV to wrangler kv bulk put", () => {
  it("parses quoted fields", () => {
    expect(parseCsv('uid,accid\r\n"a,b",x1\n"say ""hi""",x2\n')).toEqual([
      ["uid", "accid"],
      ["a,b", "x1"],
      ['say "hi"', "x2"],
    ]);
  });

  it("writes the record and the reverse mapping for each row", () => {
    const result = csvToKvEntries("uid,accid\nalice,stock_alice\n", 1_700_000_000_000);
    expect(result).toEqual({
      entries: [
        { key: "accid:stock_alice", value: "alice" },
        {
          key: "uid:alice",
          value: JSON.stringify({
            v: 1,
            accid: "stock_alice",
            status: "active",
            createdAt: 1_700_000_000_000,
            updatedAt: 1_700_000_000_000,
            generation: 0,
          }),
        },
      ],
    });
  });

  it("reports every bad line and converts nothing", () => {
    const result = csvToKvEntries("uid,accid\nalice,a1\nbob,BAD!\nalice,a2\ncarol,A1\n,a3\nx\n", 0);
    expect(result).toEqual({
      problems: [
        "line 3: accid must be 1 to 32 letters, digits or _ @ . -",
        "line 4: uid appears twice",
        "line 5: accid appears twice",
        'line 6: uid must be 1 to 256 bytes of UTF-8 text without control characters, and neither "." nor ".."',
        "line 7: expected 2 fields, found 1",
      ],
    });
    // NetEase ignores case: a mixed-case accid is stored lowercased (and A1 above was a1's twin).
    expect(csvToKvEntries("uid,accid\ndave,Legacy_Dave\n", 0)).toMatchObject({
      entries: [{ key: "accid:legacy_dave", value: "dave" }, { key: "uid:dave" }],
    });
    expect(csvToKvEntries("user,acc\n", 0)).toEqual({ problems: ["line 1: the header must be exactly uid,accid"] });
    expect(csvToKvEntries("uid,accid\n", 0)).toEqual({ problems: ["the file has no rows"] });
  });
});
