/**
 * Every settings parser the Worker loads only when a setting needs it (config.ts
 * `loadSettingParsers`), for tests that call `parseConfig` directly. The Worker's own loading is
 * tested through its requests (test/worker/setting-parsers.test.ts).
 */

import * as appList from "../src/apps/list.ts";
import * as roomPolicy from "../src/chatroom/room-policy.ts";
import type { SettingParsers } from "../src/config.ts";
import * as channelPolicy from "../src/rtc/channel-policy.ts";
import * as providers from "../src/session/providers.ts";

export const ALL_PARSERS: SettingParsers = { appList, providers, channelPolicy, roomPolicy };
