/** NetEase Web SDK v9, "IM Elite" (`nim-web-sdk-ng` 0.x), as docs/clients.md shows it. */

import NIM from "nim-web-sdk-ng-elite";
import type { NIMInterface } from "nim-web-sdk-ng-elite/dist/NIM_BROWSER_SDK/NIMInterface";
import { tokens } from "./provider.ts";

// docs:start web-v9-elite
const { accid, token, appKey } = await tokens.getLogin();
const nim = NIM.getInstance({ appkey: appKey, account: accid, token, authType: 1 });
nim.on("willReconnect", async () => {
  const fresh = tokens.peek() ?? (await tokens.getToken());
  // The class declares setOptions() without parameters; the interface it implements takes them.
  (nim as NIMInterface).setOptions({ appkey: appKey, account: accid, token: fresh });
});
// docs:end web-v9-elite
