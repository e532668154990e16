/** NetEase Web SDK v10 and React Native (`nim-web-sdk-ng` 10.x), as docs/clients.md shows it. */

import V2NIM from "nim-web-sdk-ng";
import { tokens } from "./provider.ts";

const nim = V2NIM.getInstance({ appkey: "your app key" });

// docs:start web-v10
const { accid, token } = await tokens.getLogin();
await nim.V2NIMLoginService.login(accid, token, {
  authType: 1, // dynamic token
  tokenProvider: (accountId) => tokens.getToken(accountId),
});
// docs:end web-v10
