#!/usr/bin/env bash
# How fast the console's pages are served at demo size (issue 15: p95 under 50 ms).
# Usage: DATABASE_URL=postgres://… bash benches/console_pages.sh [binary] [requests]
# Starts `serve --demo` on that database (created and migrated as needed), signs in through the
# form as each kind of user, then asks each page `requests` times in a row (one client, the
# whole page: session lookup, the services' queries, rendering) and prints p50, p95 and max
# per page, in milliseconds, as curl measured them (time to the last byte).
set -euo pipefail
binary=${1:-target/release/holdfast}
requests=${2:-300}
port=18112
base="http://127.0.0.1:$port"
: "${DATABASE_URL:?set DATABASE_URL to a database the demo may load}"
HOLDFAST_BIND=127.0.0.1:$port "$binary" serve --demo >/tmp/console-pages.log 2>&1 &
server=$!
jar=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$jar"' EXIT
for _ in $(seq 1 120); do
  curl -sf "$base/readyz" >/dev/null && break
  sleep 1
done

sign_in() { # email → cookie jar file
  local file="$jar/$1"
  local form
  form=$(curl -s -c "$file" "$base/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
  curl -s -b "$file" -c "$file" -o /dev/null \
    --data-urlencode "csrf=$form" --data-urlencode "email=$1" \
    --data-urlencode "password=holdfast-demo-2026" "$base/login"
  echo "$file"
}

measure() { # jar, path
  local times
  times=$(for _ in $(seq 1 "$requests"); do
    curl -s -b "$1" -o /dev/null -w '%{http_code} %{time_total}\n' "$base$2"
  done)
  if echo "$times" | grep -qv '^200 '; then
    echo "$2: not every answer was 200: $(echo "$times" | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' ')" >&2
    exit 1
  fi
  echo "$times" | awk '{print $2 * 1000}' | sort -n | awk -v page="$2" '
    { v[NR] = $1 }
    END { printf "%-12s p50 %6.1f ms   p95 %6.1f ms   max %6.1f ms   (%d requests)\n",
          page, v[int(NR * 0.50)], v[int(NR * 0.95)], v[NR], NR }'
}

lender=$(sign_in owner@lender.demo.holdfast)
staff=$(sign_in staff@warehouse.demo.holdfast)
supplier=$(sign_in owner@supplier.demo.holdfast)
buyer=$(sign_in owner@buyer.demo.holdfast)
admin=$(sign_in owner@platform.demo.holdfast)
measure "$staff" /scan
measure "$lender" /dashboard
measure "$lender" /approvals
measure "$lender" /loans
measure "$supplier" /lots
measure "$supplier" /loans
measure "$supplier" /market
measure "$buyer" /market
measure "$buyer" /sales
measure "$admin" /admin
