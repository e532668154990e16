/** NERTC audio and video (`nertc-web-sdk` 5.x), as docs/clients.md shows it. */

import NERTC from "nertc-web-sdk";
import { tokens } from "./provider.ts";

// docs:start nertc
const { token, channelName, uid, appKey } = await tokens.getRtcToken("room 1");
const client = NERTC.createClient({ appkey: appKey, debug: false });
await client.join({ channelName, uid, token });
// docs:end nertc
