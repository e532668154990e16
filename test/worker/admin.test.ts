/** The admin API: authorisation, each lever's effect at NetEase (emulator) and in KV, failures. */

import { describe, expect, it } from "vitest";
import { AccountStore } from "../../src/accounts/store.ts";
import type { AdminAccount, ImportResponse } from "../../src/contract/responses.ts";
import {
  adminCall,
  emulatedAccount,
  emulatorLogin,
  emulatorNim,
  env,
  expectedAccid,
  expectedRtcUid,
  hsJwt,
  injectFault,
  issue,
  registerAtNetEase,
  seg,
  stockAccid,
  tokenFor,
  uniqueUid,
} from "./helpers.ts";

const store = () => new AccountStore(env.ACCOUNTS!);

describe("admin authorisation", () => {
  it("answers 404 for every admin path when ADMIN_TOKEN is unset", async () => {
    for (const [method, path] of [
      ["GET", "/accounts/x"],
      ["POST", "/accounts/x/block"],
      ["POST", "/accounts/import"],
    ] as const) {
      const response = await adminCall(method, path, undefined, { overrides: { ADMIN_TOKEN: "" } });
      expect(response.status).toBe(404);
      expect((await response.json<{ error: string }>()).error).toBe("not_found");
    }
  });

  it("answers 401 for a missing or wrong token, with the same body", async () => {
    const missing = await adminCall("GET", "/accounts/x", undefined, { token: null });
    const wrong = await adminCall("GET", "/accounts/x", undefined, { token: `${env.ADMIN_TOKEN}x` });
    const short = await adminCall("GET", "/accounts/x", undefined, { token: "a" });
    for (const response of [missing, wrong, short]) {
      expect(response.status).toBe(401);
      expect(response.headers.get("WWW-Authenticate")).toBe('Bearer realm="admin"');
      expect(await response.json()).toEqual({ error: "unauthorized", message: "Admin authorization required." });
    }
  });

  it("does not accept a session JWT as admin authorisation", async () => {
    const response = await adminCall("GET", "/accounts/x", undefined, { token: await hsJwt("x") });
    expect(response.status).toBe(401);
  });

  it("refuses a short ADMIN_TOKEN as misconfiguration", async () => {
    const response = await adminCall("GET", "/accounts/x", undefined, {
      token: "short",
      overrides: { ADMIN_TOKEN: "short" },
    });
    expect(response.status).toBe(500);
    expect((await response.json<{ error: string }>()).error).toBe("misconfigured");
  });
});

describe("GET /admin/v1/accounts/{uid}", () => {
  it("returns the record, and 404 for an unknown uid", async () => {
    const uid = `name with spaces/and slash ${crypto.randomUUID()}`;
    const { accid } = await tokenFor(uid);
    const response = await adminCall("GET", `/accounts/${seg(uid)}`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      uid,
      accid,
      status: "active",
      createdAt: expect.any(Number),
      updatedAt: expect.any(Number),
      generation: 0,
      rtcUid: await expectedRtcUid(uid),
      revision: 1,
    });
    const unknown = await adminCall("GET", `/accounts/${seg(uniqueUid())}`);
    expect(unknown.status).toBe(404);
    expect((await unknown.json<{ error: string }>()).error).toBe("not_found");
  });
});

describe("block and unblock", () => {
  it("blocks at NetEase and in KV, so /v1/token answers 403 and login fails; unblock restores both", async () => {
    const uid = uniqueUid();
    const { accid, token } = await tokenFor(uid);
    expect((await emulatorLogin(accid, token)).code).toBe(200);

    const blocked = await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: true });
    expect(blocked.status).toBe(200);
    expect(await blocked.json<AdminAccount>()).toMatchObject({ uid, accid, status: "blocked" });
    expect(await emulatedAccount(accid)).toMatchObject({ blocked: true, calls: { create: 1, block: 1 } });
    expect(await store().get(uid)).toMatchObject({ status: "blocked" });
    const refused = await issue(await hsJwt(uid));
    expect(refused.status).toBe(403);
    expect((await refused.json<{ error: string }>()).error).toBe("account_blocked");
    expect((await emulatorLogin(accid, token)).code).toBe(422);

    const unblocked = await adminCall("POST", `/accounts/${seg(uid)}/unblock`);
    expect(unblocked.status).toBe(200);
    expect((await unblocked.json<AdminAccount>()).status).toBe("active");
    expect((await emulatedAccount(accid)).blocked).toBe(false);
    const fresh = await issue(await hsJwt(uid));
    expect(fresh.status).toBe(200);
    expect((await emulatorLogin(accid, (await fresh.json<{ token: string }>()).token)).code).toBe(200);
  });

  it("defaults kick to true, passes kick false through, and validates it", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: "yes" })).status).toBe(400);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: true, extra: 1 })).status).toBe(400);
    expect(await emulatedAccount(accid)).toMatchObject({ blocked: false, kicks: 0 }); // refused before NetEase
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(200);
    expect(await emulatedAccount(accid)).toMatchObject({ blocked: true, kicks: 1 }); // the kick reached NetEase
    expect((await adminCall("POST", `/accounts/${seg(uid)}/unblock`)).status).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, { kick: false })).status).toBe(200);
    expect(await emulatedAccount(accid)).toMatchObject({ blocked: true, kicks: 1 }); // blocked, not kicked
  });

  it("answers 404 for a uid with no account, calling nobody", async () => {
    const uid = uniqueUid();
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`)).status).toBe(404);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/unblock`)).status).toBe(404);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/rotate`)).status).toBe(404);
    // Neither the accid the uid would get nor the next one was asked about, let alone registered.
    for (const generation of [0, 1]) {
      expect(await emulatedAccount(await expectedAccid(uid, generation))).toMatchObject({ exists: false, calls: {} });
    }
    expect(await store().get(uid)).toBeNull();
  });

  it("leaves KV unchanged when NetEase fails", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    const before = await store().get(uid);
    await injectFault(accid, "user/block.action", "code500");
    const failed = await adminCall("POST", `/accounts/${seg(uid)}/block`);
    expect(failed.status).toBe(503);
    expect(await store().get(uid)).toEqual(before);
    expect((await issue(await hsJwt(uid))).status).toBe(200);
  });
});

describe("rotate", () => {
  it("moves the uid to a new accid and blocks the old one; twice gives three distinct accids", async () => {
    const uid = uniqueUid();
    const first = await tokenFor(uid);
    const r1 = await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    expect(r1.status).toBe(200);
    const one = await r1.json<AdminAccount & { previousAccid: string }>();
    expect(one).toMatchObject({
      uid,
      previousAccid: first.accid,
      generation: 1,
      status: "active",
      accid: await expectedAccid(uid, 1),
    });
    const r2 = await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    const two = await r2.json<AdminAccount & { previousAccid: string }>();
    expect(two).toMatchObject({ previousAccid: one.accid, generation: 2, accid: await expectedAccid(uid, 2) });
    expect(new Set([first.accid, one.accid, two.accid]).size).toBe(3);

    expect(await emulatedAccount(first.accid)).toMatchObject({ exists: true, blocked: true });
    expect(await emulatedAccount(one.accid)).toMatchObject({ exists: true, blocked: true });
    expect(await emulatedAccount(two.accid)).toMatchObject({ exists: true, blocked: false });
    const now = await tokenFor(uid);
    expect(now.accid).toBe(two.accid);
    expect((await emulatorLogin(now.accid, now.token)).code).toBe(200);
    expect(await store().uidForAccid(first.accid)).toBe(uid);
    expect(await store().uidForAccid(two.accid)).toBe(uid);
  });

  it("refuses to rotate a blocked account (409), and leaves it as it was", async () => {
    const uid = uniqueUid();
    await tokenFor(uid);
    await adminCall("POST", `/accounts/${seg(uid)}/block`);
    const response = await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    expect(response.status).toBe(409);
    expect((await response.json<{ error: string }>()).error).toBe("conflict");
    expect(await store().get(uid)).toMatchObject({ generation: 0, status: "blocked" });
  });

  it("makes sure a next accid an interrupted attempt left registered (even blocked) is active", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    const next = await expectedAccid(uid, 1);
    // An earlier attempt registered it and undid it (blocked), then stopped before recording that.
    const nim = emulatorNim();
    await nim.createAccount(next);
    await nim.blockAccount(next, true);
    const rotated = await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    expect(rotated.status).toBe(200);
    expect(await rotated.json()).toMatchObject({ accid: next, status: "active", previousAccid: accid });
    expect(await emulatedAccount(next)).toMatchObject({ exists: true, blocked: false });
    expect((await emulatedAccount(accid)).blocked).toBe(true);
  });

  it("keeps the accid when NetEase fails, undoes a half-done rotation, and a retry completes", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    const before = (await store().get(uid))!;
    const next = await expectedAccid(uid, 1);
    await injectFault(next, "user/create.action", "http500");
    expect((await adminCall("POST", `/accounts/${seg(uid)}/rotate`)).status).toBe(503);
    // Nothing was registered: the attempt's generation is skipped, the accid and state are unchanged.
    expect(await store().get(uid)).toMatchObject({ accid, status: "active", generation: 1 });
    expect((await emulatedAccount(next)).exists).toBe(false);
    expect((await emulatedAccount(accid)).blocked).toBe(false);

    // Registered, but blocking the old accid fails: the new registration is undone (blocked at
    // NetEase, never handed out), so no account outside the records can log in.
    const third = await expectedAccid(uid, 2);
    await injectFault(accid, "user/block.action", "code403");
    expect((await adminCall("POST", `/accounts/${seg(uid)}/rotate`)).status).toBe(502);
    expect(await store().get(uid)).toMatchObject({ accid, status: "active", generation: 2 });
    expect(await emulatedAccount(third)).toMatchObject({ exists: true, blocked: true });
    expect((await emulatedAccount(accid)).blocked).toBe(false);

    const retried = await adminCall("POST", `/accounts/${seg(uid)}/rotate`);
    expect(retried.status).toBe(200);
    const rotated = await retried.json<AdminAccount>();
    expect(rotated).toMatchObject({ accid: await expectedAccid(uid, 3), generation: 3, previousAccid: accid });
    expect(rotated.createdAt).toBe(before.createdAt);
    expect((await emulatedAccount(accid)).blocked).toBe(true);
  });
});

describe("bind (PUT)", () => {
  it("binds an existing NetEase accid to a new uid; repeating it is idempotent", async () => {
    const uid = uniqueUid();
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const bound = await adminCall("PUT", `/accounts/${seg(uid)}`, { accid });
    expect(bound.status).toBe(201);
    expect(await bound.json()).toMatchObject({ uid, accid, status: "active", generation: 0, outcome: "bound" });
    const again = await adminCall("PUT", `/accounts/${seg(uid)}`, { accid });
    expect(again.status).toBe(200);
    expect((await again.json<{ outcome: string }>()).outcome).toBe("already_bound");
    const token = await tokenFor(uid);
    expect(token.accid).toBe(accid);
    expect((await emulatorLogin(accid, token.token)).code).toBe(200);
    expect((await emulatedAccount(accid)).calls.create).toBe(1); // no second registration
  });

  it("answers 409 when the uid has another accid or the accid has another uid", async () => {
    const uid = uniqueUid();
    const { accid } = await tokenFor(uid);
    const other = stockAccid();
    await registerAtNetEase(other);
    const response = await adminCall("PUT", `/accounts/${seg(uid)}`, { accid: other });
    expect(response.status).toBe(409);
    expect((await response.json<{ error: string }>()).error).toBe("conflict");
    expect((await adminCall("PUT", `/accounts/${seg(uniqueUid())}`, { accid })).status).toBe(409);
  });

  it("checks the accid rules and that NetEase knows the accid", async () => {
    for (const accid of ["", "x".repeat(33), "bad char!", "ünï", 42]) {
      const response = await adminCall("PUT", `/accounts/${seg(uniqueUid())}`, { accid });
      expect(response.status).toBe(400);
      expect((await response.json<{ message: string }>()).message).toContain("accid must be");
    }
    const unknown = await adminCall("PUT", `/accounts/${seg(uniqueUid())}`, { accid: stockAccid() });
    expect(unknown.status).toBe(400);
    expect((await unknown.json<{ message: string }>()).message).toBe("This accid is not registered with NetEase.");
  });
});

describe("accids are case-insensitive, as at NetEase", () => {
  it("binds a mixed-case stock accid as its lowercase form, and its twins conflict", async () => {
    const stock = stockAccid();
    await registerAtNetEase(stock);
    const mixed = `${stock.slice(0, 6).toUpperCase()}${stock.slice(6)}`; // STOCK_…
    const uid = uniqueUid("mixed");
    const bound = await adminCall("PUT", `/accounts/${seg(uid)}`, { accid: mixed });
    expect(bound.status).toBe(201);
    expect(await bound.json<AdminAccount>()).toMatchObject({ accid: stock });
    expect(await store().uidForAccid(stock)).toBe(uid);
    const again = await adminCall("PUT", `/accounts/${seg(uid)}`, { accid: stock });
    expect(await again.json<AdminAccount & { outcome: string }>()).toMatchObject({ outcome: "already_bound" });
    const other = await adminCall("PUT", `/accounts/${seg(uniqueUid())}`, { accid: mixed.toUpperCase() });
    expect(other.status).toBe(409);
    const rows = [{ uid: uniqueUid(), accid: stock.toUpperCase() }];
    const imported = await (await adminCall("POST", "/accounts/import", rows)).json<ImportResponse>();
    expect(imported.results[0]).toMatchObject({ accid: stock, outcome: "conflict" });
  });
});

describe("import", () => {
  it("binds good rows and reports each line (JSON array)", async () => {
    const existingUid = uniqueUid();
    const { accid: existingAccid } = await tokenFor(existingUid);
    const [a, b, c] = [stockAccid(), stockAccid(), stockAccid()];
    await registerAtNetEase(a);
    await registerAtNetEase(b);
    const [ua, ub] = [uniqueUid(), uniqueUid()];
    const rows = [
      { uid: ua, accid: a },
      { uid: ub, accid: b },
      { uid: existingUid, accid: existingAccid },
      { uid: uniqueUid(), accid: existingAccid },
      { uid: uniqueUid(), accid: c },
      { uid: "", accid: a },
      { uid: uniqueUid(), accid: "Nope" },
      "not an object",
      { uid: ua, accid: a },
    ];
    const response = await adminCall("POST", "/accounts/import", rows);
    expect(response.status).toBe(200);
    const body = await response.json<ImportResponse>();
    expect(body.results.map((r) => [r.line, r.outcome])).toEqual([
      [1, "bound"],
      [2, "bound"],
      [3, "already_bound"],
      [4, "conflict"],
      [5, "invalid"],
      [6, "invalid"],
      [7, "invalid"],
      [8, "invalid"],
      [9, "already_bound"],
    ]);
    expect(body.counts).toEqual({ bound: 2, already_bound: 2, conflict: 1, invalid: 4 });
    expect(await store().get(ua)).toMatchObject({ accid: a, status: "active" });
    expect(await store().uidForAccid(b)).toBe(ub);
    expect(await store().uidForAccid(c)).toBeNull();

    const rerun = await (await adminCall("POST", "/accounts/import", rows.slice(0, 2))).json<ImportResponse>();
    expect(rerun.counts).toMatchObject({ bound: 0, already_bound: 2 });
  });

  it("accepts NDJSON, reporting unparsable lines as invalid", async () => {
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const uid = uniqueUid();
    const ndjson = `${JSON.stringify({ uid, accid })}\n{broken\n`;
    const response = await adminCall("POST", "/accounts/import", ndjson, { contentType: "application/x-ndjson" });
    const body = await response.json<ImportResponse>();
    expect(body.results.map((r) => r.outcome)).toEqual(["bound", "invalid"]);
    expect((await tokenFor(uid)).accid).toBe(accid);
  });

  it("ignores blank NDJSON lines: 400 rows with blank lines between and after are one full import", async () => {
    const rows = Array.from({ length: 400 }, (_, i) =>
      JSON.stringify({ uid: `blank-${i}-${crypto.randomUUID()}`, accid: "x!" }),
    );
    const ndjson = `${rows.slice(0, 200).join("\n")}\n\n   \r\n${rows.slice(200).join("\r\n")}\n\n\n`;
    const response = await adminCall("POST", "/accounts/import", ndjson, { contentType: "application/x-ndjson" });
    expect(response.status).toBe(200);
    const body = await response.json<ImportResponse>();
    expect(body.results).toHaveLength(400);
    expect(body.counts.invalid).toBe(400); // every row is reported for its accid, none for a blank line
    expect(body.results.every((r) => r.message?.startsWith("accid must be"))).toBe(true);
    // Each row is reported under its line in the file: blank lines are counted, not renumbered.
    expect(body.results[199]!.line).toBe(200);
    expect(body.results[200]!.line).toBe(203);
    expect(body.results[399]!.line).toBe(402);
  });

  it("reports NDJSON rows by their line in the input, blank lines included", async () => {
    const ndjson = ["", JSON.stringify({ uid: "a", accid: "x!" }), "  ", "not json", "", '{"uid":"b"}'].join("\n");
    const response = await adminCall("POST", "/accounts/import", ndjson, { contentType: "application/x-ndjson" });
    const body = await response.json<ImportResponse>();
    expect(body.results.map((r) => [r.line, r.outcome])).toEqual([
      [2, "invalid"],
      [4, "invalid"],
      [6, "invalid"],
    ]);
  });

  it("refuses an empty import, more than 400 rows, and other content types", async () => {
    expect((await adminCall("POST", "/accounts/import", [])).status).toBe(400);
    const tooMany = Array.from({ length: 401 }, (_, i) => ({ uid: `u${i}`, accid: `a${i}` }));
    const response = await adminCall("POST", "/accounts/import", tooMany);
    expect(response.status).toBe(400);
    expect((await response.json<{ message: string }>()).message).toContain("At most 400 rows");
    expect((await adminCall("POST", "/accounts/import", "uid,accid", { contentType: "text/csv" })).status).toBe(415);
  });

  it("writes nothing when NetEase cannot be asked", async () => {
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const uid = uniqueUid();
    const other = stockAccid();
    await registerAtNetEase(other);
    const otherUid = uniqueUid();
    await injectFault(accid, "user/getUinfos.action", "http500");
    const failed = await adminCall("POST", "/accounts/import", [
      { uid: otherUid, accid: other },
      { uid, accid },
    ]);
    expect(failed.status).toBe(503);
    expect((await failed.json<{ error: string }>()).error).toBe("upstream_unavailable");
    expect(await store().get(uid)).toBeNull();
    expect(await store().get(otherUid)).toBeNull();
    expect((await emulatedAccount(accid)).calls).toMatchObject({ getUinfos: 1 });
  });

  it("binds 400 rows in one request with bulk reads only: each row's writes happen in its object", async () => {
    const rows = Array.from({ length: 400 }, () => ({ uid: uniqueUid("bulk"), accid: stockAccid() }));
    await Promise.all(rows.map((row) => registerAtNetEase(row.accid)));
    const kv = countingKv(env.ACCOUNTS!);
    const response = await adminCall("POST", "/accounts/import", rows, { overrides: { ACCOUNTS: kv.binding } });
    expect(response.status).toBe(200);
    expect((await response.json<ImportResponse>()).counts).toEqual({
      bound: 400,
      already_bound: 0,
      conflict: 0,
      invalid: 0,
    });
    // The request's own KV operations: 4 bulk reads of records and 4 of owners (100 keys each).
    expect(kv.operations()).toBe(8);
    const written = await store().getMany(rows.map((row) => row.uid));
    expect(rows.filter((row) => written.get(row.uid)?.accid === row.accid)).toHaveLength(400);
    expect(await store().uidForAccid(rows[399]!.accid)).toBe(rows[399]!.uid);
  });
});

describe("derived accids are never shared", () => {
  it("gives a new uid the next generation when its derived accid was bound to another uid", async () => {
    const newcomer = uniqueUid("newcomer");
    const taken = await expectedAccid(newcomer, 0);
    await registerAtNetEase(taken); // exists at NetEase as a "stock" account
    const other = uniqueUid("other");
    expect((await adminCall("PUT", `/accounts/${seg(other)}`, { accid: taken })).status).toBe(201);
    const mine = await tokenFor(newcomer);
    expect(mine.accid).toBe(await expectedAccid(newcomer, 1));
    expect(await store().get(newcomer)).toMatchObject({ accid: mine.accid, generation: 1 });
    expect((await tokenFor(other)).accid).toBe(taken);
    // A later rotation continues from there.
    const rotated = await adminCall("POST", `/accounts/${seg(newcomer)}/rotate`);
    expect((await rotated.json<AdminAccount>()).accid).toBe(await expectedAccid(newcomer, 2));
  });
});

describe("uids by their bytes", () => {
  it("answers 400 stating the rule for a uid over 256 bytes, and reports such an import row as invalid", async () => {
    const long = "数".repeat(86); // 258 bytes
    const get = await adminCall("GET", `/accounts/${seg(long)}`);
    expect(get.status).toBe(400);
    expect(await get.json()).toEqual({
      error: "invalid_request",
      message: 'uid must be 1 to 256 bytes of UTF-8 text without control characters, and neither "." nor "..".',
    });
    const accid = stockAccid();
    await registerAtNetEase(accid);
    const rows = [
      { uid: "数".repeat(256), accid: stockAccid() }, // 768 bytes: once a 503 for the whole import
      { uid: uniqueUid("ok"), accid },
    ];
    const response = await adminCall("POST", "/accounts/import", rows);
    expect(response.status).toBe(200);
    const body = await response.json<ImportResponse>();
    expect(body.counts).toEqual({ bound: 1, already_bound: 0, conflict: 0, invalid: 1 });
    expect(body.results[0]).toMatchObject({
      line: 1,
      outcome: "invalid",
      message: expect.stringContaining("256 bytes"),
    });
  });
});

describe("recovery", () => {
  it("completes a bind that was interrupted after the reverse mapping was written", async () => {
    const uid = uniqueUid();
    const accid = stockAccid();
    await registerAtNetEase(accid);
    await env.ACCOUNTS!.put(`accid:${accid}`, uid); // the first write of a bind, then the isolate died
    expect(await store().get(uid)).toBeNull();
    const other = await adminCall("PUT", `/accounts/${seg(uniqueUid())}`, { accid });
    expect(other.status).toBe(409); // the accid is spoken for
    const retried = await adminCall("PUT", `/accounts/${seg(uid)}`, { accid });
    expect(retried.status).toBe(201);
    expect(await store().get(uid)).toMatchObject({ accid, status: "active" });
    expect((await tokenFor(uid)).accid).toBe(accid);
  });
});

/** A KV binding that counts operations the way Workers bills them against the per-invocation limit. */
function countingKv(kv: KVNamespace): { binding: KVNamespace; operations: () => number } {
  let count = 0;
  const binding = new Proxy(kv, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        count++; // a bulk get of up to 100 keys is one operation
        return (value as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  return { binding, operations: () => count };
}
