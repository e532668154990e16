/**
 * The operator console in a real browser (Debian's Chromium, driven by playwright-core) against
 * `npm start`: sign in with the admin token, look up a uid, block it and see its status and history
 * change, import a file on the server (following its progress live, pausing and resuming it) and
 * read the result table, switch NetEase app (where the
 * deployment serves several) and block a uid in one app only, and check that the page runs under
 * its Content Security Policy with no violation. With `npm start`'s webhook receiver: the block's event
 * arrives signed (verified with the Standard Webhooks library), and an unblock the receiver refuses
 * lands among the console's undelivered events, from where it is redelivered. Keeps a screenshot as a CI artifact.
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
const receiverBase = process.env.WEBHOOK_RECEIVER_URL ?? `http://127.0.0.1:${process.env.WEBHOOK_PORT ?? 8789}`;
const executablePath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const artifacts = join(import.meta.dirname, "..", "..", "artifacts");

if (!existsSync(executablePath)) {
  console.error(`not ok - console: no browser at ${executablePath} (apt-get install chromium, or set CHROMIUM_PATH)`);
  process.exit(1);
}

/** An entry of GET /admin/v1/apps. */
interface ListedApp {
  name: string;
  appKey: string;
  home: boolean;
}

/** A delivery as `npm start`'s receiver keeps it (scripts/webhook-receiver.ts). */
interface Delivery {
  id: string;
  verified: boolean;
  answered: number;
  event: { type?: string; data?: { uid?: string; operator?: string; status?: string } };
}

/** Waits (up to `seconds`) for a delivery to the receiver that `match` accepts. */
async function delivered(match: (delivery: Delivery) => boolean, seconds = 20): Promise<Delivery> {
  for (let waited = 0; waited < seconds * 4; waited++) {
    const all = (await (await fetch(`${receiverBase}/deliveries`)).json()) as Delivery[];
    const found = all.find(match);
    if (found) return found;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error("no such delivery reached the webhook receiver");
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
const filler = Array.from({ length: 5000 }, (_, i) => `stock_${run}_f${i}`);
const seeded = await fetch(`${emulatorBase}/emulator/accounts`, {
  method: "POST",
  body: JSON.stringify({ accids: filler }),
});
assert.equal(seeded.status, 200, "stock accounts for the import");
writeFileSync(
  importFile,
  [
    JSON.stringify({ uid: `${uid}-a`, accid: stock[0] }),
    JSON.stringify({ uid: `${uid}-b`, accid: stock[1] }),
    "this line is not JSON",
    // More stock accounts, so the import runs long enough (seconds) to be watched and paused.
    ...filler.map((accid, i) => JSON.stringify({ uid: `${uid}-f${i}`, accid })),
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
  // The admin API calls the page makes ("GET /admin/v1/…"), to see which app's paths they use.
  const adminCalls: string[] = [];
  page.on("request", (request) => {
    const { pathname } = new URL(request.url());
    if (pathname.startsWith("/admin/v1/")) adminCalls.push(`${request.method()} ${pathname}`);
  });

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

  const blocked = await delivered((d) => d.event.type === "account.blocked" && d.event.data?.uid === uid);
  assert.equal(blocked.verified, true, "the signature verifies with the Standard Webhooks library");
  assert.equal(blocked.event.data?.operator, "admin token");
  ok("the block reached the webhook receiver, its signature verified by the Standard Webhooks library");

  // The receiver refuses everything: the unblock's event is tried 3 times (npm start's settings), then parked.
  await fetch(`${receiverBase}/mode/fail`, { method: "POST" });
  try {
    await page.getByRole("button", { name: "Unblock…", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.getByText(/^unblock: done; status active/).waitFor();
    const refused = await delivered((d) => d.event.type === "account.unblocked" && d.event.data?.uid === uid);
    assert.equal(refused.answered, 500);
    const parkedRow = page.locator("#events-table tbody tr", { hasText: refused.id });
    for (let tries = 0; tries < 40 && (await parkedRow.count()) === 0; tries++) {
      await page.getByRole("button", { name: "Refresh", exact: true }).click();
      await page.waitForTimeout(500);
    }
    assert.match((await parkedRow.textContent()) ?? "", new RegExp(`account.unblocked.*${uid}.*3status 500`));
    await fetch(`${receiverBase}/mode/ok`, { method: "POST" });
    await parkedRow.getByRole("button", { name: "Redeliver" }).click();
    await page.getByText(`Queued again: ${refused.id}`).waitFor();
    assert.equal(await parkedRow.count(), 0, "the redelivered event leaves the list");
    const again = await delivered((d) => d.id === refused.id && d.answered === 204);
    assert.equal(again.verified, true);
  } finally {
    await fetch(`${receiverBase}/mode/ok`, { method: "POST" });
  }
  ok("an event the receiver refused is parked after its attempts, listed, and redelivered under its own id");

  // Blocked again, as the rest of the test expects.
  await page.getByRole("button", { name: "Block…", exact: true }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
  await page.getByText(/^block: done; status blocked/).waitFor();

  await page.getByLabel("Choose or drop a .json or .ndjson file").setInputFiles(importFile);
  await page.getByRole("button", { name: "Import…" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
  const rows = 3 + filler.length;
  await page.getByText(new RegExp(`^Import imp_\\w+ started: ${rows} rows\\.$`)).waitFor();
  // Live: the line and the bar follow the import as it runs; the operator pauses it part-way.
  await page.locator("#imports-table").getByRole("button", { name: "Pause" }).first().click();
  await page
    .locator("#import-status")
    .getByText(/ paused: \d+ of \d+ rows/)
    .waitFor();
  const pausedAt = Number(await page.locator("#import-progress").getAttribute("value"));
  assert.ok(pausedAt < rows, `paused part-way (${pausedAt} of ${rows})`);
  assert.equal(await page.locator("#import-progress").getAttribute("max"), String(rows));
  await page.locator("#imports-table").getByRole("button", { name: "Resume" }).first().click();
  await page.getByText(/^Import finished:/).waitFor({ timeout: 120_000 });
  assert.equal(await page.locator("#import-progress").getAttribute("value"), String(rows));
  const shown = await page.locator("#import-table tbody tr").allTextContents();
  assert.equal(shown.length, 1000, "the table draws the first thousand rows");
  assert.match(shown[0]!, new RegExp(`^1${uid}-a${stock[0]}bound`));
  assert.match(shown[1]!, new RegExp(`^2${uid}-b${stock[1]}bound`));
  assert.match(shown[2]!, /^3invalid/);
  await page.getByLabel("Show").selectOption("invalid");
  assert.equal(await page.locator("#import-table tbody tr").count(), 1);
  const download = page.waitForEvent("download");
  await page.getByRole("button", { name: "Download results (CSV)" }).click();
  const csv = readFileSync((await (await download).path())!, "utf8");
  assert.match(csv, /^line,uid,accid,outcome,message\r\n"1",/);
  assert.equal(csv.trim().split("\r\n").length, rows + 1);
  ok("imported a file on the server: live progress, paused and resumed, result table, filter and CSV");

  // Several NetEase apps: `npm start` serves cn and sg where .dev.vars lists both (NIM_APPS), one
  // app otherwise, or an older Worker without the list (404): then the console has no switcher.
  const listing = await fetch(`${base}/admin/v1/apps`, { headers: { Authorization: `Bearer ${adminToken()}` } });
  const apps = listing.status === 404 ? [] : ((await listing.json()) as { apps: ListedApp[] }).apps;
  if (listing.status !== 404) assert.equal(listing.status, 200, "GET /admin/v1/apps");
  if (apps.length < 2) {
    assert.equal(await page.locator("#app-picker").isHidden(), true, "no app switcher with one app");
    ok("one NetEase app: no app switcher, account calls on /admin/v1/accounts");
  } else {
    const names = apps.map((a) => a.name);
    assert.ok(names.includes("cn") && names.includes("sg"), `the dev deployment serves cn and sg, not ${names}`);
    const picker = page.getByLabel("NetEase app");
    await picker.waitFor();
    const homeFirst = [...apps.filter((a) => a.home), ...apps.filter((a) => !a.home)];
    const expected = homeFirst.map((a) => `${a.name} (${a.appKey})`);
    assert.deepEqual(await page.locator("#app option").allTextContents(), expected, "options, home app first");
    assert.equal(await picker.inputValue(), homeFirst[0]!.name, "the home app selected first");

    // One uid with an account in each app (each app names the account in its own path).
    const appsUid = `${uid}-apps`;
    const appsJwt = execFileSync("npm", ["run", "-s", "jwt", "--", appsUid], { encoding: "utf8" }).trim();
    const tokenIn = (name: string) =>
      fetch(`${base}/v1/apps/${name}/token`, { method: "POST", headers: { Authorization: `Bearer ${appsJwt}` } });
    const accids: Record<string, string> = {};
    for (const name of ["cn", "sg"]) {
      const answer = await tokenIn(name);
      assert.equal(answer.status, 200, `token for ${appsUid} in app ${name}: ${await answer.clone().text()}`);
      accids[name] = ((await answer.json()) as { accid: string }).accid;
    }

    await picker.selectOption("sg");
    await page.getByText(/^NetEase app sg \(/).waitFor();
    adminCalls.length = 0;
    await page.getByLabel("Value").fill(appsUid);
    await page.getByRole("button", { name: "Look up" }).click();
    await page.getByText(`Found ${appsUid}.`).waitFor();
    assert.ok(adminCalls.includes(`GET /admin/v1/apps/sg/accounts/${appsUid}`), adminCalls.join("\n"));
    assert.ok(
      adminCalls.every((call) => call.includes(" /admin/v1/apps/sg/accounts/")),
      `every account call in sg's paths:\n${adminCalls.join("\n")}`,
    );
    assert.equal(await page.locator('dd[data-field="accid"]').textContent(), accids.sg);
    assert.equal(await page.locator('dd[data-field="status"]').textContent(), "active");

    await page.getByRole("button", { name: "Block…", exact: true }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Confirm" }).click();
    await page.getByText(/^block: done; status blocked \(request [0-9a-f-]{36}\)$/).waitFor();
    assert.equal(await page.locator('dd[data-field="status"]').textContent(), "blocked");
    assert.ok(adminCalls.includes(`POST /admin/v1/apps/sg/accounts/${appsUid}/block`), adminCalls.join("\n"));
    assert.ok(!adminCalls.some((call) => call.includes("/admin/v1/accounts")), "no call to the home app's paths");

    // Under cn the same uid is another account, untouched; switching cleared the one on screen.
    await picker.selectOption("cn");
    await page.getByText(/^NetEase app cn \(/).waitFor();
    assert.equal(await page.locator("#account").isHidden(), true, "switching app clears the account shown");
    adminCalls.length = 0;
    await page.getByRole("button", { name: "Look up" }).click();
    await page.getByText(`Found ${appsUid}.`).waitFor();
    assert.ok(adminCalls.includes(`GET /admin/v1/apps/cn/accounts/${appsUid}`), adminCalls.join("\n"));
    assert.equal(await page.locator('dd[data-field="accid"]').textContent(), accids.cn);
    assert.equal(await page.locator('dd[data-field="status"]').textContent(), "active");
    // The Worker agrees: blocked in sg, not in cn.
    assert.equal((await tokenIn("sg")).status, 403, "no sg token for the uid blocked in sg");
    assert.equal((await tokenIn("cn")).status, 200, "cn tokens still for the uid blocked in sg only");
    ok("switched NetEase app: account calls on /admin/v1/apps/{app}/…, a block in sg leaves cn's account active");
  }

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
