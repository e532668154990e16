#!/usr/bin/env bash
# Installs the client package the way an app does and gets a token with it:
#   1. `npm run pack:client` builds and packs packages/client (the tarball path is its last line);
#   2. a scratch app outside the repo installs that tarball with the machine's own node and npm;
#   3. TypeScript resolves the package's types there under moduleResolution bundler, node16 and nodenext;
#   4. the installed package gets a login token from the running service (<base-url>, e.g. npm start)
#      and the emulator's login check (<emulator-url>) accepts it, as NetEase would; then it signs
#      the user out everywhere, and the same session is refused for good.
# Usage: scripts/client-check.sh <base-url> <emulator-url>
set -euo pipefail
cd "$(dirname "$0")/.."
base=${1:?usage: client-check.sh <base-url> <emulator-url>}
emulator=${2:?usage: client-check.sh <base-url> <emulator-url>}
repo=$(pwd)

tarball=$(npm run -s pack:client | tail -n 1)
app=$(mktemp -d)
trap 'rm -rf "$app"' EXIT
cd "$app"
printf '{"name":"scratch-app","private":true,"type":"module"}\n' >package.json
npm install --no-audit --no-fund --silent "$tarball"
echo "client: installed $(basename "$tarball") into a scratch app with node $(node --version)"

cat >types.ts <<'TS'
import { createTokenProvider, keepPermKeyFresh, TokenProviderError, type TokenProvider, type TokenResponse } from "nim-token-worker-client";
const provider: TokenProvider = createTokenProvider({ endpoint: "https://t.example/v1/token", getSessionToken: () => "jwt" });
const token: Promise<string> = provider.getToken("accid");
const peeked: string | undefined = provider.peek();
const rtcUid: Promise<number> = provider.getRtcToken("room").then((rtc) => rtc.uid);
const revoked: Promise<number> = provider.signOutEverywhere().then((answer) => answer.revokedBefore);
const stop: () => void = keepPermKeyFresh({ on: () => {}, updatePermKey: async () => {} }, provider, "room");
const code: string = new TokenProviderError("network_error", "x").code;
export type Answer = Pick<TokenResponse, "accid" | "refreshAfter">;
export { token, peeked, code, rtcUid, revoked, stop };
TS
for mode in "bundler esnext" "node16 node16" "nodenext nodenext"; do
  set -- $mode
  printf '{"compilerOptions":{"noEmit":true,"strict":true,"target":"es2022","lib":["es2022","dom"],"types":[],
    "moduleResolution":"%s","module":"%s"},"files":["types.ts"]}\n' "$1" "$2" >tsconfig.json
  node "$repo/node_modules/typescript/bin/tsc" -p tsconfig.json
  echo "client: types resolve under moduleResolution $1"
done

cat >check.mjs <<'JS'
import { createChatroomProviders, createTokenProvider, keepPermKeyFresh } from "nim-token-worker-client";
const [base, emulator] = process.argv.slice(2);
const provider = createTokenProvider({ endpoint: `${base}/v1/token`, getSessionToken: () => process.env.SESSION_JWT });
const { accid, token } = await provider.getLogin();
if (provider.peek(accid) !== token) throw new Error("peek() does not hold the token just fetched");
const login = await (await fetch(`${emulator}/emulator/login`, { method: "POST", body: JSON.stringify({ accid, token }) })).json();
if (login.code !== 200) throw new Error(`the emulator refused the token: ${JSON.stringify(login)}`);
console.log(`client: token for ${accid} accepted by the emulator's login check`);
const rtc = await provider.getRtcToken("client check");
const joined = await (await fetch(`${emulator}/emulator/rtc/join`, { method: "POST", body: JSON.stringify(rtc) })).json();
if (joined.code !== 200) throw new Error(`the emulator refused the RTC token: ${JSON.stringify(joined)}`);
console.log(`client: RTC token for uid ${rtc.uid} accepted by the emulator's join check`);
if (!rtc.permKey) throw new Error("no permission key: is NERTC_PERM_SECRET in .dev.vars (see .dev.vars.example)?");
// NERTC's "permission key will expire" warning, as a NERTC Web client would raise it.
const listeners = [];
const renewed = await new Promise((resolve, reject) => {
  const client = { on: (_event, listener) => listeners.push(listener), updatePermKey: async (key) => resolve(key) };
  keepPermKeyFresh(client, provider, "client check", { onError: reject });
  for (const listener of listeners) listener();
});
const rejoined = await (await fetch(`${emulator}/emulator/rtc/join`, { method: "POST", body: JSON.stringify({ ...rtc, permKey: renewed }) })).json();
if (rejoined.code !== 200) throw new Error(`the emulator refused the renewed permission key: ${JSON.stringify(rejoined)}`);
console.log(`client: permission key (privilege ${rtc.privilege}) renewed through keepPermKeyFresh and accepted`);
// A named app of the deployment (npm start serves cn and sg): the provider's `app` option.
const appName = process.env.CLIENT_CHECK_APP ?? "sg";
const named = createTokenProvider({ endpoint: `${base}/v1/token`, app: appName, getSessionToken: () => process.env.SESSION_JWT });
const inApp = await named.getLogin().then((login) => login, (error) => error);
if (inApp?.code === "unknown_app") {
  console.log(`client: no app ${appName} in this deployment; the app option is not checked`);
} else {
  if (!inApp?.token) throw new Error(`no token for app ${appName}: ${inApp}`);
  const appLogin = await (await fetch(`${emulator}/emulator/login?appKey=${inApp.appKey}`, { method: "POST", body: JSON.stringify({ accid: inApp.accid, token: inApp.token }) })).json();
  if (appLogin.code !== 200 || inApp.appKey === (await provider.getLogin()).appKey) throw new Error(`app ${appName}'s token is not its own: ${JSON.stringify(appLogin)}`);
  console.log(`client: token for app ${appName} (app key ${inApp.appKey}) accepted by that app's login check`);
}
named.dispose();
// A chatroom (npm start's lobby, 1000001): the v10 chatroom client's hooks, the SDK's argument order
// (account first) included; the token they give must pass the emulator's login check.
const roomId = process.env.CLIENT_CHECK_ROOM ?? "1000001";
const { linkProvider, tokenProvider } = createChatroomProviders(provider, { roomId });
const links = await linkProvider(accid, roomId);
if (!Array.isArray(links) || links.length === 0) throw new Error(`no link addresses for room ${roomId}`);
const roomToken = await tokenProvider((await provider.getLogin()).appKey, roomId, accid);
const roomLogin = await (await fetch(`${emulator}/emulator/login`, { method: "POST", body: JSON.stringify({ accid, token: roomToken }) })).json();
if (roomLogin.code !== 200) throw new Error(`the chatroom token was refused: ${JSON.stringify(roomLogin)}`);
console.log(`client: chatroom ${roomId} links ${links.join(", ")} and its token, through createChatroomProviders`);
const { revokedBefore } = await provider.signOutEverywhere();
if (provider.peek() !== undefined) throw new Error("signOutEverywhere() left a token behind");
// The same session, on another device: refused for good, with no retry.
const other = createTokenProvider({ endpoint: `${base}/v1/token`, getSessionToken: () => process.env.SESSION_JWT });
const refused = await other.getToken().then(() => undefined, (error) => error);
if (refused?.code !== "session_revoked" || !refused.final) throw new Error(`a revoked session still works: ${refused}`);
const seen = await (await fetch(`${emulator}/emulator/accounts/${accid}`)).json();
if (seen.kicks < 1 || seen.blocked) throw new Error(`no kick, or the account was left blocked: ${JSON.stringify(seen)}`);
provider.dispose();
other.dispose();
console.log(`client: signed out everywhere at ${new Date(revokedBefore).toISOString()}; the session is refused, live sessions kicked`);
JS
# The session travels in the environment, not argv, so it stays out of process listings. A uid of
# its own per run: the check signs it out everywhere, and npm start keeps its state between runs.
SESSION_JWT=$(cd "$repo" && npm run -s jwt -- "client-check-$(date +%s)-$RANDOM") node check.mjs "$base" "$emulator"
