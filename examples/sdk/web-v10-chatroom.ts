/** Chatrooms with NetEase Web SDK v10 (`nim-web-sdk-ng` 10.x, `V2NIMChatroomClient`), as docs/clients.md shows it. */

import { createChatroomProviders, getAnonymousChatroomAddresses } from "nim-token-worker-client";
import V2NIMChatroomClient from "nim-web-sdk-ng/dist/v2/CHATROOM_BROWSER_SDK";
import { tokens } from "./provider.ts";

// docs:start web-v10-chatroom
const roomId = "123456789";
const { accid, appKey } = await tokens.getLogin();
const chatroom = V2NIMChatroomClient.newInstance({ appkey: appKey });
const { linkProvider, tokenProvider } = createChatroomProviders(tokens, { roomId });
await chatroom.enter(roomId, {
  accountId: accid,
  linkProvider, // the room's addresses: on enter, and after NetEase's error 399
  loginOption: { authType: 1, tokenProvider }, // dynamic token, on every (re)connect
});
// docs:end web-v10-chatroom

// docs:start web-v10-chatroom-anonymous
const visit = { endpoint: "https://tokens.example.com/v1/token", roomId: "123456789" };
const first = await getAnonymousChatroomAddresses(visit); // no session: 401 where the room allows none
let addresses: string[] | undefined = first.addresses;
const guestRoom = V2NIMChatroomClient.newInstance({ appkey: "your app key" });
await guestRoom.enter(visit.roomId, {
  anonymousMode: true,
  accountId: first.accid, // the nimanon_ id the addresses were asked for
  roomNick: "Guest", // required in anonymous mode
  linkProvider: async () => {
    const fresh = addresses ?? (await getAnonymousChatroomAddresses(visit)).addresses;
    addresses = undefined; // asked again after error 399: the held ones failed
    return fresh;
  },
});
// docs:end web-v10-chatroom-anonymous
