#!/usr/bin/env bash
# Memory of a server under crowds of failed logins (issue 12, item 8).
# Usage: DATABASE_URL=postgres://… bash benches/login_memory.sh [binary] [rounds] [crowd]
# Starts the binary on that database, sends `rounds` crowds of `crowd` concurrent logins for
# unknown emails (each checked with argon2 unless throttled), and prints the server's peak and
# current resident memory after each round. The throttle table is emptied between rounds.
set -euo pipefail
binary=${1:-target/release/holdfast}
rounds=${2:-3}
crowd=${3:-500}
port=18111
: "${DATABASE_URL:?set DATABASE_URL to a database the server may migrate}"
HOLDFAST_BIND=127.0.0.1:$port HOLDFAST_JWT_SECRET=login-memory-bench-secret-0123456789ab \
  "$binary" serve >/tmp/login-memory.log 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
  curl -sf "localhost:$port/readyz" >/dev/null && break
  sleep 1
done
pid=$(pgrep -P "$server" holdfast || echo "$server")
grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr '\n' ' '; echo "(idle)"
for round in $(seq 1 "$rounds"); do
  psql "$DATABASE_URL" -qc "DELETE FROM login_failures" >/dev/null
  seq 1 "$crowd" | xargs -P "$crowd" -I{} curl -s -o /dev/null -w '%{http_code}\n' \
    -X POST "localhost:$port/v1/auth/login" -H 'content-type: application/json' \
    -d '{"email":"guess{}@nowhere.test","password":"wrong-password-{}"}' | sort | uniq -c | tr '\n' ' '
  grep -E 'VmHWM|VmRSS' "/proc/$pid/status" | tr '\n' ' '; echo "(round $round)"
done
