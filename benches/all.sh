#!/usr/bin/env bash
# Runs every bench of docs/benchmarks.md in one go — each with its pgbench ceiling in the same
# run — and prints the summary table with the date and the disk's fsync rate.
#
#   bash benches/all.sh            # full size (about 25 minutes on the standard machine)
#   QUICK=1 bash benches/all.sh    # a smaller, shorter run, to check the script
#
# The logs of each bench stay in target/bench-logs/ for the details.
set -euo pipefail
cd "$(dirname "$0")/.."
logs=target/bench-logs
mkdir -p "$logs"

if [[ "${QUICK:-}" == 1 ]]; then
    full=(env BENCH_LOTS=100000 BENCH_LOANS=10000 BENCH_READS=20)
    settle=(env BENCH_SALES=5000 BENCH_SECONDS=5)
    scans=(env BENCH_SECONDS=5 BENCH_LOTS=30000)
    market=(env BENCH_LISTINGS=20000 BENCH_READS=40 BENCH_BID_SECONDS=5)
else
    full=(env)
    settle=(env)
    scans=(env)
    market=(env)
fi

echo "building the benches…" >&2
cargo bench --no-run --bench revaluation --bench settlement --bench receive_scans --bench market >/dev/null 2>&1

# The disk's commit rate today: one 8 kB write and fdatasync, as PostgreSQL's WAL does.
fsync_rate="unknown"
tool=$(ls /usr/lib/postgresql/*/bin/pg_test_fsync 2>/dev/null | tail -1 || true)
if [[ -n "$tool" ]]; then
    "$tool" -s 2 -f "$logs/fsync.test" >"$logs/fsync.log" 2>&1 || true
    fsync_rate=$(awk '/fdatasync/ && /ops\/sec/ {print $2; exit}' "$logs/fsync.log")
    rm -f "$logs/fsync.test"
fi

run() { # name, env prefix..., then cargo bench arguments
    local name=$1
    shift
    echo "running $name…" >&2
    "$@" >"$logs/$name.log" 2>&1 || {
        echo "$name failed; see $logs/$name.log" >&2
        tail -20 "$logs/$name.log" >&2
        exit 1
    }
}

run exposure-small env BENCH_LOTS=100000 BENCH_LOANS=10000 BENCH_SIDE_LOANS=0 cargo bench --bench revaluation
run revaluation "${full[@]}" cargo bench --bench revaluation
run settlement "${settle[@]}" cargo bench --bench settlement
run receive-scans "${scans[@]}" cargo bench --bench receive_scans
run market "${market[@]}" cargo bench --bench market

field() { # file, line pattern, awk program on the matching line
    grep -a -m1 -E "$2" "$logs/$1.log" | awk "$3"
}

read_line='^GET /v1/exposure \('
first_line='^GET /v1/exposure, the first read'
loans_small=$(field exposure-small "$read_line" '{gsub(/[()]/, "", $3); print $3}')
small_p50=$(field exposure-small "$read_line" '{print $(NF-4)}')
small_p99=$(field exposure-small "$read_line" '{print $(NF-1)}')
small_first=$(field exposure-small "$first_line" '{print $10}')
loans_full=$(field revaluation "$read_line" '{gsub(/[()]/, "", $3); print $3}')
full_p50=$(field revaluation "$read_line" '{print $(NF-4)}')
full_p99=$(field revaluation "$read_line" '{print $(NF-1)}')
full_first=$(field revaluation "$first_line" '{print $10}')
side_line='^GET /v1/exposure \([0-9]+ loans, beside'
side_first_line='^GET /v1/exposure, beside the full book, reads in turn, its first read'
loans_side=$(field revaluation "$side_line" '{gsub(/[()]/, "", $3); print $3}')
side_p50=$(field revaluation "$side_line" '{print $(NF-4)}')
side_p99=$(field revaluation "$side_line" '{print $(NF-1)}')
side_first=$(field revaluation "$side_first_line" '{print $(NF-10)}')
stress=$(field revaluation '^POST /v1/exposure/stress' '{print $(NF-1)}')
reval=$(field revaluation '^revaluation median' '{print $3}')
bare=$(field revaluation '^revaluation median' '{print $8}')
reval_ratio=$(field revaluation '^revaluation median' '{gsub(/,/, "", $11); print $11}')
reval_rss=$(field revaluation '^server peak RSS' '{print $4}')
small_rss=$(field exposure-small '^server peak RSS' '{print $4}')

level() { # file, clients: "per-second p99"
    grep -a -E "^holdfast  clients= *$2 " "$logs/$1.log" | tail -1 |
        sed -E 's/.* ([0-9.]+) [a-z]+\/s +p50= *([0-9.]+) ms +p99= *([0-9.]+) ms.*/\1 \3/'
}
read -r settle_rate settle_p99 < <(level settlement 32)
read -r settle_one settle_one_p99 < <(level settlement 1)
pgbench_line() { # file, nth pgbench line at 32 clients: "per-second p99"
    grep -a -E '^pgbench   clients=32' "$logs/$1.log" | sed -n "$2p" |
        sed -E 's/.* ([0-9.]+) tx\/s +p50= *([0-9.]+) ms +p99= *([0-9.]+) ms.*/\1 \3/'
}
read -r settle_pgbench settle_pgbench_p99 < <(pgbench_line settlement 1)
settle_ratio=$(field settlement '^ratio at 32 clients' '{print $5}')
settle_rss=$(field settlement '^server peak RSS' '{print $4}')

read -r scan_rate scan_p99 < <(level receive-scans 32)
read -r scan_one scan_one_p99 < <(level receive-scans 1)
scan_line=$(grep -a -m1 '^ratio at 32 clients' "$logs/receive-scans.log")
scan_ratio=$(echo "$scan_line" | awk '{print $5}')
scan_pgbench=$(echo "$scan_line" | sed -E 's/.*ceiling \(([0-9]+) tx\/s\).*/\1/')
read -r _ scan_pgbench_p99 < <(pgbench_line receive-scans 1)
read -r _ scan_min_p99 < <(pgbench_line receive-scans 2)
scan_min_ratio=$(echo "$scan_line" | sed -E 's/.*, ([0-9.]+) of the two-statement minimum.*/\1/')
scan_min=$(echo "$scan_line" | sed -E 's/.*minimum \(([0-9]+) tx\/s\).*/\1/')
scan_rss=$(field receive-scans '^server peak RSS' '{print $4}')
search_line=$(grep -a -m1 '^GET /v1/listings over' "$logs/market.log")
listings=$(echo "$search_line" | awk '{print $4}')
search_p50=$(echo "$search_line" | awk '{print $(NF-4)}')
search_p99=$(echo "$search_line" | awk '{print $(NF-1)}')
market_rss=$(field market '^server peak RSS' '{print $4}')
bid_line=$(grep -a -m1 '^bids on one auction' "$logs/market.log")
bidders=$(echo "$bid_line" | awk '{print $5}')
bids_judged=$(echo "$bid_line" | sed -E 's/.*: ([0-9.]+) judged\/s.*/\1/')
bids_placed=$(echo "$bid_line" | sed -E 's/.*\(([0-9.]+) placed\/s.*/\1/')
bids_p50=$(echo "$bid_line" | sed -E 's/.*p50 ([0-9.]+) ms.*/\1/')
bids_p99=$(echo "$bid_line" | sed -E 's/.*p99 ([0-9.]+) ms.*/\1/')

cat <<TABLE

Run of $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc) cores; fdatasync of one 8 kB write (pg_test_fsync): ${fsync_rate} ops/s.

| Work | Holdfast | Ceiling in the same run | Ratio | Target |
|---|---|---|---|---|
| \`GET /v1/exposure\`, ${loans_small} loans | p50 ${small_p50} ms, p99 ${small_p99} ms (after an untimed first read of ${small_first} ms) | — | — | p99 ≤ 50 ms |
| \`GET /v1/exposure\`, ${loans_full} loans | p50 ${full_p50} ms, p99 ${full_p99} ms (after an untimed first read of ${full_first} ms) | — | — | p99 ≤ 50 ms, no slower than the smaller book read in turn with it |
| \`GET /v1/exposure\`, ${loans_side} loans beside the ${loans_full}-loan book, the two read in turn | p50 ${side_p50} ms, p99 ${side_p99} ms (after an untimed first read of ${side_first} ms) | — | — | p99 ≤ 50 ms |
| \`POST /v1/exposure/stress\`, ${loans_full} loans | median ${stress} ms | — | — | ≤ 1,000 ms |
| Revaluation after a price change, ${loans_full} loans | ${reval} s | bare UPDATE of the same rows: ${bare} s | ${reval_ratio} | ≤ 1.5 |
| Settlements, one hot lender, 1 client | ${settle_one}/s, p99 ${settle_one_p99} ms | — | — | — |
| Settlements, one hot lender, 32 clients | ${settle_rate}/s, p99 ${settle_p99} ms | pgbench, same writes: ${settle_pgbench} tx/s, p99 ${settle_pgbench_p99} ms | ${settle_ratio} | ≥ 0.8, p99 ≤ 150 ms |
| Receive scans, 1 client | ${scan_one}/s, p99 ${scan_one_p99} ms | — | — | — |
| Receive scans, 32 clients | ${scan_rate}/s, p99 ${scan_p99} ms | pgbench, the scan's statements: ${scan_pgbench} tx/s, p99 ${scan_pgbench_p99} ms | ${scan_ratio} | ≥ 0.9, p99 ≤ 60 ms |
| Receive scans, 32 clients | ${scan_rate}/s | pgbench, the two-statement minimum: ${scan_min} tx/s, p99 ${scan_min_p99} ms | ${scan_min_ratio} | ≥ 0.2 |
| Listing search (\`GET /v1/listings\`, four searches in turn), ${listings} listings | p50 ${search_p50} ms, p99 ${search_p99} ms | — | — | — |
| Bids on one hot auction, ${bidders} clients | ${bids_judged} judged/s (${bids_placed} placed/s), p50 ${bids_p50} ms, p99 ${bids_p99} ms | — | — | — |
| Server peak RSS | exposure ${small_rss} MB; revaluation ${reval_rss} MB; settlement ${settle_rss} MB; scans ${scan_rss} MB; market ${market_rss} MB | — | — | ≤ 100 MB each |
TABLE
