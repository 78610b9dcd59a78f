#!/usr/bin/env bash
# Property-based API testing: schemathesis reads /api/openapi.json from the debug binary
# (built by `cargo test --workspace`) running on SQLite in a temporary directory, and sends
# generated valid and invalid requests to every documented operation, the staff API included
# (with an admin API token made through the real login and account pages). It fails on any
# 5xx, on a status, content type, header or body the document does not declare, and on an
# invalid request that is accepted.
#
# Usage: .ci/schemathesis.sh [max examples per operation, default 50]
set -euo pipefail
cd "$(dirname "$0")/.."

EXAMPLES="${1:-${SCHEMATHESIS_MAX_EXAMPLES:-50}}"
BIN="${MADOGUCHI_BIN:-target/debug/madoguchi}"
[ -x "$BIN" ] || { echo "no $BIN: run cargo build (or cargo test --workspace) first" >&2; exit 1; }
# The CLI through the python3 that pip installed it for, whatever is on PATH.
st() { python3 -c 'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "st"; sys.exit(schemathesis())' "$@"; }
st --version >/dev/null 2>&1 || { echo "schemathesis is not installed (pip install schemathesis)" >&2; exit 1; }

DIR="$(mktemp -d "${TMPDIR:-/tmp}/madoguchi-schemathesis.XXXXXX")"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$DIR"
}
trap cleanup EXIT

# Embedded defaults (SQLite and mail files in $DIR); the intake limit is off so that every
# generated request reaches the filing code (the limit's 429 is tested in tests/e2e/limits.rs).
export MADOGUCHI_DATA_DIR="$DIR"
export MADOGUCHI_LISTEN="127.0.0.1:$PORT"
export MADOGUCHI_INTAKE_PER_IP_PER_HOUR=0
export RUST_LOG="${RUST_LOG:-warn}"
unset DATABASE_URL MADOGUCHI_CONFIG

"$BIN" migrate >/dev/null
PASSWORD="$("$BIN" user add --email schemathesis@example.jp --name schemathesis --role admin \
    | sed -n 's/^one-time password: //p')"
[ -n "$PASSWORD" ] || { echo "could not create the staff account" >&2; exit 1; }

"$BIN" serve >"$DIR/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    sleep 0.1
done
curl -fsS "$BASE/readyz" >/dev/null

# An API token, the way a person makes one: log in, open the account page, create it there.
JAR="$DIR/cookies"
LOGIN_CSRF="$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/staff/login" \
    | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
[ -n "$LOGIN_CSRF" ] || { echo "no CSRF token on the login page" >&2; exit 1; }
curl -fsS -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf=$LOGIN_CSRF" \
    --data-urlencode "email=schemathesis@example.jp" --data-urlencode "password=$PASSWORD" \
    --data-urlencode "next=/staff" "$BASE/staff/login"
# The handed-over password is replaced first, as every new account must.
PW_CSRF="$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/staff/account/password" \
    | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
[ -n "$PW_CSRF" ] || { echo "not logged in: no CSRF token on the password page" >&2; exit 1; }
curl -fsS -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf=$PW_CSRF" \
    --data-urlencode "current_password=$PASSWORD" \
    --data-urlencode "new_password=$PASSWORD-replaced" \
    --data-urlencode "confirm_password=$PASSWORD-replaced" "$BASE/staff/account/password"
CSRF="$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/staff/account" \
    | sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' | head -1)"
[ -n "$CSRF" ] || { echo "not logged in: no CSRF token on the account page" >&2; exit 1; }
TOKEN="$(curl -fsS -c "$JAR" -b "$JAR" --data-urlencode "csrf=$CSRF" \
    --data-urlencode "label=schemathesis" --data-urlencode "role=admin" \
    "$BASE/staff/account/tokens" | sed -n 's/.*<code>\([^<]*\)<\/code>.*/\1/p' | head -1)"
[ -n "$TOKEN" ] || { echo "no API token on the account page" >&2; exit 1; }

# Requests filed through the API, so that the staff operations on one request meet a real
# one (the config pins `pid` to it) instead of answering 404 to every generated id.
PID=""
for i in 1 2 3; do
    PID="$(curl -fsS -H 'content-type: application/json' "$BASE/api/v1/requests" --data \
        "{\"kind\":\"disclosure\",\"requester\":\"subject\",\"subject_name\":\"山田 太郎\",\"subject_kana\":\"ヤマダ タロウ\",\"email\":\"seed$i@example.jp\",\"delivery\":\"electronic\",\"details\":\"会員情報\",\"consent\":true,\"lang\":\"ja\"}" \
        | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
done
cat >"$DIR/schemathesis.toml" <<TOML
[parameters]
"path.pid" = "$PID"
TOML

echo "schemathesis $(st --version | awk '{print $NF}') against $BASE/api/openapi.json, $EXAMPLES examples per operation"
START=$(date +%s)
STATUS=0
# From inside $DIR, so schemathesis's own cache (.schemathesis/) goes away with it.
(cd "$DIR" && st --config-file "$DIR/schemathesis.toml" run "$BASE/api/openapi.json" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "$EXAMPLES" \
    --seed "${SCHEMATHESIS_SEED:-20261122}" \
    --workers 2 \
    --request-timeout 10 \
    --header "Authorization: Bearer $TOKEN" \
    --suppress-health-check too_slow \
    --no-color) || STATUS=$?
echo "schemathesis took $(( $(date +%s) - START )) s"
if [ "$STATUS" -ne 0 ]; then
    echo "== server log (last 50 lines)" >&2
    tail -50 "$DIR/server.log" >&2
fi
exit "$STATUS"
