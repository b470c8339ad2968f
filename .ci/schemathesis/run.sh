#!/usr/bin/env bash
# Schemathesis (pinned, in its own virtual environment) against a Holdfast started here with
# the demo world: all checks, once as the platform owner and once as a supplier owner.
# Exits non-zero on any failure. Usage: .ci/schemathesis/run.sh [path/to/holdfast]
# One worker: CPython 3.11's ast module is not safe when hypothesis describes strategies from
# two threads at once ("AST constructor recursion depth mismatch", seen in CI).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
binary="${1:-$root/target/debug/holdfast}"
version="4.32.5"
venv="${HOLDFAST_SCHEMATHESIS_VENV:-$root/target/schemathesis-venv}"
# requirements.txt pins schemathesis and everything it pulls in (hypothesis included).
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
# Without DATABASE_URL the binary starts its own PostgreSQL under HOLDFAST_DATA_DIR.
env -u DATABASE_URL HOLDFAST_BIND="127.0.0.1:$port" HOLDFAST_DATA_DIR="$work/data" \
  "$binary" serve --demo >"$work/server.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null || true; rm -rf "$work"' EXIT
base="http://127.0.0.1:$port"
for _ in $(seq 1 120); do
  curl -sf "$base/readyz" >/dev/null 2>&1 && break
  kill -0 $server 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 1
done
status=0
for who in owner@platform.demo.holdfast owner@supplier.demo.holdfast; do
  token="$(curl -sf "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$who\",\"password\":\"holdfast-demo-2026\"}" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')"
  echo "schemathesis: as $who"
  (cd "$here" && HOLDFAST_TOKEN="$token" SCHEMATHESIS_HOOKS=hooks "$venv/bin/schemathesis" \
    --config-file "$here/schemathesis.toml" run "$base/openapi.json" \
    --checks all --seed 1 --workers 1 --no-color \
    --phases examples,coverage,fuzzing) || status=1
done
exit $status
