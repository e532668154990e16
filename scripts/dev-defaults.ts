/**
 * The development values `npm start` writes to `.dev.vars` on its first run. They live here, not in
 * `.dev.vars.example`, because the Deploy to Cloudflare button offers every entry of that file as a
 * deployment's secret: a published admin token there would be one click from production. Each secret
 * carries `PUBLISHED_MARK` (src/core/published.ts), so a Worker outside local development refuses it
 * whatever a deployer copies; test/node/dev-vars.test.ts checks that it is so. Each also ends in
 * this machine's own random part, so that even a Worker deliberately switched to local development
 * opens to no token or key printed anywhere. ACCID_SECRET alone is fixed: it grants nothing, and the
 * docs' examples print the accids it derives.
 */

/** 16 random hex digits (Web Crypto: the tests read these values inside workerd too). */
const randomHex = () =>
  Array.from(crypto.getRandomValues(new Uint8Array(8)), (byte) => byte.toString(16).padStart(2, "0")).join("");

/** `.dev.vars` as `npm start` first writes it: two NetEase apps against the emulator, every secret published. */
export function devVarsText(random: string = randomHex()): string {
  return `# DEVELOPMENT-ONLY VALUES, written by \`npm start\` (scripts/dev-defaults.ts). A Worker outside local
# development refuses every one of them. Edit this file freely; delete it for new ones.
# docs/configuration.md describes each setting.

# Two NetEase apps from one deployment (docs/apps.md): China (cn, the home app that /v1/token serves)
# and Singapore (sg). Each entry names its secrets' bindings, set below. \`npm start\` points each
# entry without an apiBase at the CommsEase emulator it starts, which serves both apps with these keys.
NIM_APPS='[{"name":"cn","appKey":"devappkey0123456789abcdef0123456","secret":"NIM_APP_SECRET","rtcPermSecret":"NERTC_PERM_SECRET"},{"name":"sg","appKey":"devappkeysg3456789abcdef01234567","region":"sg","apiVersion":"v2","secret":"NIM_APP_SECRET_SG","rtcPermSecret":"NERTC_PERM_SECRET_SG"}]'
NIM_APP_SECRET=dev-app-secret-NOT-FOR-PRODUCTION-${random}
NIM_APP_SECRET_SG=dev-sg-app-secret-NOT-FOR-PRODUCTION-${random}

# \`npm run jwt -- <uid>\` signs development session JWTs with this key.
SESSION_JWT_SECRET=dev-session-secret-NOT-FOR-PRODUCTION-${random}
ACCID_SECRET=dev-accid-secret-NOT-FOR-PRODUCTION-0123456789

# The emulator checks the permission keys sent to /emulator/rtc/join with them.
NERTC_PERM_SECRET=dev-nertc-perm-secret-NOT-FOR-PRODUCTION-${random}
NERTC_PERM_SECRET_SG=dev-sg-nertc-perm-secret-NOT-FOR-PRODUCTION-${random}

# docs/admin.md's examples read this development token from here.
ADMIN_TOKEN=dev-admin-token-NOT-FOR-PRODUCTION-${random}
`;
}
