/**
 * The development values `npm start` writes to `.dev.vars` on its first run. They live here, not in
 * `.dev.vars.example`, because the Deploy to Cloudflare button offers every entry of that file as a
 * deployment's secret: a published admin token there would be one click from production. Each secret
 * below carries `PUBLISHED_MARK` (src/core/published.ts), so a Worker outside local development
 * refuses it whatever a deployer copies; test/node/dev-vars.test.ts checks that it is so.
 */

/** `.dev.vars` as `npm start` first writes it: two NetEase apps against the emulator, every secret published. */
export const DEV_VARS_TEXT = `# DEVELOPMENT-ONLY VALUES, written by \`npm start\` (scripts/dev-defaults.ts). They are public, and a
# Worker outside local development refuses every one of them. Edit this file freely; delete it to get
# these values back. docs/configuration.md describes each setting.

# Two NetEase apps from one deployment (docs/apps.md): China (cn, the home app that /v1/token serves)
# and Singapore (sg). Each entry names its secrets' bindings, set below. \`npm start\` points each
# entry without an apiBase at the CommsEase emulator it starts, which serves both apps with these keys.
NIM_APPS='[{"name":"cn","appKey":"devappkey0123456789abcdef0123456","secret":"NIM_APP_SECRET","rtcPermSecret":"NERTC_PERM_SECRET"},{"name":"sg","appKey":"devappkeysg3456789abcdef01234567","region":"sg","apiVersion":"v2","secret":"NIM_APP_SECRET_SG","rtcPermSecret":"NERTC_PERM_SECRET_SG"}]'
NIM_APP_SECRET=dev-app-secret-NOT-FOR-PRODUCTION
NIM_APP_SECRET_SG=dev-sg-app-secret-NOT-FOR-PRODUCTION

# \`npm run jwt -- <uid>\` signs development session JWTs with this key.
SESSION_JWT_SECRET=dev-session-secret-NOT-FOR-PRODUCTION-0123456789
ACCID_SECRET=dev-accid-secret-NOT-FOR-PRODUCTION-0123456789

# The emulator checks the permission keys sent to /emulator/rtc/join with them.
NERTC_PERM_SECRET=dev-nertc-perm-secret-NOT-FOR-PRODUCTION
NERTC_PERM_SECRET_SG=dev-sg-nertc-perm-secret-NOT-FOR-PRODUCTION

# docs/admin.md's examples use this development token.
ADMIN_TOKEN=dev-admin-token-NOT-FOR-PRODUCTION-0123456789
`;
