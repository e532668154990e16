/**
 * The token provider every SDK example uses, as docs/clients.md shows it. Compiled against the
 * client package's source by `npm run typecheck` (examples/sdk/tsconfig.json).
 */

// docs:start provider
import { createTokenProvider, TokenProviderError } from "nim-token-worker-client";

const tokens = createTokenProvider({
  endpoint: "https://tokens.example.com/v1/token",
  // Your app's session JWT; with forceRefresh, get a new one from your backend.
  getSessionToken: ({ forceRefresh }) => auth.getIdToken(forceRefresh),
});
await tokens.prefetch(); // right after sign-in
// on sign-out: tokens.clear();

/** "Sign out of all devices": every session of this user signed in to until now stops working. */
async function signOutOfAllDevices(): Promise<void> {
  await tokens.signOutEverywhere(); // then behaves as after clear(), even if it throws
  await backend.endSessions(); // and at the provider (Firebase: revokeRefreshTokens(uid)), so none refreshes
  await auth.signOut();
}
// docs:end provider

/** Your app's own sign-in, whatever it is (Firebase's shape here). */
declare const auth: { getIdToken(forceRefresh: boolean): Promise<string>; signOut(): Promise<void> };
/** Your backend's call that ends the user's sessions at the identity provider. */
declare const backend: { endSessions(): Promise<void> };

export { signOutOfAllDevices, TokenProviderError, tokens };
