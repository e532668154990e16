/**
 * The events settings (env.ts, group Events; docs/events.md) and what a deployment without them does:
 * nothing queued, no outbox table in any object, the dead-letter routes saying events are off.
 * Runs in the worker project, where EVENTS_WEBHOOK_URL is unset.
 */

import { runInDurableObject } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { adminCall, call, env, seg, tokenFor, uniqueUid } from "./helpers.ts";

const SECRET = `whsec_${btoa("k".repeat(32))}`;
const ON = { EVENTS_WEBHOOK_URL: "https://backend.example.com/hooks/nim", EVENTS_WEBHOOK_SECRET: SECRET };

async function health(overrides: Record<string, unknown>) {
  return (await call("/healthz", {}, overrides)).json<{ status?: string; missing?: string[]; invalid?: string[] }>();
}

describe("the events settings", () => {
  it("accepts an https URL with a whsec_ secret, and the retry settings in bounds", async () => {
    expect(await health(ON)).toEqual({ status: "ok" });
    for (const [attempts, delay] of [
      ["1", "1"],
      ["20", "3600"],
      ["", ""],
    ]) {
      expect(await health({ ...ON, EVENTS_MAX_ATTEMPTS: attempts, EVENTS_RETRY_DELAY: delay })).toEqual({
        status: "ok",
      });
    }
  });

  it("wants the secret with the URL, and the URL with the secret", async () => {
    expect((await health({ EVENTS_WEBHOOK_URL: ON.EVENTS_WEBHOOK_URL })).missing).toEqual(["EVENTS_WEBHOOK_SECRET"]);
    expect((await health({ EVENTS_WEBHOOK_SECRET: SECRET })).invalid).toEqual(["EVENTS_WEBHOOK_URL"]);
  });

  it("refuses a secret that is not whsec_ and 24 to 64 bytes of base64", async () => {
    for (const secret of [
      btoa("k".repeat(32)),
      `whsec_${btoa("k".repeat(23))}`,
      `whsec_${btoa("k".repeat(65))}`,
      "whsec_not base64!",
      `whsec_${btoa("k".repeat(32)).slice(1)}`,
    ]) {
      expect((await health({ ...ON, EVENTS_WEBHOOK_SECRET: secret })).invalid, secret).toEqual([
        "EVENTS_WEBHOOK_SECRET",
      ]);
    }
  });

  it("refuses a URL that is not https, carries credentials or a query, or is loopback outside local development", async () => {
    for (const url of [
      "http://backend.example.com/hooks",
      "https://user:pw@backend.example.com/hooks",
      "https://backend.example.com/hooks?token=1",
      "not a url",
    ]) {
      expect((await health({ ...ON, EVENTS_WEBHOOK_URL: url })).invalid, url).toEqual(["EVENTS_WEBHOOK_URL"]);
    }
    // Loopback: npm start's receiver. Accepted in local development, refused in a deployment (where the
    // NetEase API base is NetEase's own, so LOCAL_DEVELOPMENT does not hold).
    const loopback = { ...ON, EVENTS_WEBHOOK_URL: "http://127.0.0.1:8789/events" };
    expect(await health(loopback)).toEqual({ status: "ok" });
    const deployed = await health({
      ...loopback,
      LOCAL_DEVELOPMENT: "",
      NIM_API_BASE: "https://api.netease.im/nimserver",
    });
    expect(deployed.invalid).toContain("EVENTS_WEBHOOK_URL");
  });

  it("refuses retry settings out of bounds", async () => {
    for (const attempts of ["0", "21", "x", "2.5"]) {
      expect((await health({ ...ON, EVENTS_MAX_ATTEMPTS: attempts })).invalid, attempts).toEqual([
        "EVENTS_MAX_ATTEMPTS",
      ]);
    }
    for (const delay of ["0", "3601", "1s"]) {
      expect((await health({ ...ON, EVENTS_RETRY_DELAY: delay })).invalid, delay).toEqual(["EVENTS_RETRY_DELAY"]);
    }
  });

  it("names each binding events need when it is missing", async () => {
    const missing = await health({ ...ON, EVENTS: undefined, EVENTS_DEAD_LETTER: undefined, ADMIN_FILES: undefined });
    expect(missing.missing).toEqual(["EVENTS", "EVENTS_DEAD_LETTER", "ADMIN_FILES"]);
  });
});

describe("the dead-letter routes", () => {
  it("refuse a DELETE or a redelivery a browser sends from another origin, before any credential is read", async () => {
    const id = `evt_${"f".repeat(32)}`;
    for (const [method, path, body] of [
      ["DELETE", `/admin/v1/events/dead-letters/${id}`, undefined],
      ["POST", `/admin/v1/events/dead-letters/${id}/redeliver`, "{}"],
    ] as const) {
      const answer = await call(path, {
        method,
        headers: {
          Authorization: `Bearer ${env.ADMIN_TOKEN}`,
          Origin: "https://evil.example",
          "Content-Type": "application/json",
        },
        body,
      });
      expect(answer.status, method).toBe(403);
      expect(((await answer.json()) as { error: string }).error).toBe("forbidden");
    }
  });
});

describe("without events", () => {
  it("an account change writes no event: the object has no outbox", async () => {
    const uid = uniqueUid("no-events");
    await tokenFor(uid);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, {})).status).toBe(200);
    const stub = env.ACCOUNT_OBJECTS!.get(env.ACCOUNT_OBJECTS!.idFromName(uid));
    await runInDurableObject(stub, (_instance, state) => {
      const tables = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")
        .toArray()
        .map((row) => row.name);
      expect(tables).toContain("history");
      expect(tables).not.toContain("outbox");
    });
  });

  it("the dead-letter routes say events are off, and still show and drop what was parked before", async () => {
    const list = await adminCall("GET", "/events/dead-letters");
    expect(await list.json()).toEqual({ configured: false, deadLetters: [], cursor: null });
    const id = `evt_${"e".repeat(32)}`;
    await env.ADMIN_FILES!.put(`events/dead-letter/${id}`, "{}", { customMetadata: { type: "account.blocked" } });
    const parked = (await (await adminCall("GET", "/events/dead-letters")).json()) as { deadLetters: { id: string }[] };
    expect(parked.deadLetters.map((letter) => letter.id)).toEqual([id]);
    expect((await adminCall("DELETE", `/events/dead-letters/${id}`)).status).toBe(204);
    const redeliver = await adminCall("POST", `/events/dead-letters/evt_${"1".repeat(32)}/redeliver`, {});
    expect(redeliver.status).toBe(404);
    expect(await redeliver.json()).toEqual({
      error: "not_found",
      message: "Events are off: EVENTS_WEBHOOK_URL is not set.",
    });
  });
});
