/** Chatrooms with NetEase Web SDK v9, classic (`@yxim/nim-web-sdk` 9.x, `Chatroom`), as docs/clients.md shows it. */

import { Chatroom } from "@yxim/nim-web-sdk";
import { tokens } from "./provider.ts";

// docs:start web-v9-chatroom
const roomId = "123456789";
const { accid, token, appKey } = await tokens.getLogin();
const { addresses } = await tokens.getChatroomAddresses(roomId); // fixed for the instance's life
const options = {
  appKey,
  account: accid,
  token,
  chatroomId: roomId,
  chatroomAddresses: addresses,
  secure: true,
  isAnonymous: false,
  loginAuthType: 1, // dynamic token
};
const chatroom = Chatroom.getInstance({
  ...options,
  // With loginAuthType 1, the SDK awaits a Promise returned here before it reconnects.
  onwillreconnect: async () => {
    const fresh = tokens.peek() ?? (await tokens.getToken());
    chatroom.setOptions({ ...options, token: fresh });
  },
});
// docs:end web-v9-chatroom
