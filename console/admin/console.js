// The operator console: plain browser JavaScript, no build step, no third-party code. It calls the
// admin API (/admin/v1) from the Worker's own origin. Behind Cloudflare Access the browser's Access
// cookie signs every call in; otherwise the admin token typed in is kept in this module's memory only
// (never localStorage), so closing or reloading the page forgets it. Nothing here shows a secret.

const API = "/admin/v1";
/** How often a running import's progress is read (ms). */
const IMPORT_POLL_MS = 1000;
/** Result rows drawn in the table at most (every row is in the CSV). */
const IMPORT_ROWS_SHOWN = 1000;

/** The admin token, when signed in with one (memory only). */
let adminToken = "";
/** The uid on screen, and the cursor of its next (older) history page. */
let shown = { uid: "", next: null };
/**
 * The NetEase app the account calls are for: its name when the deployment serves several, else "".
 * With several, every call names its app (the home app's too), so none depends on which one the
 * Worker calls home; with one, or a Worker that predates the app list, the calls keep the paths they
 * always had.
 */
let app = "";
/** The results on screen (an import's every row), for the filter and the CSV; and whose they are. */
let importResults = [];
let importResultsId = "";
/** The import being followed live, and its timer. */
let followed = { id: "", timer: 0 };

const $ = (selector) => document.querySelector(selector);

function say(text) {
  $("#status").textContent = text;
}

/**
 * Calls the admin API (`path` under /admin/v1); resolves to
 * { status, body, headers }, whatever the status.
 */
async function call(method, path, { body, requestId } = {}) {
  const headers = { Accept: "application/json" };
  if (adminToken) headers.Authorization = `Bearer ${adminToken}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (requestId) headers["X-Request-Id"] = requestId;
  const response = await fetch(`${API}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let parsed = null;
  try {
    parsed = await response.json();
  } catch {
    // An empty or non-JSON answer: reported by status below.
  }
  return { status: response.status, body: parsed, headers: response.headers };
}

function problem(answer) {
  const code = answer.body?.error ?? `HTTP ${answer.status}`;
  const message = answer.body?.message ?? "";
  return `${code}${message ? `: ${message}` : ""}`;
}

// ---- signing in ----

async function signIn() {
  const answer = await call("GET", "/operator");
  if (answer.status !== 200) return false;
  $("#who").textContent = `Signed in as ${answer.body.operator}`;
  $("#sign-in").hidden = true;
  $("#signed-in").hidden = false;
  $("#lookup-value").focus();
  await loadApps();
  await loadDeadLetters();
  await loadImports();
  return true;
}

$("#token-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  adminToken = $("#admin-token").value.trim();
  $("#admin-token").value = "";
  say(""); // before signing in, so what loading the app list has to say stays
  if (!(await signIn())) {
    adminToken = "";
    say("Sign-in refused: check the admin token.");
    $("#admin-token").focus();
  }
});

// ---- NetEase apps ----

/**
 * Reads the deployment's NetEase apps (GET /admin/v1/apps) and offers them in the switcher, the home
 * app first and selected. The switcher shows only when there is a choice. A Worker older than the
 * app list answers 404: that is one app. Any other failure also leaves the home app's paths, which
 * are always right for the home app, and says so.
 */
async function loadApps() {
  let answer;
  try {
    answer = await call("GET", "/apps");
  } catch {
    answer = { status: 0, body: null };
  }
  const listed = answer.status === 200 && Array.isArray(answer.body?.apps) ? answer.body.apps : [];
  if (answer.status !== 200 && answer.status !== 404) {
    say(`NetEase apps: ${answer.status ? problem(answer) : "the Worker could not be reached"}; showing the home app.`);
  }
  const apps = [...listed.filter((a) => a.home), ...listed.filter((a) => !a.home)];
  const picker = $("#app");
  picker.replaceChildren();
  if (apps.length < 2) {
    app = "";
    $("#app-picker").hidden = true;
    return;
  }
  for (const { name, appKey } of apps) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = `${name} (${appKey})`;
    picker.append(option);
  }
  picker.value = apps[0].name;
  app = apps[0].name;
  $("#app-picker").hidden = false;
}

/** An account call's path (`rest` after /accounts) in the selected app. */
function accountsPath(rest = "") {
  return app ? `/apps/${encodeURIComponent(app)}/accounts${rest}` : `/accounts${rest}`;
}

/** " in {app}" where the deployment has several apps: for headings and confirmations. */
function inApp(name = app) {
  return name ? ` in ${name}` : "";
}

$("#app").addEventListener("change", () => {
  app = $("#app").value;
  // An account belongs to one app: what is on screen is not the newly selected app's.
  clearAccount();
  // So are its imports: stop following the other app's, and list this one's.
  clearTimeout(followed.timer);
  followed = { id: "", timer: 0 };
  $("#import-results").hidden = true;
  $("#import-progress").hidden = true;
  $("#import-status").textContent = "";
  loadImports();
  say(`NetEase app ${$("#app").selectedOptions[0]?.textContent ?? app}: look-ups, actions and imports go to it.`);
});

// ---- accounts ----

const FIELDS = [
  ["accid", "accid"],
  ["status", "Status"],
  ["generation", "Generation"],
  ["revision", "Revision"],
  ["rtcUid", "RTC uid"],
  ["createdAt", "Created"],
  ["updatedAt", "Updated"],
  ["revokedBefore", "Signed out everywhere before"],
];

function time(ms) {
  return ms === undefined
    ? ""
    : new Date(ms)
        .toISOString()
        .replace("T", " ")
        .replace(/\.\d+Z$/, " UTC");
}

function showRecord(account) {
  shown = { uid: account.uid, next: null };
  $("#account-uid").textContent = account.uid;
  $("#account-app").textContent = inApp();
  const list = $("#record");
  list.replaceChildren();
  for (const [key, label] of FIELDS) {
    if (account[key] === undefined) continue;
    const term = document.createElement("dt");
    term.textContent = label;
    const value = document.createElement("dd");
    value.textContent = key.endsWith("At") || key === "revokedBefore" ? time(account[key]) : String(account[key]);
    value.dataset.field = key;
    list.append(term, value);
  }
  $("#account").hidden = false;
}

function clearAccount() {
  shown = { uid: "", next: null };
  $("#account").hidden = true;
  $("#account-uid").textContent = "";
  $("#account-app").textContent = "";
  $("#record").replaceChildren();
  $("#history tbody").replaceChildren();
  $("#history-more").hidden = true;
}

function cell(row, text) {
  const td = document.createElement("td");
  td.textContent = text ?? "";
  row.append(td);
}

async function loadHistory(more = false) {
  const cursor = more && shown.next ? `&before=${shown.next}` : "";
  const forApp = app;
  const answer = await call("GET", accountsPath(`/${encodeURIComponent(shown.uid)}/history?limit=20${cursor}`));
  if (app !== forApp) return; // the app was switched meanwhile: this history is not on screen any more
  if (answer.status !== 200) return say(`History: ${problem(answer)}`);
  const body = $("#history tbody");
  if (!more) body.replaceChildren();
  for (const entry of answer.body.entries) {
    const row = document.createElement("tr");
    cell(row, time(entry.at));
    cell(row, entry.operator);
    cell(row, entry.detail ? `${entry.operation} (${entry.detail})` : entry.operation);
    cell(row, entry.replayed ? "replayed" : entry.outcome);
    cell(row, `${entry.before?.status ?? "–"} → ${entry.after?.status ?? "–"}`);
    cell(
      row,
      entry.before?.accid === entry.after?.accid
        ? entry.after?.accid
        : `${entry.before?.accid ?? "–"} → ${entry.after?.accid ?? "–"}`,
    );
    cell(row, entry.requestId);
    body.append(row);
  }
  shown.next = answer.body.next;
  $("#history-more").hidden = answer.body.next === null;
}

async function lookUp(kind, value) {
  const query = kind === "uid" ? `/${encodeURIComponent(value)}` : `?${kind}=${encodeURIComponent(value)}`;
  const forApp = app;
  const answer = await call("GET", accountsPath(query));
  if (app !== forApp) return; // switched meanwhile: the answer is another app's
  if (answer.status !== 200) {
    $("#account").hidden = true;
    return say(`Look-up: ${problem(answer)}`);
  }
  showRecord(answer.body);
  await loadHistory();
  if (app === forApp) say(`Found ${answer.body.uid}.`);
}

$("#lookup-form").addEventListener("submit", (event) => {
  event.preventDefault();
  lookUp($("#lookup-kind").value, $("#lookup-value").value.trim());
});

$("#history-more").addEventListener("click", () => loadHistory(true));

const ACTIONS = {
  block: { text: "Block this account: no new tokens and no IM login.", kick: true },
  unblock: { text: "Unblock this account.", kick: false },
  rotate: { text: "Move this user to a fresh accid (the old one is blocked for good).", kick: false },
  revoke: { text: "Sign this user out everywhere: earlier sessions and IM tokens are refused.", kick: true },
};

/** Asks for confirmation in the dialog; resolves to { kick } or null when cancelled. */
function confirmAction(action) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = `${action[0].toUpperCase()}${action.slice(1)} ${shown.uid}${inApp()}?`;
  $("#confirm-text").textContent = ACTIONS[action].text;
  $("#confirm-kick-row").hidden = !ACTIONS[action].kick;
  $("#confirm-kick").checked = true;
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => resolve(dialog.returnValue === "ok" ? { kick: $("#confirm-kick").checked } : null),
      { once: true },
    );
    dialog.returnValue = "";
    dialog.showModal();
    $("#confirm-ok").focus();
  });
}

for (const button of document.querySelectorAll("[data-action]")) {
  button.addEventListener("click", async () => {
    const action = button.dataset.action;
    const confirmed = await confirmAction(action);
    button.focus();
    if (!confirmed) return say("Cancelled.");
    const body = ACTIONS[action].kick ? { kick: confirmed.kick } : {};
    // A fresh id per confirmed action: repeating this request (a retry) is answered from the first.
    const requestId = crypto.randomUUID();
    const forApp = app;
    const path = accountsPath(`/${encodeURIComponent(shown.uid)}/${action}`);
    const answer = await call("POST", path, { body, requestId });
    if (answer.status !== 200) return say(`${action}${inApp(forApp)}: ${problem(answer)} (request ${requestId})`);
    const replayed = answer.headers.get("Idempotent-Replayed") === "true";
    const outcome = `${replayed ? "replayed (done before, nothing done now)" : "done"}; status ${answer.body.status} (request ${requestId})`;
    if (app === forApp) {
      showRecord(answer.body);
      await loadHistory();
    }
    // Named with its app when the switcher moved meanwhile: that app's record stays off the screen.
    say(`${action}${app === forApp ? "" : inApp(forApp)}: ${outcome}`);
  });
}

// ---- import ----

/** The imports path of the app on screen. */
function importsPath(rest = "") {
  return app ? `/apps/${encodeURIComponent(app)}/imports${rest}` : `/imports${rest}`;
}

/** "bound 2, unchanged 0, …": an import's counts in words. */
function countsText(counts) {
  return ["bound", "unchanged", "conflict", "invalid", "failed"].map((name) => `${name} ${counts[name]}`).join(", ");
}

/** One line on an import as it stands: its status, rows done and, while it runs, its pace. */
function importText(status) {
  const pace =
    status.status === "running" && status.secondsLeft !== null
      ? `, ${status.rowsPerSecond} rows/s, about ${status.secondsLeft} s left`
      : "";
  return `Import ${status.id} ${status.status}: ${status.counts.done} of ${status.rows} rows${pace} (${countsText(status.counts)}).`;
}

const ACTIVE = ["queued", "running", "pausing"];

/** The latest imports of the app on screen, with their controls. */
async function loadImports() {
  const answer = await call("GET", importsPath("?limit=20"));
  const body = $("#imports-table tbody");
  body.replaceChildren();
  if (answer.status === 404) {
    $("#import-status").textContent = `Imports are off: ${answer.body?.message ?? "not found"}`;
    return;
  }
  if (answer.status !== 200) {
    $("#import-status").textContent = `Imports: ${problem(answer)}`;
    return;
  }
  for (const status of answer.body.imports) body.append(importRow(status));
  $("#imports-table").hidden = body.children.length === 0;
  // Picks up an import still running (started earlier, or from another page).
  const running = answer.body.imports.find((status) => ACTIVE.includes(status.status));
  if (running && !followed.id) follow(running.id);
}

function importRow(status) {
  const row = document.createElement("tr");
  row.dataset.id = status.id;
  cell(row, status.createdAt);
  cell(row, status.id);
  cell(row, status.status);
  cell(row, `${status.counts.done} of ${status.rows}`);
  cell(row, countsText(status.counts));
  const actions = document.createElement("td");
  const controls = [];
  if (ACTIVE.includes(status.status)) controls.push(["Pause", "pause"]);
  if (status.status === "paused") controls.push(["Resume", "resume"]);
  if (ACTIVE.includes(status.status) || status.status === "paused") controls.push(["Cancel", "cancel"]);
  if (status.counts.done > 0) controls.push(["Results", ""]);
  for (const [label, action] of controls) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = label;
    button.addEventListener("click", async () => {
      if (!action) return showResults(status.id);
      const done = await call("POST", importsPath(`/${status.id}/${action}`));
      if (done.status !== 200) return say(`${label}: ${problem(done)}`);
      say(`Import ${status.id}: ${done.body.status}.`);
      if (done.body.status !== "cancelled") follow(status.id);
      else await loadImports();
    });
    actions.append(button);
  }
  row.append(actions);
  return row;
}

/** Follows an import live: its progress bar, its line and its row, until it stops running. */
function follow(id) {
  clearTimeout(followed.timer);
  followed = { id, timer: 0 };
  const forApp = app;
  const tick = async () => {
    if (followed.id !== id || app !== forApp) return;
    const answer = await call("GET", importsPath(`/${id}`));
    if (answer.status !== 200) {
      // Tried again shortly: a failed read (the bucket, the network) must not end the following.
      $("#import-status").textContent = `Import ${id}: ${problem(answer)}`;
      if (answer.status >= 500) followed.timer = setTimeout(tick, IMPORT_POLL_MS * 5);
      return;
    }
    const status = answer.body;
    const progress = $("#import-progress");
    progress.hidden = false;
    progress.max = status.rows;
    progress.value = status.counts.done;
    $("#import-status").textContent = importText(status);
    $(`#imports-table tr[data-id="${id}"]`)?.replaceWith(importRow(status));
    if (ACTIVE.includes(status.status)) {
      followed.timer = setTimeout(tick, IMPORT_POLL_MS);
      return;
    }
    followed = { id: "", timer: 0 };
    await loadImports();
    if (status.status === "complete") {
      say(`Import finished: ${countsText(status.counts)}.`);
      await showResults(id);
    } else say(importText(status));
  };
  tick();
}

/** An import's results (as far as it has got): the table, the filter and the CSV. */
async function showResults(id) {
  const headers = adminToken ? { Authorization: `Bearer ${adminToken}` } : {};
  const response = await fetch(`${API}${importsPath(`/${id}/results`)}`, { headers, credentials: "same-origin" });
  if (response.status !== 200) return say(`Results: HTTP ${response.status}`);
  const text = await response.text();
  importResults = text.split("\n").flatMap((line) => (line ? [JSON.parse(line)] : []));
  importResultsId = id;
  $("#import-results-id").textContent = id;
  showImport();
}

function showImport() {
  const filter = $("#import-filter").value;
  const body = $("#import-table tbody");
  body.replaceChildren();
  const matching = importResults.filter((result) => !filter || result.outcome === filter);
  for (const result of matching.slice(0, IMPORT_ROWS_SHOWN)) {
    const row = document.createElement("tr");
    cell(row, String(result.line));
    cell(row, result.uid);
    cell(row, result.accid);
    cell(row, result.outcome);
    cell(row, result.message);
    body.append(row);
  }
  $("#import-shown").textContent =
    matching.length > IMPORT_ROWS_SHOWN
      ? `The first ${IMPORT_ROWS_SHOWN} of ${matching.length} rows; the CSV has all.`
      : "";
  const counts = {};
  for (const result of importResults) counts[result.outcome] = (counts[result.outcome] ?? 0) + 1;
  $("#import-counts").textContent = Object.entries(counts)
    .map(([outcome, count]) => `${outcome}: ${count}`)
    .join(", ");
  $("#import-results").hidden = false;
}

async function importFile(file) {
  const dialog = $("#confirm");
  // The app is fixed here: the import goes to the app confirmed, even if the switcher changes meanwhile.
  const path = importsPath();
  $("#confirm-title").textContent = `Import ${file.name}${app ? ` into ${app}` : ""}?`;
  $("#confirm-text").textContent = `${file.size} bytes, imported by the service; you can close this page.`;
  $("#confirm-kick-row").hidden = true;
  const confirmed = await new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
  if (!confirmed) return say("Cancelled.");
  say(`Uploading ${file.name}…`);
  const headers = {
    Accept: "application/json",
    "Content-Type": /\.json$/i.test(file.name) ? "application/json" : "application/x-ndjson",
  };
  if (adminToken) headers.Authorization = `Bearer ${adminToken}`;
  const response = await fetch(`${API}${path}`, { method: "POST", headers, body: file, credentials: "same-origin" });
  const answer = { status: response.status, body: await response.json().catch(() => null) };
  if (answer.status !== 202) return say(`Import: ${problem(answer)}`);
  say(`Import ${answer.body.id} started: ${answer.body.rows} rows.`);
  $("#import-results").hidden = true;
  await loadImports();
  follow(answer.body.id);
}

$("#import-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const file = $("#import-file").files[0];
  if (file) importFile(file);
});

const dropZone = $("#drop-zone");
dropZone.addEventListener("dragover", (event) => {
  event.preventDefault();
  dropZone.classList.add("dragging");
});
dropZone.addEventListener("dragleave", () => dropZone.classList.remove("dragging"));
dropZone.addEventListener("drop", (event) => {
  event.preventDefault();
  dropZone.classList.remove("dragging");
  const file = event.dataTransfer.files[0];
  if (file) importFile(file);
});

$("#import-filter").addEventListener("change", showImport);
$("#imports-refresh").addEventListener("click", () => loadImports());

function csvField(value) {
  const text = value === undefined || value === null ? "" : String(value);
  // Quoted, and a leading = + - @ neutralised, so a spreadsheet never runs a cell as a formula.
  const safe = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
  return `"${safe.replaceAll('"', '""')}"`;
}

$("#import-csv").addEventListener("click", () => {
  const lines = [["line", "uid", "accid", "outcome", "message"].join(",")];
  for (const r of importResults) lines.push([r.line, r.uid, r.accid, r.outcome, r.message].map(csvField).join(","));
  const url = URL.createObjectURL(new Blob([`${lines.join("\r\n")}\r\n`], { type: "text/csv" }));
  const link = document.createElement("a");
  link.href = url;
  link.download = `${importResultsId}-results.csv`;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
});

// ---- undelivered events ----

/** The cursor of the next page of undelivered events, or null. */
let eventsCursor = null;

/** Asks before an undelivered event is dropped for good; resolves to true when confirmed. */
function confirmDrop(letter) {
  const dialog = $("#confirm");
  $("#confirm-title").textContent = `Drop ${letter.type} for ${letter.uid}?`;
  $("#confirm-text").textContent = `${letter.id} will never reach your backend.`;
  $("#confirm-kick-row").hidden = true;
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
    dialog.returnValue = "";
    dialog.showModal();
  });
}

/** Lists undelivered events: the first page, or the next one with `more`. */
async function loadDeadLetters(more = false) {
  const query = more && eventsCursor ? `?cursor=${encodeURIComponent(eventsCursor)}` : "";
  const answer = await call("GET", `/events/dead-letters${query}`);
  const body = $("#events-table tbody");
  if (!more) body.replaceChildren();
  if (answer.status !== 200) {
    $("#events-status").textContent = `Events: ${problem(answer)}`;
    return;
  }
  const off = answer.body.configured
    ? ""
    : "Events are off (set EVENTS_WEBHOOK_URL and EVENTS_WEBHOOK_SECRET: docs/events.md). ";
  for (const letter of answer.body.deadLetters) {
    const row = document.createElement("tr");
    row.dataset.id = letter.id;
    cell(row, letter.timestamp);
    cell(row, `${letter.type} (${letter.id})`);
    cell(row, letter.app);
    cell(row, letter.uid);
    cell(row, String(letter.attempts));
    cell(row, letter.lastError);
    const actions = document.createElement("td");
    for (const [label, act] of [
      ["Redeliver", () => call("POST", `/events/dead-letters/${letter.id}/redeliver`, { body: {} })],
      ["Drop", () => call("DELETE", `/events/dead-letters/${letter.id}`)],
    ]) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      button.addEventListener("click", async () => {
        if (label === "Drop" && !(await confirmDrop(letter))) return say("Cancelled.");
        const done = await act();
        if (done.status !== 202 && done.status !== 204) return say(`${label}: ${problem(done)}`);
        row.remove();
        showEventsCount(off);
        say(`${label === "Drop" ? "Dropped" : "Queued again"}: ${letter.id}`);
      });
      actions.append(button);
    }
    row.append(actions);
    body.append(row);
  }
  eventsCursor = answer.body.cursor;
  $("#events-more").hidden = eventsCursor === null;
  showEventsCount(off);
}

/** Shows the table while it has rows, and says so when none is left (after a redelivery or a drop too). */
function showEventsCount(off) {
  const empty = $("#events-table tbody").children.length === 0;
  $("#events-table").hidden = empty;
  $("#events-status").textContent = `${off}${empty ? "No undelivered event." : ""}`;
}

$("#events-refresh").addEventListener("click", () => loadDeadLetters());
$("#events-more").addEventListener("click", () => loadDeadLetters(true));

// ---- health ----

$("#health-check").addEventListener("click", async () => {
  const answer = await call("GET", "/ready");
  if (!answer.body?.checks) return say(`Health: ${problem(answer)}`);
  $("#health-status").textContent =
    answer.body.status === "ready" ? "Ready." : `Not ready: ${answer.body.failed.join(", ")}.`;
  const body = $("#health-table tbody");
  body.replaceChildren();
  for (const [name, check] of Object.entries(answer.body.checks)) {
    const row = document.createElement("tr");
    cell(row, name);
    cell(row, check.outcome);
    cell(row, `${check.latencyMs} ms`);
    body.append(row);
  }
  $("#health-table").hidden = false;
  await showMetrics();
});

const METRIC_TITLES = {
  tokens: "Tokens issued",
  accountsCreated: "First-time accounts created",
  neteaseFailures: "NetEase failures",
  loginCallback: "Login callback decisions",
  adminChanges: "Operator changes",
};

/** The last day's metrics (Analytics Engine, read back by the Worker), one table per query. */
async function showMetrics() {
  const answer = await call("GET", "/metrics");
  const holder = $("#metrics");
  holder.replaceChildren();
  if (answer.status !== 200) {
    $("#metrics-status").textContent = `Metrics: ${problem(answer)}`;
    return;
  }
  if (!answer.body.configured) {
    $("#metrics-status").textContent =
      "Not configured: set ANALYTICS_ACCOUNT_ID and the secret ANALYTICS_READ_TOKEN (docs/operations.md).";
    return;
  }
  $("#metrics-status").textContent = "";
  for (const [name, outcome] of Object.entries(answer.body.queries)) {
    const table = document.createElement("table");
    const caption = document.createElement("caption");
    caption.textContent = METRIC_TITLES[name] ?? name;
    table.append(caption);
    if (!outcome.ok) {
      const row = table.insertRow();
      cell(row, `unavailable: ${outcome.error}`);
    } else if (outcome.rows.length === 0) {
      cell(table.insertRow(), "none");
    } else {
      // Every row's columns (a row may lack one); per-app rows put their app first, to group by it.
      const seen = [...new Set(outcome.rows.flatMap((values) => Object.keys(values)))];
      const columns = seen.includes("app") ? ["app", ...seen.filter((column) => column !== "app")] : seen;
      const head = table.createTHead().insertRow();
      for (const column of columns) {
        const th = document.createElement("th");
        th.scope = "col";
        th.textContent = column;
        head.append(th);
      }
      const body = table.createTBody();
      for (const values of outcome.rows) {
        const row = body.insertRow();
        for (const column of columns) cell(row, String(values[column] ?? ""));
      }
    }
    holder.append(table);
  }
}

// Behind Cloudflare Access the page is signed in already; otherwise the token form stays.
signIn().then((done) => {
  if (!done) $("#admin-token").focus();
});
