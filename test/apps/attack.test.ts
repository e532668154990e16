/**
 * An outside review's attacks on "several NetEase apps from one deployment" (NIM_APPS, docs/apps.md,
 * docs/security.md "Apps are apart"), run in the worker-apps project (apps `cn`, the home app, and
 * `sg`, its secret in the Secrets Store).
 *
 * The first four groups are the gaps that review found, fixed since (each test failed before its
 * fix): rate-limit keys of two apps meeting, a region looked up through the prototype, a secret
 * naming another setting or binding, one binding serving two apps. The rest are attacks the change
 * withstood, kept because they cover ground apps.test.ts and apps-config.test.ts do not.
 */

import { describe, expect, it, vi } from "vitest";
import { objectNameOf } from "../../src/accounts/object/client.ts";
import { AccountStore } from "../../src/accounts/store.ts";
import { ConfigError, type ConfigProblem, parseConfig } from "../../src/config.ts";
import { isValidUid } from "../../src/core/uid.ts";
import type { Env } from "../../src/env.ts";
import { ALL_PARSERS } from "../setting-parsers.ts";
import { TEST_APPS } from "../settings.ts";
import {
  adminCall,
  call,
  env,
  esJwt,
  hsJwt,
  type Overrides,
  ownRuntime,
  seg,
  TEST_IDP,
  uniqueUid,
} from "../worker/helpers.ts";
import { callbackHeaders, dynamicToken } from "../worker/netease-signing.ts";
import { type AppName, atNetEase, backendAndPartnerIssuers } from "./helpers.ts";

type Entry = Record<string, unknown> & { name: string };

/** The project's NIM_APPS entries (cn, sg), as the account objects know them. */
function entries(): Entry[] {
  return JSON.parse(env.NIM_APPS!) as Entry[];
}

/** The project's NIM_APPS with each entry passed through `edit` (by name). */
function appsWith(edit: Partial<Record<AppName, (entry: Entry) => Entry>>): string {
  return JSON.stringify(entries().map((entry) => edit[entry.name as AppName]?.(entry) ?? entry));
}

/** POST `body` (JSON) to `path` with a bearer session. */
function post(path: string, jwt: string, body?: unknown, overrides: Overrides = {}): Promise<Response> {
  const headers: Record<string, string> = { Authorization: `Bearer ${jwt}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return call(
    path,
    { method: "POST", headers, body: body === undefined ? undefined : JSON.stringify(body) },
    overrides,
  );
}

/** The problems parseConfig finds in the project's settings with `more` over them ("THROWN …" when it throws otherwise). */
function problemsWith(more: Record<string, unknown>): ConfigProblem[] | string {
  try {
    parseConfig({ ...env, ...more } as Env, ALL_PARSERS);
  } catch (error) {
    if (error instanceof ConfigError) return [...error.problems];
    return `THROWN ${String(error)}`;
  }
  return [];
}

/** A fake Rate Limiting binding with wrangler.jsonc's TOKEN_RATE_LIMITER rule (30 a period), counting per key. */
function countingLimiter(limit = 30) {
  const counts = new Map<string, number>();
  return {
    counts,
    limit: async ({ key }: { key: string }) => {
      const count = (counts.get(key) ?? 0) + 1;
      counts.set(key, count);
      return { success: count <= limit };
    },
  };
}

async function tokenIn(app: AppName, jwt: string): Promise<{ accid: string; token: string }> {
  const response = await post(`/v1/apps/${app}/token`, jwt);
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

// ---------------------------------------------------------------------------------------------
// The gaps found, and fixed.
// ---------------------------------------------------------------------------------------------

describe("per-uid rate-limit keys of the `default` app and a named app stay apart", () => {
  // Found: limitKey(uid) was the uid for the app named `default` and `<app>/<uid>` for another. A uid
  // may hold "/" (core/uid.ts refuses only control characters), so the default app's uid "sg/alice"
  // and sg's uid "alice" were counted under one key. docs/apps.md tells a one-app deployment to move
  // into NIM_APPS by naming its app `default`, so this is the recommended layout. Now another app's
  // keys start `app:`, which no default key (`uid:…`) does.
  it("a default-app user whose uid is `sg/<victim>` spends sg's <victim>'s token-request budget", async () => {
    const limiter = countingLimiter();
    const [cn, sg] = entries();
    const overrides: Overrides = {
      ...ownRuntime(),
      TOKEN_RATE_LIMITER: limiter,
      // The migration layout: the old app named `default` (home), sg beside it.
      NIM_APPS: JSON.stringify([{ ...cn, name: "default", appKey: "migratedappkey00000000000000000a" }, sg]),
    };
    const victim = uniqueUid("victim");
    const attacker = await hsJwt(`sg/${victim}`);
    // 30 requests at the default app's own path, each refused for its body after it was counted
    // (ttl 1 is below the minimum): nothing is provisioned, only the budget is spent.
    for (let i = 0; i < 30; i++) {
      expect((await post("/v1/token", attacker, { ttl: 1 }, overrides)).status).toBe(400);
    }
    const victimAnswer = await post("/v1/apps/sg/token", await hsJwt(victim), undefined, overrides);
    // sg's user is not limited by another app's user: two users of two apps, two keys (it was 429).
    expect({ status: victimAnswer.status, keys: limiter.counts.size }).toEqual({ status: 200, keys: 2 });
  });
});

describe("an entry's `region` is one of its own regions, never a prototype key", () => {
  // Found: `NIM_REGIONS[region]` with region "constructor", "toString" or "__proto__" found
  // Object.prototype's members, so the `one of cn, sg` check passed. With `apiBase` the bad region was
  // silently accepted; without it, a TypeError escaped parseConfig: /healthz answered 500
  // internal_error instead of 503 naming the field (the one-app NIM_REGION had the same gap).
  for (const region of ["constructor", "__proto__", "toString"]) {
    it(`region "${region}" is reported as NIM_APPS[cn].region, with or without apiBase`, () => {
      const withBase = appsWith({ cn: (entry) => ({ ...entry, region }) });
      const withoutBase = appsWith({ cn: ({ apiBase: _, ...entry }) => ({ ...entry, region }) as Entry });
      const found = [problemsWith({ NIM_APPS: withBase }), problemsWith({ NIM_APPS: withoutBase })];
      const expected = [{ name: "NIM_APPS[cn].region", problem: "invalid", rule: "one of cn, sg" }];
      expect(found).toEqual([expected, expected]);
    });
  }

  it("/healthz names NIM_APPS[cn].region (503) rather than failing with 500 internal_error", async () => {
    const overrides = {
      NIM_APPS: appsWith({ cn: ({ apiBase: _, ...entry }) => ({ ...entry, region: "constructor" }) as Entry }),
    };
    const health = await call("/healthz", {}, overrides);
    expect({ status: health.status, body: await health.json() }).toEqual({
      status: 503,
      body: { status: "misconfigured", missing: [], invalid: ["NIM_APPS[cn].region"] },
    });
  });
});

describe("an entry's secret never names another of the Worker's settings or bindings", () => {
  // Found: any string binding passed as a Worker secret and any object with a `get` method as a
  // Secrets Store binding, so a KV namespace, a Durable Object namespace or the assets Fetcher passed
  // the check and the app failed only at its first token; a plain setting (NIM_APPS itself, public
  // text) passed too. Now every name in ENV_NAMES but the one-app secrets is refused.
  for (const binding of ["ACCOUNTS", "ACCOUNT_OBJECTS", "NIM_CREATE_PACER", "ASSETS", "NIM_APPS"]) {
    it(`NIM_APPS[sg].secret naming ${binding} is refused as a problem of NIM_APPS[sg].secret`, () => {
      const found = problemsWith({ NIM_APPS: appsWith({ sg: (entry) => ({ ...entry, secret: binding }) }) });
      expect(typeof found === "string" ? found : found.map((problem) => problem.name)).toEqual(["NIM_APPS[sg].secret"]);
    });
  }
});

describe("one secret binding serves one field of one app", () => {
  // Found: nothing stopped sg's entry from naming cn's secret binding (a copy-pasted entry during a
  // rotation). As sg's `previousSecret` it failed open: sg's login callback accepted dynamic tokens
  // signed with cn's secret, so whoever held cn's secret (another team, another customer) could log
  // in as any sg user until previousSecretUntil. Now a binding named twice is refused.
  it("a binding named by two apps (secret / previousSecret / rtcPermSecret) is refused", () => {
    const cases: [string, string][] = [
      [appsWith({ sg: (entry) => ({ ...entry, secret: "NIM_APP_SECRET_CN" }) }), "sg secret = cn secret"],
      [
        appsWith({
          sg: (entry) => ({
            ...entry,
            previousSecret: "NIM_APP_SECRET_CN",
            previousSecretUntil: new Date(Date.now() + 3_600_000).toISOString(),
          }),
        }),
        "sg previousSecret = cn secret",
      ],
      [appsWith({ sg: (entry) => ({ ...entry, rtcPermSecret: "NERTC_PERM_SECRET_CN" }) }), "sg perm = cn perm"],
    ];
    for (const [apps, what] of cases) {
      const found = problemsWith({ NIM_APPS: apps });
      expect(typeof found === "string" || found.length > 0, what).toBe(true);
    }
  });

  it("sg's login callback refuses a token signed with cn's secret, even when sg's previousSecret names cn's binding", async () => {
    const uid = uniqueUid("attack");
    const { accid } = await tokenIn("sg", await hsJwt(uid));
    const overrides = {
      ...ownRuntime(),
      NIM_APPS: appsWith({
        sg: (entry) => ({
          ...entry,
          previousSecret: "NIM_APP_SECRET_CN",
          previousSecretUntil: new Date(Date.now() + 3_600_000).toISOString(),
        }),
      }),
    };
    // cn's secret holder mints an sg token (sg's app key is public) for a login a minute ago.
    const curTime = Date.now() - 60_000;
    const forged = dynamicToken({
      appKey: TEST_APPS.sg.appKey,
      accid,
      curTime,
      ttl: 600,
      appSecret: TEST_APPS.cn.appSecret,
    });
    // sg's NetEase asks the callback about that login, signed with sg's real secret.
    const signed = await (
      await atNetEase("sg", "/emulator/callbacks/login", {
        method: "POST",
        body: JSON.stringify({ accid, token: forged }),
      })
    ).json<{ headers: Record<string, string>; body: string }>();
    const response = await call(
      "/v1/nim/login-callback",
      { method: "POST", headers: signed.headers, body: signed.body },
      overrides,
    );
    const health = await call("/healthz", {}, overrides);
    const verdict = {
      health: health.status,
      callback: response.status === 200 ? await response.json() : response.status,
    };
    // Either the deployment refuses the settings, or the callback refuses the login.
    expect(
      verdict.health === 503 || (verdict.callback as { errCode?: number }).errCode !== 0,
      JSON.stringify(verdict),
    ).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// Attacks that held (regression tests).
// ---------------------------------------------------------------------------------------------

describe("an app's match rule whatever the path looks like", () => {
  const overrides = { NIM_APPS: appsWith({ sg: (entry) => ({ ...entry, match: { claim: "region", value: "sg" } }) }) };

  it("encoded, slashed, queried and upper-cased paths never give a non-matching session an sg token", async () => {
    const cnUser = await hsJwt(uniqueUid("attack"), { claims: { region: "cn" } });
    const bodies = { token: undefined, "rtc/token": { channelName: "c" }, "sessions/revoke": {} } as const;
    for (const [endpoint, body] of Object.entries(bodies)) {
      // Each reaches sg through Hono (not the token door) and must meet sg's rule there too.
      for (const path of [
        `/v1/apps/%73g/${endpoint}`,
        `/v1/apps/%73%67/${endpoint}`,
        `/v1/apps/sg/${endpoint}/`,
        `/v1/apps/sg/${endpoint}?app=cn`,
      ]) {
        const response = await post(path, cnUser, body, overrides);
        expect(response.status, path).toBe(403);
        expect(await response.json(), path).toMatchObject({ error: "app_not_allowed" });
      }
      // Names sg does not answer to, and paths that are no route: never sg, never the home app.
      for (const path of [`/v1/apps/SG/${endpoint}`, `/v1/apps/sg%00/${endpoint}`, `/v1/apps/sg%2F/${endpoint}`]) {
        const response = await post(path, cnUser, body, overrides);
        expect(response.status, path).toBe(404);
        expect(await response.json(), path).toMatchObject({ error: "unknown_app" });
      }
      for (const path of [
        `//v1/apps/sg/${endpoint}`,
        `/v1/apps//sg/${endpoint}`,
        `/V1/APPS/SG/${endpoint.toUpperCase()}`,
      ]) {
        const response = await post(path, cnUser, body, overrides);
        expect(response.status, path).toBe(404);
      }
    }
  });

  it("the token door and Hono give the same refusal for the same app", async () => {
    const cnUser = await hsJwt(uniqueUid("attack"), { claims: { region: "cn" } });
    const door = await post("/v1/apps/sg/token", cnUser, undefined, overrides);
    const hono = await post("/v1/apps/sg/token/", cnUser, undefined, overrides);
    expect([door.status, await door.json()]).toEqual([hono.status, await hono.json()]);
  });

  it("claims only equal-ish to the value (arrays, objects, numbers, case, spaces) never meet the rule", async () => {
    const numeric = { NIM_APPS: appsWith({ sg: (entry) => ({ ...entry, match: { claim: "tier", value: "1" } }) }) };
    const cases: [Record<string, unknown>, Overrides][] = [
      [{ region: ["sg"] }, overrides],
      [{ region: [["sg"]] }, overrides],
      [{ region: { 0: "s", 1: "g", length: 2 } }, overrides],
      [{ region: { toString: "sg" } }, overrides],
      [{ region: "sg " }, overrides],
      [{ region: " sg" }, overrides],
      [{ region: "Sg" }, overrides],
      [{ region: "sg\u0000" }, overrides],
      [{ region: "ｓｇ" }, overrides],
      [{ Region: "sg" }, overrides],
      [{ tier: 1 }, numeric],
      [{ tier: true }, numeric],
      [{ tier: ["1"] }, numeric],
      [{ tier: 1.0 }, numeric],
    ];
    for (const [claims, settings] of cases) {
      const jwt = await hsJwt(uniqueUid("attack"), { claims });
      for (const path of ["/v1/apps/sg/token", "/v1/apps/sg/token/", "/v1/apps/sg/rtc/token"]) {
        const response = await post(path, jwt, path.includes("rtc") ? { channelName: "c" } : undefined, settings);
        expect(response.status, `${JSON.stringify(claims)} ${path}`).toBe(403);
      }
      // Unnamed: the rule is not met, so the home app (cn) serves it.
      const unnamed = await post("/v1/token", jwt, undefined, settings);
      expect(unnamed.status, JSON.stringify(claims)).toBe(200);
      expect((await unnamed.json<{ appKey: string }>()).appKey).toBe(TEST_APPS.cn.appKey);
    }
  });
});

describe("the issuer rule cannot be met by naming another issuer", () => {
  it("a backend token carrying the partner's iss, or a partner token claiming to be the backend's, stays out", async () => {
    const overrides = {
      ...backendAndPartnerIssuers(),
      NIM_APPS: appsWith({
        cn: (entry) => ({ ...entry, match: { issuer: "backend" } }),
        sg: (entry) => ({ ...entry, match: { issuer: "partner" } }),
      }),
    };
    // The backend's secret signing a token that names the partner's issuer (and audience): routed to
    // the partner's verifier, which takes no HS256. Not a session at all.
    const backendAsPartner = await hsJwt(uniqueUid("attack"), { issuer: TEST_IDP.issuer, audience: TEST_IDP.audience });
    expect((await post("/v1/apps/sg/token", backendAsPartner, undefined, overrides)).status).toBe(401);
    // A partner token whose claims name the backend (an `issuer` claim, a uid in the backend's space)
    // is still the partner's.
    const partnerAsBackend = await esJwt(uniqueUid("attack"), { claims: { issuer: "backend", name: "backend" } });
    const refused = await post("/v1/apps/cn/token", partnerAsBackend, undefined, overrides);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: "app_not_allowed" });
    // A backend user whose sub reads like a partner uid falls in the partner's uid space: refused.
    const straying = await hsJwt(`partner:${uniqueUid("attack")}`);
    expect((await post("/v1/token", straying, undefined, overrides)).status).toBe(401);
  });
});

describe("key spaces of apps stay apart", () => {
  it("KV keys and account-object names of (app, uid) pairs never meet, whatever the uid looks like", async () => {
    const written: string[] = [];
    const kv = {
      get: async (key: string) => {
        written.push(key);
        return null;
      },
    } as unknown as KVNamespace;
    const uids = [
      "x",
      "sg/uid:x",
      "uid:x",
      "sg/x",
      "cn/uid:x",
      "accid:x",
      "sg\u0000x",
      "default/uid:x",
      "/uid:x",
      "x/",
    ];
    const apps = ["default", "cn", "sg", "uid", "accid", "rtcuid", "sg-2", "s"];
    const seen = new Map<string, string>();
    for (const app of apps) {
      const store = new AccountStore(kv, app);
      for (const uid of uids.filter(isValidUid)) {
        written.length = 0;
        await store.get(uid);
        await store.uidForAccid(uid);
        for (const key of [...written, `object ${objectNameOf({ app, uid })}`]) {
          const owner = `${app} ${JSON.stringify(uid)}`;
          expect(seen.get(key) ?? owner, key).toBe(owner);
          seen.set(key, owner);
        }
      }
    }
    // The NUL that parts an app's name from its uid in object names is no uid's.
    expect(isValidUid("sg\u0000x")).toBe(false);
  });

  it("a cn user whose uid reads like sg's keys (`sg/uid:<x>`) gets cn's own account, and sg's user <x> is untouched", async () => {
    const victim = uniqueUid("victim");
    const sgVictim = await tokenIn("sg", await hsJwt(victim));
    const cn = await tokenIn("cn", await hsJwt(`sg/uid:${victim}`));
    expect(await env.ACCOUNTS!.get(`cn/uid:sg/uid:${victim}`)).not.toBeNull();
    const sgRecord = JSON.parse((await env.ACCOUNTS!.get(`sg/uid:${victim}`))!) as { accid: string };
    expect(sgRecord.accid).toBe(sgVictim.accid);
    expect(cn.accid).not.toBe(sgVictim.accid);
    // An operator blocking the look-alike in cn leaves sg's user alone.
    expect((await adminCall("POST", `/apps/cn/accounts/${seg(`sg/uid:${victim}`)}/block`, {})).status).toBe(200);
    expect((await post("/v1/apps/sg/token", await hsJwt(victim))).status).toBe(200);
  });
});

describe("NetEase's login callback per app", () => {
  it("an unknown AppKey, a known one with a bad CheckSum, a missing one and two at once get one and the same answer", async () => {
    const body = JSON.stringify({ eventType: 36, fromAccount: "someone", token: "x" });
    const answers: unknown[] = [];
    const variants: Record<string, string>[] = [
      callbackHeaders(body, { appKey: "strangerappkey000000000000000000", appSecret: "its-own-secret" }),
      callbackHeaders(body, { appKey: TEST_APPS.sg.appKey, appSecret: "not-sg-s-secret" }),
      callbackHeaders(body, { appKey: TEST_APPS.cn.appKey, appSecret: "not-cn-s-secret" }),
      { ...callbackHeaders(body, { appKey: TEST_APPS.sg.appKey, appSecret: TEST_APPS.sg.appSecret }), AppKey: "" },
      {
        ...callbackHeaders(body, { appKey: TEST_APPS.sg.appKey, appSecret: TEST_APPS.sg.appSecret }),
        AppKey: `${TEST_APPS.sg.appKey}, ${TEST_APPS.cn.appKey}`,
      },
    ];
    for (const headers of variants) {
      const response = await call("/v1/nim/login-callback", { method: "POST", headers, body });
      answers.push({
        status: response.status,
        body: await response.json(),
        challenge: response.headers.get("WWW-Authenticate"),
      });
    }
    expect(new Set(answers.map((answer) => JSON.stringify(answer))).size, JSON.stringify(answers)).toBe(1);
    expect(answers[0]).toMatchObject({ status: 401 });
  });

  it("a callback signed by cn about sg's accid decides on cn's accounts (unknown there), never sg's", async () => {
    const uid = uniqueUid("attack");
    const sg = await tokenIn("sg", await hsJwt(uid));
    // cn's NetEase asked about sg's accid with sg's real token: cn never saw that account.
    const signed = await (
      await atNetEase("cn", "/emulator/callbacks/login", {
        method: "POST",
        body: JSON.stringify({ accid: sg.accid, token: sg.token }),
      })
    ).json<{ headers: Record<string, string>; body: string }>();
    const response = await call("/v1/nim/login-callback", {
      method: "POST",
      headers: signed.headers,
      body: signed.body,
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ errCode: 1 });
  });
});

describe("a Secrets Store secret never shows, and a failure is never kept", () => {
  it("the store's own error text (even one holding a value) reaches neither the answer nor the log", async () => {
    const marker = "LEAKED-store-error-text-0123456789";
    let fail = true;
    const binding = {
      get: async () => {
        if (fail) throw new Error(`Secret "nim-app-secret-sg" = ${marker}`);
        return TEST_APPS.sg.appSecret;
      },
    };
    const overrides = { ...ownRuntime(), NIM_APP_SECRET_SG: binding };
    const lines: string[] = [];
    const spies = (["log", "warn", "error"] as const).map((level) =>
      vi.spyOn(console, level).mockImplementation((...args: unknown[]) => {
        lines.push(args.map(String).join(" "));
      }),
    );
    try {
      const jwt = await hsJwt(uniqueUid("attack"));
      const refused = await post("/v1/apps/sg/token", jwt, undefined, overrides);
      expect(refused.status).toBe(500);
      const text = await refused.text();
      expect(text).not.toContain(marker);
      expect(text).not.toContain("NIM_APP_SECRET_SG");
      const ready = await adminCall("GET", "/ready", undefined, { overrides });
      expect(await ready.text()).not.toContain(marker);
      // The failure is not kept: the next request reads the store again and succeeds.
      fail = false;
      const served = await post("/v1/apps/sg/token", jwt, undefined, overrides);
      expect(served.status).toBe(200);
      expect(await served.text()).not.toContain(TEST_APPS.sg.appSecret);
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    expect(lines.join("\n")).not.toContain(marker);
    expect(lines.join("\n")).not.toContain(TEST_APPS.sg.appSecret);
    expect(lines.join("\n")).toContain("NIM_APP_SECRET_SG cannot be read");
  });

  it("a store answering something other than a non-empty string is refused, not used as a secret", async () => {
    for (const value of [null, undefined, 42, { secret: "x" }, ""]) {
      const overrides = { ...ownRuntime(), NIM_APP_SECRET_SG: { get: async () => value } };
      const refused = await post("/v1/apps/sg/token", await hsJwt(uniqueUid("attack")), undefined, overrides);
      expect(refused.status, JSON.stringify(value)).toBe(500);
      expect(await refused.json()).toMatchObject({ error: "misconfigured" });
    }
  });
});

describe("NIM_APPS parsing against hostile shapes", () => {
  it("prototype keys, wrong types and unknown fields are named by field, never by value", () => {
    const [cn, sg] = entries();
    const secretValue = "Would-Be-Secret_Value.0123456789!";
    const cases: [string, string][] = [
      [
        `[${JSON.stringify(cn).slice(0, -1)},"__proto__":{"name":"evil"}}, ${JSON.stringify(sg)}]`,
        "NIM_APPS[cn].__proto__",
      ],
      [JSON.stringify([{ ...cn, constructor: secretValue }, sg]), "NIM_APPS[cn].constructor"],
      [
        JSON.stringify([{ ...cn, match: { issuer: "secret", hasOwnProperty: secretValue } }, sg]),
        "NIM_APPS[cn].match.hasOwnProperty",
      ],
      [JSON.stringify([{ ...cn, secret: { value: secretValue } }, sg]), "NIM_APPS[cn].secret"],
      [JSON.stringify([{ ...cn, secret: secretValue }, sg]), "NIM_APPS[cn].secret"],
      [JSON.stringify([{ ...cn, name: secretValue }, sg]), "NIM_APPS[0].name"],
      [
        JSON.stringify([{ ...cn, tokenTtl: { default: "HUGE" } }, sg]).replace('"HUGE"', "1e400"),
        "NIM_APPS[cn].tokenTtl.default",
      ],
      [JSON.stringify([{ ...cn, createRate: -1 }, sg]), "NIM_APPS[cn].createRate"],
      [
        JSON.stringify([cn, sg, { ...sg, name: "sg", appKey: "otherkey0000000000000000000000aa" }]),
        "NIM_APPS[sg].name",
      ],
      [JSON.stringify([cn, { ...sg, name: "sg-2", appKey: TEST_APPS.cn.appKey }]), "NIM_APPS[sg-2].appKey"],
      [JSON.stringify([secretValue]), "NIM_APPS[0]"],
      [`[${"[".repeat(100_000)}${"]".repeat(100_000)}]`, "NIM_APPS[0]"],
      [`${"[".repeat(1_000_000)}`, "NIM_APPS"],
    ];
    for (const [text, name] of cases) {
      const found = problemsWith({ NIM_APPS: text });
      expect(typeof found, text.slice(0, 80)).not.toBe("string");
      const named = (found as ConfigProblem[]).map((problem) => problem.name);
      expect(
        named.some((each) => each === name || each.startsWith(`${name}.`)),
        `${text.slice(0, 80)}: ${named}`,
      ).toBe(true);
      expect(JSON.stringify(found)).not.toContain(secretValue);
    }
    // Prototype keys changed nothing global.
    expect(({} as Record<string, unknown>).name).toBeUndefined();
  });
});

describe("the per-app admin routes", () => {
  it("credentials before the app: a wrong or missing credential is 401 for an app that exists or not, and nothing changes", async () => {
    const uid = uniqueUid("attack");
    await tokenIn("cn", await hsJwt(uid));
    for (const app of ["cn", "nope", "%63n"]) {
      for (const [method, path, body] of [
        ["GET", `/apps/${app}/accounts/${seg(uid)}`, undefined],
        ["POST", `/apps/${app}/accounts/${seg(uid)}/block`, {}],
        ["POST", `/apps/${app}/accounts/${seg(uid)}/revoke`, {}],
        ["PUT", `/apps/${app}/accounts/${seg(uid)}`, { accid: "stock_x" }],
        ["POST", `/apps/${app}/accounts/import`, []],
      ] as const) {
        for (const token of [null, "wrong-admin-token-0123456789-abcdefghij"]) {
          const response = await adminCall(method, path, body, { token });
          expect(response.status, `${method} ${path} ${token}`).toBe(401);
        }
      }
    }
    expect((await post("/v1/apps/cn/token", await hsJwt(uid))).status).toBe(200);
  });

  it("an encoded app name in an admin path acts on that app only", async () => {
    const uid = uniqueUid("attack");
    const jwt = await hsJwt(uid);
    await tokenIn("cn", jwt);
    await tokenIn("sg", jwt);
    expect((await adminCall("POST", `/apps/%73g/accounts/${seg(uid)}/block`, {})).status).toBe(200);
    expect((await post("/v1/apps/sg/token", jwt)).status).toBe(403);
    expect((await post("/v1/apps/cn/token", jwt)).status).toBe(200);
    const unknown = await adminCall("POST", `/apps/SG/accounts/${seg(uid)}/unblock`, {});
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: "unknown_app" });
  });
});
