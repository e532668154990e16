/** NetEase Web SDK v9, classic (`@yxim/nim-web-sdk` 9.x), as docs/clients.md shows it. */

import { NIM } from "@yxim/nim-web-sdk";
import { tokens } from "./provider.ts";

// docs:start web-v9
const { accid, token, appKey } = await tokens.getLogin();
const nim = NIM.getInstance({
  appKey,
  account: accid,
  token,
  authType: 1,
  // The SDK awaits a Promise returned here before it reconnects.
  onwillreconnect: async () => {
    const fresh = tokens.peek() ?? (await tokens.getToken());
    nim.setOptions({ appKey, account: accid, token: fresh });
  },
});
// docs:end web-v9
