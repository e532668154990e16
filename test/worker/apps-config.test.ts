/**
 * NIM_APPS, the setting for several NetEase apps: each entry checked by the one-app settings' own
 * rules and reported as `NIM_APPS[<app>].<field>`; and a deployment that moves its one app into
 * NIM_APPS (named `default`) keeping every account and its history as they were.
 */

import { describe, expect, it } from "vitest";
import { ConfigError, type ConfigProblem, parseConfig } from "../../src/config.ts";
import { Secret, STORED_SECRET_LIFETIME_MS } from "../../src/core/secret.ts";
import type { Env } from "../../src/env.ts";
import { ALL_PARSERS } from "../setting-parsers.ts";
import { ONE_APP_BLANK } from "../settings.ts";
import { adminCall, call, env, hsJwt, type Overrides, seg, tokenFor, uniqueUid } from "./helpers.ts";

/** The test deployment's one app as a NIM_APPS entry named `default` (same key, base and secrets). */
function defaultEntry(): Record<string, unknown> {
  return {
    name: "default",
    appKey: env.NIM_APP_KEY,
    apiBase: env.NIM_API_BASE,
    ...(env.NIM_API_VERSION ? { apiVersion: env.NIM_API_VERSION } : {}),
    secret: "NIM_APP_SECRET",
    rtcPermSecret: "NERTC_PERM_SECRET",
  };
}

const SG2_SECRET = "NIM_APP_SECRET_SG2_PLAIN";
const SG = { name: "sg", appKey: "sgappkey0000000000000000000000aa", region: "sg", secret: "NIM_APP_SECRET_SG_PLAIN" };

function settingsWith(apps: unknown, more: Record<string, unknown> = {}): Env {
  return {
    ...env,
    ...ONE_APP_BLANK,
    NIM_APP_SECRET_SG_PLAIN: "sg-plain-secret-0123456789",
    NIM_APP_SECRET_SG2_PLAIN: "sg2-plain-secret-0123456789",
    NIM_APPS: typeof apps === "string" ? apps : JSON.stringify(apps),
    ...more,
  } as Env;
}

function problemsOf(settings: Env): ConfigProblem[] {
  try {
    parseConfig(settings, ALL_PARSERS);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    throw error;
  }
  return [];
}

const names = (settings: Env) => problemsOf(settings).map((problem) => problem.name);

describe("NIM_APPS", () => {
  it("makes one app of each entry, in order; the home app is `default` if listed, else the first", () => {
    // On NetEase's own bases, as deployed: beside sg's, the emulator's loopback base would not be local.
    const deployed = { ...defaultEntry(), apiBase: undefined };
    const config = parseConfig(settingsWith([SG, deployed]), ALL_PARSERS);
    expect([...config.apps.keys()]).toEqual(["sg", "default"]);
    expect(config.homeApp).toBe("default");
    const sg = config.apps.get("sg")!;
    expect(sg.apiBases).toEqual([
      "https://api-sg.yunxinapi.com/nimserver",
      "https://api-sg-bak.yunxinapi.com/nimserver",
    ]);
    expect(sg.appSecret.read()).toBe("sg-plain-secret-0123456789");
    expect(sg.createRate).toBe(80);
    expect(sg.ttl).toEqual({ default: 600, min: 60, max: 3600 });
    expect(sg.roomPolicy).toEqual({ rules: undefined, claim: undefined });
    const lobby = { ...SG, chatroomPolicy: [{ room: "1*", anonymous: true }], chatroomPolicyClaim: "rooms" };
    const policy = parseConfig(settingsWith([lobby]), ALL_PARSERS).apps.get("sg")!.roomPolicy;
    expect([policy.rules?.length, policy.rules?.[0]?.anonymous, policy.claim]).toEqual([1, true, "rooms"]);
    expect(config.apps.get("default")!.appSecret.read()).toBe(env.NIM_APP_SECRET);
    expect(parseConfig(settingsWith([SG, { ...deployed, name: "cn" }]), ALL_PARSERS).homeApp).toBe("sg");
  });

  it("names the entry and the field of each problem, never a value", () => {
    const cases: [unknown, string[]][] = [
      [[{ ...SG, appKey: "not a key" }], ["NIM_APPS[sg].appKey"]],
      [[{ ...SG, name: "Has Caps" }], ["NIM_APPS[0].name"]],
      [[SG, { ...SG, appKey: "other0000000000000000000000000aa", secret: SG2_SECRET }], ["NIM_APPS[sg].name"]],
      [[SG, { ...SG, name: "sg2", secret: SG2_SECRET }], ["NIM_APPS[sg2].appKey"]],
      // One binding, one use: never another app's secret, nor the same app's twice.
      [
        [SG, { ...SG, name: "sg2", appKey: "sg2key", previousSecret: "NIM_APP_SECRET_SG_PLAIN" }],
        ["NIM_APPS[sg2].secret", "NIM_APPS[sg2].previousSecret"],
      ],
      [[{ ...SG, rtcPermSecret: "NIM_APP_SECRET_SG_PLAIN" }], ["NIM_APPS[sg].rtcPermSecret"]],
      [[{ ...SG, secret: "ACCOUNTS" }], ["NIM_APPS[sg].secret"]],
      [[{ ...SG, secret: "NIM_APPS" }], ["NIM_APPS[sg].secret"]],
      [[{ ...SG, region: "constructor" }], ["NIM_APPS[sg].region"]],
      [[{ ...SG, apiBases: ["https://x"] }], ["NIM_APPS[sg].apiBases"]],
      [[{ ...SG, secret: undefined }], ["NIM_APPS[sg].secret"]],
      [[{ ...SG, secret: "NO_SUCH_BINDING" }], ["NIM_APPS[sg].secret"]],
      [[{ ...SG, secret: "ADMIN_TOKEN" }], ["NIM_APPS[sg].secret"]],
      [[{ ...SG, secret: "lower_case" }], ["NIM_APPS[sg].secret"]],
      [[{ ...SG, apiBase: "http://example.com/nimserver" }], ["NIM_APPS[sg].apiBase"]],
      [[{ ...SG, apiVersion: "v3" }], ["NIM_APPS[sg].apiVersion"]],
      [[{ ...SG, createRate: 1.5 }], ["NIM_APPS[sg].createRate"]],
      [[{ ...SG, tokenTtl: { min: 700 } }], ["NIM_APPS[sg].tokenTtl.default"]],
      [[{ ...SG, rtcTokenTtl: { max: 90_000 } }], ["NIM_APPS[sg].rtcTokenTtl.max"]],
      [[{ ...SG, previousSecretUntil: "2026-01-01T00:00:00Z" }], ["NIM_APPS[sg].previousSecretUntil"]],
      [
        [{ ...SG, rtcChannelPolicy: [{ channel: "live-*", privilege: "subscriber" }] }],
        ["NIM_APPS[sg].rtcChannelPolicy"],
      ],
      [[{ ...SG, chatroomPolicy: [{ room: "lobby" }] }], ["NIM_APPS[sg].chatroomPolicy"]],
      [[{ ...SG, chatroomPolicyClaim: "rooms here" }], ["NIM_APPS[sg].chatroomPolicyClaim"]],
      // An app that serves only matching sessions cannot open rooms to visitors, who have none.
      [
        [{ ...SG, match: { claim: "region", value: "sg" }, chatroomPolicy: [{ room: "1", anonymous: true }] }],
        ["NIM_APPS[sg].chatroomPolicy"],
      ],
      [[{ ...SG, match: { claim: "region" } }], ["NIM_APPS[sg].match"]],
      [[{ ...SG, match: { issuer: "firebase" } }], ["NIM_APPS[sg].match.issuer"]],
      [[], ["NIM_APPS"]],
      [Array.from({ length: 33 }, (_, i) => ({ ...SG, name: `a${i}`, appKey: `key${i}` })), ["NIM_APPS"]],
      ["{not json", ["NIM_APPS"]],
    ];
    for (const [apps, expected] of cases) {
      const settings = settingsWith(apps);
      expect(names(settings), JSON.stringify(apps).slice(0, 120)).toEqual(expected);
      const message = JSON.stringify(problemsOf(settings));
      for (const secret of ["sg-plain-secret-0123456789", env.NIM_APP_SECRET!, env.ADMIN_TOKEN!]) {
        expect(message).not.toContain(secret);
      }
    }
    // A rule names the entry's own fields, not the one-app settings they stand in for.
    const [narrower] = problemsOf(settingsWith([{ ...SG, rtcPolicyClaim: "grants" }]));
    expect(narrower).toMatchObject({ name: "NIM_APPS[sg].rtcPolicyClaim", rule: "needs NIM_APPS[sg].rtcPermSecret" });
  });

  it("is refused beside the one-app settings it replaces (both at once), which it does not quietly ignore", () => {
    for (const name of [
      "NIM_APP_KEY",
      "NIM_REGION",
      "NIM_API_BASE",
      "NIM_API_VERSION",
      "TOKEN_TTL_MAX",
      "RTC_CHANNEL_POLICY",
    ]) {
      const value = name === "RTC_CHANNEL_POLICY" ? "[]" : name === "NIM_API_VERSION" ? "v1" : "1";
      expect(names(settingsWith([SG], { [name]: value })), name).toEqual([name]);
    }
  });

  it("answers /healthz 503 naming the entry's field, and every call 500 misconfigured", async () => {
    const overrides: Overrides = {
      ...ONE_APP_BLANK,
      NIM_APPS: JSON.stringify([{ ...defaultEntry(), appKey: "bad key" }]),
    };
    const health = await call("/healthz", {}, overrides);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({
      status: "misconfigured",
      missing: [],
      invalid: ["NIM_APPS[default].appKey"],
    });
    const token = await call(
      "/v1/token",
      { method: "POST", headers: { Authorization: `Bearer ${await hsJwt("u")}` } },
      overrides,
    );
    expect(token.status).toBe(500);
    expect(await token.json()).toMatchObject({ error: "misconfigured" });
  });
});

describe("moving one app into NIM_APPS", () => {
  it("keeps every uid, accid and history written by the one-app settings, when the app is named default", async () => {
    const uid = uniqueUid("migrate");
    // Written under the one-app settings: an account, a block and an unblock in its history.
    const before = await tokenFor(uid);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/block`, {})).status).toBe(200);
    expect((await adminCall("POST", `/accounts/${seg(uid)}/unblock`, {})).status).toBe(200);
    const historyThen = await (await adminCall("GET", `/accounts/${seg(uid)}/history`)).json<{ entries: unknown[] }>();

    // The same deployment with NIM_APPS naming its app `default`: nothing to move.
    const overrides: Overrides = { ...ONE_APP_BLANK, NIM_APPS: JSON.stringify([defaultEntry()]) };
    const after = await tokenFor(uid, overrides);
    expect(after.accid).toBe(before.accid);
    expect(after.appKey).toBe(before.appKey);
    for (const path of [`/accounts/${seg(uid)}`, `/apps/default/accounts/${seg(uid)}`]) {
      expect(await (await adminCall("GET", path, undefined, { overrides })).json()).toMatchObject({
        uid,
        accid: before.accid,
        status: "active",
      });
    }
    const historyNow = await (
      await adminCall("GET", `/apps/default/accounts/${seg(uid)}/history`, undefined, { overrides })
    ).json<{ entries: unknown[] }>();
    expect(historyNow.entries).toEqual(historyThen.entries);
    const byAccid = await adminCall("GET", `/apps/default/accounts?accid=${before.accid}`, undefined, { overrides });
    expect(await byAccid.json()).toMatchObject({ uid });
  });
});

describe("a secret in the Secrets Store", () => {
  /** A store binding that counts its reads and answers what `values` holds now. */
  function store(values: (string | Error)[]) {
    let reads = 0;
    return {
      get reads() {
        return reads;
      },
      get: async () => {
        const value = values[Math.min(reads++, values.length - 1)]!;
        if (value instanceof Error) throw value;
        return value;
      },
    };
  }

  it("is read once per lifetime per isolate, concurrent readers sharing the read; then read again", async () => {
    let now = 1_000_000;
    const binding = store(["first", "second"]);
    const secret = new Secret("NIM_APP_SECRET_SG", binding, () => now);
    expect(await Promise.all([secret.read(), secret.read(), secret.read()])).toEqual(["first", "first", "first"]);
    expect(binding.reads).toBe(1);
    now += STORED_SECRET_LIFETIME_MS - 1;
    // Fresh: the value itself, no promise, no read.
    expect(secret.read()).toBe("first");
    now += 1;
    expect(await secret.read()).toBe("second");
    expect(binding.reads).toBe(2);
  });

  it("refuses a missing or empty secret as misconfigured, naming the binding, and keeps no failure", async () => {
    const binding = store([new Error('Secret "x" not found'), "", "late"]);
    const secret = new Secret("NIM_APP_SECRET_SG", binding);
    await expect(secret.read()).rejects.toMatchObject({
      kind: "misconfigured",
      detail: expect.stringContaining("NIM_APP_SECRET_SG"),
    });
    await expect(secret.read()).rejects.toMatchObject({ kind: "misconfigured" });
    expect(await secret.read()).toBe("late");
  });

  it("hands a Worker secret back as it is, never as a promise", () => {
    expect(Secret.of("plain").read()).toBe("plain");
    expect(Secret.of("plain").stored).toBe(false);
  });
});
