/**
 * The settings parsers loaded only when a setting needs them (config.ts `loadSettingParsers`): NIM_APPS's,
 * the identity providers' and the channel and chatroom policies'. A deployment with one app and a shared secret loads neither; a
 * setting that needs one always loads it, whatever else is set; and `parseConfig` refuses to run
 * without a parser its settings need rather than read the setting as unset.
 */

import { describe, expect, it } from "vitest";
import { ConfigError, loadSettingParsers, parseConfig } from "../../src/config.ts";
import type { Env } from "../../src/env.ts";
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
    const apps = { ...env, ...ONE_APP_BLANK, NIM_APPS: JSON.stringify([ENTRY]) } as Env;
    expect(() => parseConfig(apps, { providers: ALL_PARSERS.providers })).toThrow(/apps\/list\.ts is needed/);
    const provider = { ...env, SESSION_JWT_SECRET: "", SESSION_JWKS_URL: "https://idp.example.com/jwks.json" } as Env;
    expect(() => parseConfig(provider, { appList: ALL_PARSERS.appList })).toThrow(/providers\.ts is needed/);
    expect(() => parseConfig(provider, {})).not.toThrow(ConfigError);
    const policy = { ...env, CHATROOM_POLICY: '[{"room":"1*"}]' } as Env;
    expect(() => parseConfig(policy, {})).toThrow(/CHATROOM_POLICY is needed/);
    expect(parseConfig(policy, ALL_PARSERS).apps.get("default")?.roomPolicy.rules).toHaveLength(1);
  });

  it("answers a token request on a deployment whose settings need a parser (the Worker loads it itself)", async () => {
    const uid = uniqueUid("parsers");
    // A SESSION_ISSUERS list holding the shared secret: the providers' module parses it.
    const issuers = { SESSION_ISSUERS: JSON.stringify([{ provider: "secret" }]) };
    const answer = await tokenFor(uid, issuers);
    expect(answer.accid).toMatch(/\S/);
  });
});
