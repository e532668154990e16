#!/bin/sh
# Smoke test for a running nim-token-worker: scripts/smoke.sh <base-url>
#
# Needs only POSIX sh, curl and base64. The session JWT comes from SMOKE_SESSION_JWT (never an
# argument, so it stays out of process listings and CI logs). Prints one line per check and exits
# non-zero at the first failure, naming it.
set -u

base=${1:-}
if [ -z "$base" ]; then
  echo "usage: SMOKE_SESSION_JWT=<jwt> $0 <base-url>" >&2
  exit 2
fi
base=${base%/}
if [ -z "${SMOKE_SESSION_JWT:-}" ]; then
  echo "not ok - setup: SMOKE_SESSION_JWT is not set" >&2
  exit 2
fi

tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

pass() { echo "ok - $1"; }
fail() { echo "not ok - $1: $2"; exit 1; }

# request NAME METHOD PATH [curl args...]: sets $status and leaves the body in $tmp/body.
request() {
  name=$1 method=$2 path=$3
  shift 3
  status=$(curl -sS -o "$tmp/body" -w '%{http_code}' --max-time 15 -X "$method" "$@" "$base$path" 2>"$tmp/err") ||
    fail "$name" "no answer from $base$path ($(head -c 200 "$tmp/err"))"
}

# field NAME: a JSON string or number field of $tmp/body (flat objects only, enough for our answers).
field() {
  tr -d '\n' <"$tmp/body" | sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\)\"\\{0,1\\}[,}].*/\\1/p"
}

request "healthz" GET /healthz
[ "$status" = 200 ] || fail "healthz" "expected 200, got $status: $(head -c 300 "$tmp/body")"
pass "healthz answers 200"

request "token without session" POST /v1/token
[ "$status" = 401 ] || fail "token without session" "expected 401, got $status"
grep -q '"error":"missing_session"' "$tmp/body" || fail "token without session" "expected a JSON error missing_session, got $(head -c 200 "$tmp/body")"
pass "token without session is 401 missing_session"

request "token with session" POST /v1/token -H "Authorization: Bearer $SMOKE_SESSION_JWT"
if [ "$status" != 200 ]; then
  fail "token with session" "expected 200, got $status: $(field error) $(field message)"
fi
accid=$(field accid)
token=$(field token)
[ -n "$accid" ] && [ -n "$token" ] || fail "token with session" "answer has no accid or token"
pass "token with session is 200 (accid $accid)"

decoded=$(printf '%s' "$token" | base64 -d 2>/dev/null) || fail "token format" "token is not base64"
printf '%s' "$decoded" >"$tmp/body"
signature=$(field signature)
cur_time=$(field curTime)
ttl=$(field ttl)
printf '%s' "$signature" | grep -Eq '^[0-9a-f]{40}$' || fail "token format" "signature is not 40 lowercase hex digits"
printf '%s' "$cur_time" | grep -Eq '^[0-9]{13}$' || fail "token format" "curTime is not Unix milliseconds"
printf '%s' "$ttl" | grep -Eq '^[0-9]+$' || fail "token format" "ttl is not a whole number"
pass "token decodes to {signature, curTime, ttl}"

now=$(date +%s)
issued=$((cur_time / 1000))
expires=$((issued + ttl))
skew=$((issued - now))
[ "$skew" -le 300 ] && [ "$skew" -ge -300 ] || fail "token expiry" "curTime is ${skew}s from this machine's clock"
[ "$ttl" -ge 1 ] && [ "$ttl" -le 86400 ] || fail "token expiry" "ttl ${ttl}s is outside 1..86400"
[ "$expires" -gt "$now" ] || fail "token expiry" "token is already expired"
pass "token expires in $((expires - now))s"

channel="smoke-check"
request "rtc token" POST /v1/rtc/token -H "Authorization: Bearer $SMOKE_SESSION_JWT" \
  -H "Content-Type: application/json" -d "{\"channelName\":\"$channel\"}"
if [ "$status" != 200 ]; then
  fail "rtc token" "expected 200, got $status: $(field error) $(field message)"
fi
rtc_uid=$(field uid)
rtc_channel=$(field channelName)
rtc_token=$(field token)
printf '%s' "$rtc_uid" | grep -Eq '^[1-9][0-9]{0,15}$' || fail "rtc token" "uid is not a positive integer"
[ "$rtc_channel" = "$channel" ] || fail "rtc token" "channelName is not the one asked for"
decoded=$(printf '%s' "$rtc_token" | base64 -d 2>/dev/null) || fail "rtc token" "token is not base64"
printf '%s' "$decoded" >"$tmp/body"
field signature | grep -Eq '^[0-9a-f]{40}$' || fail "rtc token" "token does not decode to {signature, curTime, ttl}"
pass "rtc token is 200 (uid $rtc_uid) and decodes to {signature, curTime, ttl}"

