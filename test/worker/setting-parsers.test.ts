/**
 * The settings parsers loaded only when a setting needs them (config.ts `loadSettingParsers`): NIM_APPS's,
 * the identity providers' and the channel and chatroom policies'. A deployment with one app and a shared secret loads neither; a
 * setting that needs one always loads it, whatever else is set; and `parseConfig` refuses to run
 * without a parser its settings need rather than read the setting as unset.
 */

import { describe, expect, it } from "vitest";
import { OPEN_ROOM_POLICY } from "../../src/chatroom/room-policy.ts";
import { ConfigError, loadSettingParsers, parseConfig, type SettingParsers } from "../../src/config.ts";
import { ParserNotLoaded } from "../../src/core/problems.ts";
import type { Env } from "../../src/env.ts";
import { OPEN_POLICY } from "../../src/rtc/channel-policy.ts";
import { runtimeFor } from "../../src/runtime.ts";
import { ALL_PARSERS } from "../setting-parsers.ts";
import { ONE_APP_BLANK } from "../settings.ts";
import { env, tokenFor, uniqueUid } from "./helpers.ts";

const ENTRY = { name: "sg", appKey: "sgappkey0000000000000000000000aa", secret: "NIM_APP_SECRET_SG_PLAIN" };

/** Which parsers `loadSettingParsers` loaded for the test settings with `more` over them. */
async function loadedFor(more: Record<string, unknown>): Promise<string[]> {
  const parsers = await loadSettingParsers({ ...env, ...more } as Env);
  return Object.entries(parsers)
    .filter(([, parser]) => parser !== undefined)
    .map(([name]) => name)
    .sort();
}

describe("the settings parsers loaded on first use", () => {
  it("loads none for one app on a shared secret (the test deployment)", async () => {
    expect(await loadedFor({})).toEqual([]);
  });

  it("loads each parser with the settings it reads, and only with them", async () => {
    // NIM_APPS's entries may each carry both policies.
    const withApps = ["appList", "channelPolicy", "roomPolicy"];
    expect(await loadedFor({ ...ONE_APP_BLANK, NIM_APPS: JSON.stringify([ENTRY]) })).toEqual(withApps);
    expect(await loadedFor({ RTC_CHANNEL_POLICY: '[{"channel":"*","privileges":["all"]}]' })).toEqual([
      "channelPolicy",
    ]);
    expect(await loadedFor({ CHATROOM_POLICY: '[{"room":"1*"}]' })).toEqual(["roomPolicy"]);
    for (const [name, value] of [
      ["SESSION_PROVIDER", "auth0:example.eu.auth0.com"],
      ["SESSION_OIDC_ISSUER", "https://idp.example.com"],
      ["SESSION_JWKS_URL", "https://idp.example.com/jwks.json"],
      ["SESSION_ISSUERS", '[{"provider":"secret"}]'],
    ]) {
      expect(await loadedFor({ [name!]: value }), name).toEqual(["providers"]);
    }
    expect(
      await loadedFor({ ...ONE_APP_BLANK, NIM_APPS: JSON.stringify([ENTRY]), SESSION_PROVIDER: "supabase:x" }),
    ).toEqual([...withApps, "providers"].sort());
  });

  it("loads none for a blank setting, or one that is not text (which parseConfig then refuses by name)", async () => {
    expect(await loadedFor({ NIM_APPS: "  ", SESSION_PROVIDER: "\t", RTC_CHANNEL_POLICY: " " })).toEqual([]);
    const notText = { SESSION_ISSUERS: [{ provider: "secret" }] };
    expect(await loadedFor(notText)).toEqual([]);
    const settings = { ...env, ...notText } as unknown as Env;
    const parsers = await loadSettingParsers(settings);
    const refused = (() => {
      try {
        parseConfig(settings, parsers);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(refused).toBeInstanceOf(ConfigError);
    expect((refused as ConfigError).problems.map((problem) => problem.name)).toEqual(["SESSION_ISSUERS"]);
  });

  it("refuses to parse a setting whose parser is not loaded, rather than read it as unset", () => {
    const { appList, providers, channelPolicy, roomPolicy } = ALL_PARSERS;
    const refusals: [Record<string, string>, SettingParsers, string][] = [
      [
        { ...ONE_APP_BLANK, NIM_APPS: JSON.stringify([ENTRY]), NIM_APP_SECRET_SG_PLAIN: "sg-plain-secret-0123456789" },
        { providers, channelPolicy, roomPolicy },
        "NIM_APPS",
      ],
      [
        {
          SESSION_JWT_SECRET: "",
          SESSION_JWKS_URL: "https://idp.example.com/jwks.json",
          SESSION_JWT_ISSUER: "https://idp.example.com",
          SESSION_JWT_AUDIENCE: "app",
        },
        { appList },
        "SESSION_",
      ],
      [{ SESSION_ISSUERS: '[{"provider":"secret"}]' }, { channelPolicy, roomPolicy }, "SESSION_"],
      [{ RTC_CHANNEL_POLICY: '[{"channel":"*","privileges":["all"]}]' }, { roomPolicy }, "RTC_CHANNEL_POLICY"],
      [{ CHATROOM_POLICY: '[{"room":"1*"}]' }, { channelPolicy }, "CHATROOM_POLICY"],
    ];
    for (const [more, parsers, setting] of refusals) {
      const settings = { ...env, ...more } as Env;
      let thrown: unknown;
      try {
        parseConfig(settings, parsers);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, JSON.stringify(more)).toBeInstanceOf(ParserNotLoaded);
      expect((thrown as Error).message, JSON.stringify(more)).toContain(setting);
      // With every parser, the same settings are a runtime.
      expect(parseConfig(settings, ALL_PARSERS).apps.size, JSON.stringify(more)).toBe(1);
    }
  });

  it("reads an unset policy as the open one the policy modules define", () => {
    const app = parseConfig(env as Env, {}).apps.get("default")!;
    expect(app.roomPolicy).toEqual(OPEN_ROOM_POLICY);
    expect(app.channelPolicy).toEqual({ ...OPEN_POLICY, keyTtl: Number(env.RTC_PERM_KEY_TTL) });
  });

  it("builds one runtime per isolate for concurrent first requests, and tries again after a failed load", async () => {
    const settings = { ...env } as Env;
    const [first, second] = await Promise.all([runtimeFor(settings), runtimeFor(settings)]);
    expect(first).toBe(second);
    expect(first).not.toBeInstanceOf(ConfigError);
    // A setting that cannot be read at all (not a ConfigError): the first load fails, the next works.
    let reads = 0;
    const flaky = Object.defineProperty({ ...env }, "NIM_APPS", {
      get: () => {
        reads += 1;
        if (reads === 1) throw new Error("unreadable");
        return "";
      },
    }) as unknown as Env;
    await expect(runtimeFor(flaky)).rejects.toThrow("unreadable");
    const again = await runtimeFor(flaky);
    expect(again).not.toBeInstanceOf(ConfigError);
    expect(await runtimeFor(flaky)).toBe(again);
  });

  it("answers a token request on a deployment whose settings need a parser (the Worker loads it itself)", async () => {
    const uid = uniqueUid("parsers");
    // A SESSION_ISSUERS list holding the shared secret: the providers' module parses it.
    const issuers = { SESSION_ISSUERS: JSON.stringify([{ provider: "secret" }]) };
    const answer = await tokenFor(uid, issuers);
    expect(answer.accid).toMatch(/\S/);
  });
});
