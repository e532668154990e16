/** NERTC audio and video (`nertc-web-sdk` 5.x), as docs/clients.md shows it. */

import NERTC from "nertc-web-sdk";
import { keepPermKeyFresh } from "nim-token-worker-client";
import { tokens } from "./provider.ts";

// docs:start nertc
const { token, channelName, uid, appKey, permKey } = await tokens.getRtcToken("room 1");
const client = NERTC.createClient({ appkey: appKey, debug: false });
await client.join({ channelName, uid, token, ...(permKey ? { permkey: permKey } : {}) });
// NERTC warns 30 s before the permission key lapses; answer with a fresh key until the call ends.
const stopRenewing = keepPermKeyFresh(client, tokens, channelName);
// … on leaving: stopRenewing(); await client.leave();
// docs:end nertc
stopRenewing();
