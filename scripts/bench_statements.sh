#!/usr/bin/env bash
# What each statement of the MariaDB job path costs the server, one at a time
# on an otherwise idle server: the shapes MariaDBStore sends (submit INSERT,
# candidate read, lock, claim UPDATE, finish UPDATE) on a table of --jobs
# ready jobs, --rows rows each, run back to back by mariadb-slap (text
# protocol; the master prepares them, so parsing is a little dearer here).
# `throughput` shows what a whole run costs; this shows which statement and
# which part of it (rows, the claim index's moves, the round trip) a change
# would have to make cheaper, with less of the noise of a loaded box (runs of
# one setting still differ by 10-20 %).
#
#   scripts/bench.sh statements [--jobs 20000] [--rows 32] [--runs 3]
#
# Prints one `statement=NAME us_per_exec=… us_per_row=…` line per statement
# and a closing `scenario=statements …` line. us_per_row takes off the
# round trip (`select1`) or, for statements run in a transaction that is
# rolled back, the empty transaction (`begin_rollback`); rolling back a
# write undoes it, so a write's figure includes its undo.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

JOBS=20000 ROWS=32 RUNS=3
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) JOBS=$2; shift 2 ;;
        --rows) ROWS=$2; shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "bench statements: unknown option $1 (--jobs, --rows, --runs)" >&2; exit 2 ;;
    esac
done
for n in "$JOBS" "$ROWS" "$RUNS"; do
    case "$n" in ''|*[!0-9]*|0) echo "bench statements: expected a positive integer, got '$n'" >&2; exit 2 ;; esac
done
[ "$JOBS" -ge $((ROWS * 5)) ] || { echo "bench statements: --jobs must be at least 5 × --rows" >&2; exit 2; }
command -v mariadb-slap >/dev/null || { echo "bench statements: mariadb-slap not found (apt-get install mariadb-client)" >&2; exit 1; }

eval "$(scripts/mariadb.sh start)"
trap 'scripts/mariadb.sh stop "$WDPOST_TEST_MYSQL_DIR" >/dev/null 2>&1 || true' EXIT
# mysql://user:password@host:port/database
url=${WDPOST_TEST_MYSQL_URL#mysql://}
user=${url%%:*}; rest=${url#*:}; password=${rest%%@*}; rest=${rest#*@}
host=${rest%%:*}; rest=${rest#*:}; port=${rest%%/*}; database=${rest#*/}
client=(-u"$user" -p"$password" -h"$host" -P"$port")
sql() { mariadb "${client[@]}" "$database" -N -B -e "$1"; }

# The schema as a master creates it, and JOBS ready noop jobs in submit
# order (which is claim order here). Ids are 11 characters,
# spread like the master's random ones.
mariadb "${client[@]}" "$database" < deploy/mariadb-schema.sql
sql "INSERT INTO jobs (id, kind, state, partitions, deadline_at, input, max_try, created_at, error)
     SELECT SUBSTR(MD5(seq), 1, 11), 'noop', 'ReadyToRun', '', 9223372036854775807, '{\"sleep_ms\": 0}', 3,
            1700000000000000 + seq, '' FROM seq_1_to_$JOBS;
     ANALYZE TABLE jobs;" >/dev/null
# Ids as quoted lists, in claim order: first what the other batch in flight
# has claimed (still ready to this read, which leaves them out by its NOT IN
# as in a busy master), then the head this claim gets, then jobs made Running
# (for the finish).
ids() { sql "SET SESSION group_concat_max_len = 1048576; SELECT GROUP_CONCAT(CONCAT('''', id, '''') ORDER BY seq) FROM (SELECT id, seq FROM jobs ORDER BY seq LIMIT $1 OFFSET $2) t"; }
inflight=$(ids $((ROWS * 2)) 0)
head=$(ids "$ROWS" $((ROWS * 2)))
running=$(ids "$ROWS" $((ROWS * 3)))
sql "UPDATE jobs SET state = 'Running', lease = seq, worker = 'w1', started_at = 1, heartbeat_at = 1 WHERE id IN ($running)"
# CASE id WHEN … arms, as the store's batch writes carry them.
arms() { echo "$1" | tr ',' '\n' | awk -v v="$2" '{ printf "WHEN %s THEN %s ", $0, v }'; }
columns="id, kind, state, miner_id, deadline_idx, partitions, priority, deadline_at, unique_key, input, output, try_num, max_try, lease, worker, not_before, created_at, started_at, heartbeat_at, finished_at, error, pin"
ready="state = 'ReadyToRun' AND kind = 'noop' AND not_before <= 5 AND (pin = '' OR pin IN ('w1', 'w2'))"
order="ORDER BY deadline_at, priority DESC, created_at, seq"
inserts=$(seq 1 "$ROWS" | awk '{ printf "%s(\x27x%010d\x27, \x27noop\x27, \x27ReadyToRun\x27, \x27\x27, 9223372036854775807, \x27{}\x27, 3, 1800000000000000, \x27\x27)", (NR > 1 ? ", " : ""), NR }')

# name, statements (';'-separated), the baseline it is measured against (or -)
shapes=(
    "select1|SELECT 1|-"
    "begin_rollback|START TRANSACTION;ROLLBACK|-"
    "insert|START TRANSACTION;INSERT INTO jobs (id, kind, state, partitions, deadline_at, input, max_try, created_at, error) VALUES $inserts;ROLLBACK|begin_rollback"
    "candidate_read|SELECT $columns FROM jobs WHERE $ready AND id NOT IN ($inflight) $order LIMIT $((ROWS + 2)) OFFSET 0|select1"
    "candidate_read_no_inflight|SELECT $columns FROM jobs WHERE $ready $order LIMIT $((ROWS + 2)) OFFSET 0|select1"
    "candidate_ids|SELECT id FROM jobs WHERE $ready AND id NOT IN ($inflight) $order LIMIT $((ROWS + 2)) OFFSET 0|select1"
    "lock|START TRANSACTION;SELECT id, try_num FROM jobs FORCE INDEX (PRIMARY) WHERE id IN ($head) AND state = 'ReadyToRun' AND not_before <= 5 FOR UPDATE SKIP LOCKED;ROLLBACK|begin_rollback"
    "claim_update|START TRANSACTION;UPDATE jobs FORCE INDEX (PRIMARY) SET state = 'Running', try_num = try_num + 1, lease = CASE id $(arms "$head" 7) END, worker = CASE id $(arms "$head" "'w1'") END, started_at = 5, heartbeat_at = 5, finished_at = 0 WHERE id IN ($head) AND state = 'ReadyToRun';ROLLBACK|begin_rollback"
    "claim_update_same_state|START TRANSACTION;UPDATE jobs FORCE INDEX (PRIMARY) SET try_num = try_num + 1, lease = CASE id $(arms "$head" 7) END, worker = CASE id $(arms "$head" "'w1'") END, started_at = 5, heartbeat_at = 5, finished_at = 0 WHERE id IN ($head) AND state = 'ReadyToRun';ROLLBACK|begin_rollback"
    "finish_update|START TRANSACTION;UPDATE jobs FORCE INDEX (PRIMARY) SET state = 'Succeed', finished_at = 9, error = '', output = CASE id $(arms "$running" "'{}'") END WHERE id IN ($running) AND state = 'Running' AND lease = seq;ROLLBACK|begin_rollback"
)

declare -A per_exec
summary=""
for shape in "${shapes[@]}"; do
    IFS='|' read -r name statements base <<<"$shape"
    count=$(awk -F';' '{ print NF }' <<<"$statements")
    execs=2000
    # mariadb-slap's average over its iterations, in seconds for all queries.
    out=$(mariadb-slap "${client[@]}" --create-schema="$database" --concurrency=1 --iterations="$RUNS" \
        --number-of-queries=$((execs * count)) --delimiter=';' --query="$statements" 2>&1) \
        || { echo "bench statements: $name failed: $out" >&2; exit 1; }
    # It exits 0 after a failed statement, saying so on stderr.
    if grep -q "Cannot run query" <<<"$out"; then echo "bench statements: $name failed: $out" >&2; exit 1; fi
    seconds=$(awk '/Average number of seconds/ { print $(NF-1) }' <<<"$out")
    [ -n "$seconds" ] || { echo "bench statements: $name: no timing in mariadb-slap's output: $out" >&2; exit 1; }
    us=$(awk -v s="$seconds" -v n="$execs" 'BEGIN { printf "%.1f", s * 1e6 / n }')
    per_exec[$name]=$us
    line="statement=$name us_per_exec=$us"
    if [ "$base" != "-" ]; then
        per_row=$(awk -v a="$us" -v b="${per_exec[$base]}" -v r="$ROWS" 'BEGIN { printf "%.2f", (a - b) / r }')
        line+=" us_per_row=$per_row"
        summary+=" ${name}_us_per_row=$per_row"
    fi
    echo "$line"
done
echo "scenario=statements jobs=$JOBS rows=$ROWS runs=$RUNS select1_us=${per_exec[select1]}$summary"
