#!/usr/bin/env bash
# Two builds side by side in one run: `peer`, `throughput` (SQLite and MariaDB)
# and `latency` alternating between them, so both see the same minutes of this
# machine.
#
#   scripts/bench_ab.sh OLD_DIR NEW_DIR [PEER_RUNS [LATENCY_RUNS [THROUGHPUT_RUNS]]]
#
# Each DIR holds a release `wdpost` and `wdpost-bench` (e.g. copies of
# .build/release from two checkouts). Prints each run's `scenario=` line
# under a `== SCENARIO BUILD run N` heading.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ $# -ge 2 ] || { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'; exit 2; }
old=$1 new=$2 peer_runs=${3:-3} latency_runs=${4:-2} throughput_runs=${5:-2}
for dir in "$old" "$new"; do
    [ -x "$dir/wdpost" ] && [ -x "$dir/wdpost-bench" ] || { echo "bench_ab.sh: no wdpost and wdpost-bench in $dir" >&2; exit 2; }
done
one() {
    local scenario=$1 dir=$2; shift 2
    WDPOST_BIN=$dir/wdpost WDPOST_BENCH_BIN=$dir/wdpost-bench scripts/bench.sh "$scenario" "$@" --no-build 2>/dev/null | grep '^scenario='
}
for i in $(seq "$peer_runs"); do
    for dir in "$old" "$new"; do
        echo "== peer $dir run $i"
        one peer "$dir" --jobs 10000 --concurrent 32 --runs 1
    done
done
for i in $(seq "$throughput_runs"); do
    for db in sqlite mysql; do
        for dir in "$old" "$new"; do
            echo "== throughput-$db $dir run $i"
            one throughput "$dir" --db "$db" --jobs 20000 --concurrent 32 --runs 1
        done
    done
done
for i in $(seq "$latency_runs"); do
    for dir in "$old" "$new"; do
        echo "== latency $dir run $i"
        one latency "$dir" --runs 3
    done
done
