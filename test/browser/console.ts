/**
 * The operator console in a real browser (Debian's Chromium, driven by playwright-core) against
 * `npm start`: sign in with the admin token, look up a uid, block it and see its status and history
 * change, import a 3-row NDJSON file and read the result table, and check that the page runs under
 * its Content Security Policy with no violation. Keeps a screenshot as a CI artifact.
 *
 *   node test/browser/console.ts [base URL]      (scripts/ci-smoke.sh runs it)
 *
 * CHROMIUM_PATH chooses the browser (default /usr/bin/chromium: `apt-get install chromium`).
 */

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const base = process.argv[2] ?? "http://127.0.0.1:8787";
const emulatorBase = process.env.EMULATOR_URL ?? `http://127.0.0.1:${process.env.EMULATOR_PORT ?? 8788}`;
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const artifacts = join(import.meta.dirname, "..", "..", "artifacts");

if (!existsSync(executablePath)) {
  console.error(`not ok - console: no browser at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  process.exit(1);
}

/** The admin token `npm start` runs with (.dev.vars). */
function adminToken(): string {
  const vars = readFileSync(join(import.meta.dirname, "..", "..", ".dev.vars"), "utf8");
  const line = vars.split("\n").find((l) => l.startsWith("ADMIN_TOKEN="));
  assert.ok(line, ".dev.vars has no ADMIN_TOKEN");
  return line.slice("ADMIN_TOKEN=".length).trim();
}

const run = `${Date.now().toString(36)}`;
const uid = `console-${run}`;
// A session for the uid, so it has an account to look up (npm run jwt signs with .dev.vars' secret).
const jwt = execFileSync("npm", ["run", "-s", "jwt", "--", uid], { encoding: "utf8" }).trim();
const issued = await fetch(`${base}/v1/token`, { method: "POST", headers: { Authorization: `Bearer ${jwt}` } });
assert.equal(issued.status, 200, "token for the console's uid");
const { accid } = (await issued.json()) as { accid: string };

// Three stock accounts at the emulator, for the import: two to bind, and one row that is invalid.
const stock = [`stock_${run}_a`, `stock_${run}_b`];
for (const id of stock) {
  await fetch(`${emulatorBase}/emulator/accounts`, { method: "POST", body: JSON.stringify({ accid: id }) });
}
const importFile = join(tmpdir(), `console-import-${run}.ndjson`);
writeFileSync(
  importFile,
  [
    JSON.stringify({ uid: `${uid}-a`, accid: stock[0] }),
    JSON.stringify({ uid: `${uid}-b`, accid: stock[1] }),
    "this line is not JSON",
  ].join("\n"),
);

const browser = await chromium.launch({
  executablePath,
  // As root in CI, and on a machine whose network is closed: no sandbox, no background traffic.
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});
let passed = 0;
const ok = (what: string) => {
  passed++;
  console.log(`ok - console: ${what}`);
};
try {
  const page = await browser.newPage({ viewport: { width: 420, height: 900 } }); // a phone's width
  const violations: string[] = [];
  const failures: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
  });
  page.on("pageerror", (error) => failures.push(error.message));

  await page.goto(`${base}/admin`);
  assert.equal(await page.getByRole("heading", { name: "Sign in" }).isVisible(), true);
  // Keyboard only: the token field has focus on load, Enter submits.
  await page.waitForFunction(() => document.activeElement?.id === "admin-token");
  await page.keyboard.type(adminToken());
  await page.keyboard.press("Enter");
  await page.getByText("Signed in as admin token").waitFor();
  assert.equal(await page.evaluate(() => localStorage.length + sessionStorage.length), 0, "no token kept in storage");
  ok("signed in with the admin token (kept in memory only)");

  await page.getByLabel("Value").fill(uid);
  await page.getByRole("button", { name: "Look up" }).click();
  await page.getByText(`Found ${uid}.`).waitFor();
  assert.equal(await page.locator('dd[data-field="accid"]').textContent(), accid);
  assert.equal(await page.locator('dd[data-field="status"]').textContent(), "active");
  assert.equal(await page.locator("#history tbody tr").count(), 1);
  assert.match((await page.locator("#history tbody tr").first().textContent()) ?? "", /user.*create.*done/);
  ok("looked up the uid: its record and its history");

  await page.getByRole("button", { name: "Block…", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  assert.equal(await page.getByLabel("Also disconnect live IM sessions (kick)").isChecked(), true);
  await dialog.getByRole("button", { name: "Confirm" }).click();
  await page.getByText(/^block: done; status blocked \(request [0-9a-f-]{36}\)$/).waitFor();
  assert.equal(await page.locator('dd[data-field="status"]').textContent(), "blocked");
  const latest = (await page.locator("#history tbody tr").first().textContent()) ?? "";
  assert.match(latest, /admin token.*block \(kick\).*done.*active → blocked/);
  assert.equal(await page.locator("#history tbody tr").count(), 2);
  // The Worker agrees: no token for a blocked user.
  const refused = await fetch(`${base}/v1/token`, { method: "POST", headers: { Authorization: `Bearer ${jwt}` } });
  assert.equal(refused.status, 403);
  ok("blocked it after confirmation: status and history changed, and the Worker refuses its tokens");

  await page.getByLabel("Choose or drop a .json or .ndjson file").setInputFiles(importFile);
  await page.getByRole("button", { name: "Import…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
  await page.getByText(/^Import finished:/).waitFor();
  const rows = await page.locator("#import-table tbody tr").allTextContents();
  assert.equal(rows.length, 3);
  assert.match(rows[0]!, new RegExp(`^1${uid}-a${stock[0]}bound`));
  assert.match(rows[1]!, new RegExp(`^2${uid}-b${stock[1]}bound`));
  assert.match(rows[2]!, /^3invalid/);
  await page.getByLabel("Show").selectOption("invalid");
  assert.equal(await page.locator("#import-table tbody tr").count(), 1);
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download results (CSV)" }).click();
  const csv = readFileSync((await (await download).path())!, "utf8");
  assert.match(csv, /^line,uid,accid,outcome,message\r\n"1",/);
  assert.equal(csv.trim().split("\r\n").length, 4);
  ok("imported a 3-row file: result table, filter and CSV");

  await page.getByRole("button", { name: "Check now" }).click();
  await page.getByText("Ready.", { exact: true }).waitFor();
  assert.ok((await page.locator("#health-table tbody tr").count()) >= 3);
  // npm start does not read metrics back (no Cloudflare account): the console says what to set.
  await page.getByText(/^Not configured: set ANALYTICS_ACCOUNT_ID/).waitFor();
  ok("health: the readiness checks (GET /admin/v1/ready) with latency, and what metrics need");

  mkdirSync(artifacts, { recursive: true });
  await page.screenshot({ path: join(artifacts, "console.png"), fullPage: true });
  assert.deepEqual(violations, [], "no Content Security Policy violation");
  assert.deepEqual(failures, [], "no script error");
  ok(`no CSP violation or script error; screenshot in artifacts/console.png`);
} finally {
  await browser.close();
}
console.log(`console: ${passed} passed, 0 failed`);
