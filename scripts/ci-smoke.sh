#!/usr/bin/env bash
# Runs scripts/smoke.sh against the locally started service (npm start), and checks that it fails,
# naming the check, against a session signed with the wrong secret and against a stopped server.
set -euo pipefail
cd "$(dirname "$0")/.."

port=${PORT:-8787}
base="http://127.0.0.1:$port"
log=$(mktemp)
# Its own session and process group: background jobs of a script ignore SIGINT, so the service is
# stopped with SIGTERM to the whole group (scripts/dev.ts then stops wrangler and the emulator).
setsid npm start >"$log" 2>&1 &
server=$!
stop() {
  kill -TERM -- "-$server" 2>/dev/null || true
  # Wait for the whole group, not only npm (which exits at once): scripts/dev.ts is still stopping
  # wrangler, which lives in a group of its own, and must not be killed half-way through that.
  for _ in $(seq 1 40); do kill -0 -- "-$server" 2>/dev/null || break; sleep 0.5; done
  kill -KILL -- "-$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap stop EXIT

for _ in $(seq 1 60); do
  curl -sf "$base/healthz" >/dev/null 2>&1 && break
  sleep 1
done
curl -sf "$base/healthz" >/dev/null || { echo "npm start did not serve within 60 s:"; cat "$log"; exit 1; }

passed=0
expect_smoke() { # expect_smoke <pass|fail> <check named on failure> <jwt>
  local want=$1 check=$2 out rc=0
  out=$(SMOKE_SESSION_JWT=$3 sh scripts/smoke.sh "$base" 2>&1) || rc=$?
  printf '%s\n' "$out" | sed 's/^/  /'
  if [ "$want" = pass ] && [ "$rc" -eq 0 ]; then passed=$((passed + 1)); return; fi
  if [ "$want" = fail ] && [ "$rc" -ne 0 ] && printf '%s\n' "$out" | grep -q "^not ok - $check:"; then passed=$((passed + 1)); return; fi
  echo "smoke: expected to $want${check:+ at '$check'}, exit code $rc"
  exit 1
}

echo "smoke against npm start:"
expect_smoke pass "" "$(npm run -s jwt -- ci-smoke-user)"
echo "client package installed into a scratch app, against npm start:"
bash scripts/client-check.sh "$base" "http://127.0.0.1:${EMULATOR_PORT:-8788}" | sed 's/^/  /'
passed=$((passed + 1))
echo "operator console in Chromium against npm start:"
npm run -s test:console -- "$base" | sed 's/^/  /'
passed=$((passed + 1))
echo "README and docs/ examples against npm start:"
npm run -s readme:check | sed 's/^/  /'
passed=$((passed + 1))
echo "smoke with a session signed by the wrong secret (must fail):"
wrong=$(node --input-type=module -e 'const { SignJWT } = await import("jose");
console.log(await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("x").setExpirationTime("5m")
  .sign(new TextEncoder().encode("not-the-development-secret-0123456789")));')
expect_smoke fail "token with session" "$wrong"
stop
trap - EXIT
echo "smoke against a stopped server (must fail):"
expect_smoke fail "healthz" "$(npm run -s jwt -- ci-smoke-user)"
echo "a 100,000-row file import across a restart of npm start:"
npm run -s import:restart-check | sed 's/^/  /'
passed=$((passed + 1))
echo "smoke: $passed passed, 0 failed"
