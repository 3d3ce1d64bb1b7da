#!/usr/bin/env bash
# wdpost benchmarks: real master and slave processes (release build) on this
# machine, load from wdpost-bench (emulated slaves and admin clients speaking
# the real protocol) and, for `peer`, gearmand with its MySQL queue.
# Every scenario prints one `scenario=NAME key=value …` line on stdout;
# progress and per-run figures go to stderr. See docs/BENCHMARKS.md.
#
#   scripts/bench.sh throughput [--db sqlite|mysql] [--jobs 10000] [--slaves 4] [--runs 3]
#   scripts/bench.sh peer       [--db mysql|sqlite] [--jobs 10000] [--workers 4] [--runs 3]
#   scripts/bench.sh latency    [--db sqlite|mysql] [--jobs 200]
#   scripts/bench.sh scale      [--slaves 1000] [--duration 30]
#   scripts/bench.sh backlog    [--db sqlite|mysql] [--jobs 1000000] [--blocked 0]
#   scripts/bench.sh backlog    --archive N [--db sqlite|mysql] [--sweep-batch unbounded]
#                               (claim latency while the first archive of N finished jobs runs)
#   scripts/bench.sh failover   [--heartbeat-timeout 5s] [--runs 3]
#   scripts/bench.sh kernels    [MERKLE_MIB [N]]   (the C kernels against openssl and numpy: scripts/bench_kernels.sh)
#   scripts/bench.sh statements [--jobs 20000] [--rows 32]  (each MariaDB statement of the job path alone: scripts/bench_statements.sh)
#   scripts/bench.sh all        [--db sqlite|mysql]
#
# WDPOST_BENCH_MARIADB_EXTRA adds options to the throwaway mariadbd's command
# line (e.g. --performance-schema=ON).
# WDPOST_BENCH_DB_EXTRA adds lines to the master's [db] section (e.g.
# "max_connections = 4") to compare pool settings.
#
# Everything started (master, slaves, gearmand, mariadbd, perf) is stopped on
# exit, and the temporary directory removed (--keep keeps it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d' | sed 's/^# \{0,1\}//'
    cat <<'EOF'
Options (each scenario reads those that apply to it):
  --db sqlite|mysql        store of the master (peer defaults to mysql, the others to sqlite)
  --mysql-url URL          mysql://user:pass@host:port/db to use (default: $WDPOST_BENCH_MYSQL_URL,
                           else a throwaway mariadbd is started); its jobs are removed first
  --jobs N                 jobs per run
  --slaves N               real slave processes (throughput), emulated connections (scale)
  --workers N              peer: gearman workers and wdpost slaves
  --concurrent N           slave.concurrent of the real slaves (default 1)
  --batch N                jobs per submit RPC (default 500; backlog 10000)
  --runs N                 repeat and print the median (runs=N)
  --pull-interval DUR      slave.pull_interval of the real slaves (default 10s)
  --duration S             scale: measuring window in seconds (default 30)
  --heartbeat-ms MS        scale: heartbeat interval of the emulated slaves (default 10000)
  --pull-wait-ms MS        scale: long-poll wait of the emulated slaves (default 10000)
  --claims N               backlog: claims timed (default 2000)
  --keep-ready N           backlog: jobs left unfinished for `wdpost list` (default 1000)
  --blocked N              backlog: N jobs of a kind no slave runs, submitted first (ahead of the
                           rest in claim order), which every claim must pass over (default 0)
  --archive N              backlog: instead, N finished jobs past should_archive when the master
                           starts; claims timed while its first archive sweep runs (200000 if 0 given)
  --sweep-batch N|unbounded backlog --archive: rows per sweep batch (the master's 1000 unless given;
                           "unbounded": the whole archive in one transaction, for comparison)
  --heartbeat-timeout DUR  failover: task.heartbeat_timeout (default 5s)
  --heartbeat-interval DUR failover: the slaves' heartbeat_interval (default 1s)
  --retry-interval DUR     failover: task.retry_job_interval (default 0s)
  --log-level LEVEL        WDPOST_LOG_LEVEL of master and slaves (default info, as deployed)
  --perf                   throughput/peer: perf record -g the master during run 1 and print its top symbols
  --no-build               use the binaries in .build/release as they are
  --keep                   keep the temporary directory (configs, logs, databases)
EOF
}

SCENARIO=${1:-}
[ -n "$SCENARIO" ] || { usage >&2; exit 2; }
shift
case "$SCENARIO" in
    -h|--help|help) usage; exit 0 ;;
    # The C kernels against openssl and numpy: no master, no build of the package.
    kernels) exec "$(dirname "$0")/bench_kernels.sh" "$@" ;;
    # Statement by statement on an idle MariaDB: no master, no build of the package.
    statements) exec "$(dirname "$0")/bench_statements.sh" "$@" ;;
    throughput|peer|latency|scale|backlog|failover|all) ;;
    *) echo "bench: unknown scenario $SCENARIO (throughput, peer, latency, scale, backlog, failover, kernels, statements, all)" >&2; exit 2 ;;
esac

DB="" MYSQL_URL=${WDPOST_BENCH_MYSQL_URL:-} JOBS="" SLAVES="" WORKERS="" CONCURRENT=1 BATCH="" RUNS=""
PULL_INTERVAL=10s DURATION="" HEARTBEAT_MS=10000 PULL_WAIT_MS=10000 CLAIMS=2000 KEEP_READY=1000 BLOCKED=0
ARCHIVE="" SWEEP_BATCH=""
HB_TIMEOUT=5s HB_INTERVAL=1s RETRY_INTERVAL=0s LOG_LEVEL=info PERF=0 BUILD=1 KEEP=${WDPOST_BENCH_KEEP:-0}
while [ $# -gt 0 ]; do
    opt=$1
    case "$opt" in
        --perf) PERF=1; shift; continue ;;
        --no-build) BUILD=0; shift; continue ;;
        --keep) KEEP=1; shift; continue ;;
        -h|--help) usage; exit 0 ;;
    esac
    [ $# -ge 2 ] || { echo "bench: $opt needs a value" >&2; exit 2; }
    val=$2
    case "$opt" in
        --db) DB=$val ;;
        --mysql-url) MYSQL_URL=$val ;;
        --jobs) JOBS=$val ;;
        --slaves) SLAVES=$val ;;
        --workers) WORKERS=$val ;;
        --concurrent) CONCURRENT=$val ;;
        --batch) BATCH=$val ;;
        --runs) RUNS=$val ;;
        --pull-interval) PULL_INTERVAL=$val ;;
        --duration) DURATION=$val ;;
        --heartbeat-ms) HEARTBEAT_MS=$val ;;
        --pull-wait-ms) PULL_WAIT_MS=$val ;;
        --claims) CLAIMS=$val ;;
        --keep-ready) KEEP_READY=$val ;;
        --blocked) BLOCKED=$val ;;
        --archive) ARCHIVE=$val ;;
        --sweep-batch) SWEEP_BATCH=$val ;;
        --heartbeat-timeout) HB_TIMEOUT=$val ;;
        --heartbeat-interval) HB_INTERVAL=$val ;;
        --retry-interval) RETRY_INTERVAL=$val ;;
        --log-level) LOG_LEVEL=$val ;;
        *) echo "bench: unknown option $opt (see scripts/bench.sh --help)" >&2; exit 2 ;;
    esac
    shift 2
done
case "${DB:-sqlite}" in sqlite|mysql) ;; *) echo "bench: --db $DB: expected sqlite or mysql" >&2; exit 2 ;; esac
for n in "$JOBS" "$SLAVES" "$WORKERS" "$CONCURRENT" "$BATCH" "$RUNS" "$DURATION" "$HEARTBEAT_MS" "$PULL_WAIT_MS" "$CLAIMS" "$KEEP_READY" "$BLOCKED" "$ARCHIVE"; do
    [[ -z "$n" || "$n" =~ ^[0-9]+$ ]] || { echo "bench: \"$n\" is not a whole number" >&2; exit 2; }
done

[[ -z "$SWEEP_BATCH" || "$SWEEP_BATCH" = unbounded || "$SWEEP_BATCH" =~ ^[1-9][0-9]*$ ]] ||
    { echo "bench: --sweep-batch $SWEEP_BATCH: expected a positive number of rows or unbounded" >&2; exit 2; }

log() { echo "bench: $*" >&2; }
die() { echo "bench: error: $*" >&2; exit 1; }

# ---------------------------------------------------------------- processes

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wdpost-bench.XXXXXX")
PIDS=()        # every background process started here, stopped by cleanup
OUT_DIR=$ROOT/.build/bench

forget_pid() {
    local pid=$1 i
    for i in "${!PIDS[@]}"; do [ "${PIDS[i]}" = "$pid" ] && unset 'PIDS[i]'; done
    PIDS=("${PIDS[@]}")
}

# running PID: the process exists and has not exited (an unreaped child is a zombie, Z).
running() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

# stop_pid PID [SECONDS]: SIGTERM, SIGKILL after SECONDS, then reaps it. Only
# for our own children: their pids cannot be reused before we have waited.
stop_pid() {
    local pid=$1 limit=${2:-20} i
    if running "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < limit * 20; i++)); do
            running "$pid" || break
            sleep 0.05
        done
        if running "$pid"; then
            log "process $pid did not exit within ${limit}s of SIGTERM; killing it"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    # Braces: also silences bash's "Killed" notice for a child killed on purpose.
    { wait "$pid"; } 2>/dev/null || true
    forget_pid "$pid"
}

cleanup() {
    local rc=$? i
    trap - EXIT INT TERM
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do stop_pid "${PIDS[i]}" 30; done
    if [ "$rc" -ne 0 ]; then
        for f in "$WORK"/*/master.log "$WORK"/mariadb/error.log; do
            [ -s "$f" ] || continue
            echo "---- last lines of ${f#"$WORK"/}" >&2
            tail -n 12 "$f" >&2
        done
    fi
    if [ "$KEEP" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for_line FILE TEXT PID [SECONDS]: until FILE has a line with TEXT; dies if PID exits.
wait_for_line() {
    local file=$1 text=$2 pid=$3 limit=${4:-60} i
    for ((i = 0; i < limit * 20; i++)); do
        grep -q -- "$text" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

wait_for_port() {
    local port=$1 pid=$2 i
    for ((i = 0; i < 600; i++)); do
        (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

now_us() { date +%s%6N; }

# getkv LINE KEY: the value of KEY in a key=value line.
getkv() { tr ' ' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -n 1; }

# median V…: the median of numbers ("nan" if none).
median() {
    printf '%s\n' "$@" | grep -E '^[0-9.]+$' | sort -g | awk '
        { a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
joined() { local IFS=,; echo "$*"; }

# ---------------------------------------------------------------- build

BIN=${WDPOST_BIN:-$ROOT/.build/release/wdpost}
BENCH=${WDPOST_BENCH_BIN:-$ROOT/.build/release/wdpost-bench}
if [ "$BUILD" = 1 ] && [ -z "${WDPOST_BIN:-}" ]; then
    log "building (swift build -c release)"
    swift build -c release >"$WORK/build.log" 2>&1 || { tail -n 30 "$WORK/build.log" >&2; die "release build failed"; }
fi
[ -x "$BIN" ] || die "no wdpost binary at $BIN (run swift build -c release)"
[ -x "$BENCH" ] || die "no wdpost-bench binary at $BENCH (run swift build -c release)"

# Thousands of emulated slaves need as many descriptors in the master and in wdpost-bench.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
echo "bench-slave-token-$RANDOM$RANDOM$RANDOM" >"$WORK/slave.token"
echo "bench-admin-token-$RANDOM$RANDOM$RANDOM" >"$WORK/admin.token"
log "work dir $WORK ($(df -T "$WORK" | awk 'NR == 2 { print $2 }') filesystem), $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# ---------------------------------------------------------------- MariaDB

MYSQL_DIR="" MYSQL_PORT="" MYSQL_PASS="" MYSQL_USER="" MYSQL_HOST="" MYSQL_DB="" MYSQL_OWN=0 MYSQL_PID=""

user_option() { if [ "$(id -u)" = 0 ]; then echo "--user=root"; fi; }

mysql_root() { mariadb --no-defaults --protocol=socket -S "$MYSQL_DIR/mysqld.sock" -uroot "$@"; }

# A throwaway mariadbd: own data directory, loopback, a free port, durable
# commits (innodb_flush_log_at_trx_commit=1, the default), user `bench` with
# every privilege.
mariadb_start() {
    local server
    server=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    [ -x "$server" ] && command -v mariadb-install-db >/dev/null ||
        die "mariadbd not found: install mariadb-server (apt-get install mariadb-server)"
    MYSQL_DIR=$WORK/mariadb
    mkdir -p "$MYSQL_DIR"
    MYSQL_PORT=$(free_port)
    MYSQL_PASS=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    MYSQL_USER=bench MYSQL_HOST=127.0.0.1 MYSQL_DB="" MYSQL_OWN=1
    log "starting mariadbd on 127.0.0.1:$MYSQL_PORT"
    # shellcheck disable=SC2046
    mariadb-install-db --no-defaults $(user_option) --datadir="$MYSQL_DIR/data" \
        --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >"$MYSQL_DIR/install.log" 2>&1 ||
        { tail -n 20 "$MYSQL_DIR/install.log" >&2; die "mariadb-install-db failed"; }
    # shellcheck disable=SC2046
    "$server" --no-defaults $(user_option) --datadir="$MYSQL_DIR/data" --socket="$MYSQL_DIR/mysqld.sock" \
        --pid-file="$MYSQL_DIR/mysqld.pid" --bind-address=127.0.0.1 --port="$MYSQL_PORT" --skip-name-resolve \
        --log-error="$MYSQL_DIR/error.log" --skip-log-bin --max-connections=1000 \
        --innodb-buffer-pool-size=512M --innodb-log-file-size=256M ${WDPOST_BENCH_MARIADB_EXTRA:-} >/dev/null 2>&1 </dev/null &
    local pid=$!
    PIDS+=("$pid")
    MYSQL_PID=$pid
    local i
    for ((i = 0; i < 1200; i++)); do
        mysql_root -e "SELECT 1" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { tail -n 20 "$MYSQL_DIR/error.log" >&2; die "mariadbd exited while starting"; }
        sleep 0.05
    done
    mysql_root -e "CREATE USER 'bench'@'%' IDENTIFIED BY '$MYSQL_PASS'; GRANT ALL PRIVILEGES ON *.* TO 'bench'@'%';" ||
        die "cannot create the bench user"
}

# Splits --mysql-url into its parts (the server gearmand's queue uses too).
mysql_parse_url() {
    local url=$1 rest userinfo hostport
    [[ "$url" == mysql://*@*/* ]] || die "--mysql-url $url: expected mysql://user:password@host:port/database"
    rest=${url#mysql://}
    userinfo=${rest%@*}
    rest=${rest##*@}
    hostport=${rest%%/*}
    MYSQL_DB=${rest#*/}
    MYSQL_USER=${userinfo%%:*}
    MYSQL_PASS=${userinfo#*:}
    [ "$MYSQL_PASS" != "$userinfo" ] || MYSQL_PASS=""
    MYSQL_HOST=${hostport%:*}
    MYSQL_PORT=${hostport##*:}
    [ "$MYSQL_PORT" != "$hostport" ] || MYSQL_PORT=3306
}

# Makes a MariaDB server available: the one named by --mysql-url, or our own.
mysql_ensure() {
    [ -n "$MYSQL_HOST" ] && return 0
    if [ -n "$MYSQL_URL" ]; then
        mysql_parse_url "$MYSQL_URL"
        log "using MariaDB at $MYSQL_HOST:$MYSQL_PORT, database $MYSQL_DB (its jobs are removed before each run)"
    else
        mariadb_start
    fi
}

# mysql_url_for NAME: db.url of a fresh database NAME on our server, or --mysql-url.
mysql_url_for() {
    if [ "$MYSQL_OWN" = 1 ]; then
        mysql_root -e "DROP DATABASE IF EXISTS \`$1\`; CREATE DATABASE \`$1\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;"
        MYSQL_RUN_URL="mysql://$MYSQL_USER:$MYSQL_PASS@$MYSQL_HOST:$MYSQL_PORT/$1"
    else
        MYSQL_RUN_URL=$MYSQL_URL
    fi
}

# ---------------------------------------------------------------- cluster

MASTER_PID="" MASTER_ADDR="" METRICS_URL="" SLAVE_PIDS=() LAST_PID="" SERVER_EXTRA=""

# start_master DIR DB [TASK_TOML]: a master on a free port with [metrics] on.
start_master() {
    local dir=$1 db=$2 task=${3:-} url
    mkdir -p "$dir"
    if [ "$db" = mysql ]; then
        mysql_url_for "wdpost_$(basename "$dir" | tr -c 'a-zA-Z0-9\n' _)"
        url=$MYSQL_RUN_URL
    else
        url="sqlite://$dir/wdpost.db"
    fi
    cat >"$dir/master.toml" <<EOF
[server]
name = "bench-master"
listen = "127.0.0.1:0"
token_file = "$WORK/slave.token"
admin_token_file = "$WORK/admin.token"
$SERVER_EXTRA
[db]
url = "$url"
${WDPOST_BENCH_DB_EXTRA:-}
[task]
$task
[metrics]
listen = "127.0.0.1:0"
EOF
    launch_master "$dir"
    if [ "$db" = mysql ] && [ "$MYSQL_OWN" = 0 ]; then
        admin remove-all --really-do-it >/dev/null
    fi
}

# launch_master DIR: the master of DIR/master.toml (again, after stop_cluster).
# WDPOST_BENCH_SWEEP_BATCH, read by the master for this benchmark only, is
# set from --sweep-batch.
launch_master() {
    local dir=$1
    # Gone first: a relaunch must not find the previous master's address line.
    rm -f "$dir/master.out"
    env WDPOST_LOG_LEVEL="$LOG_LEVEL" ${SWEEP_BATCH:+WDPOST_BENCH_SWEEP_BATCH="$SWEEP_BATCH"} \
        "$BIN" master daemon -c "$dir/master.toml" >"$dir/master.out" 2>>"$dir/master.log" &
    MASTER_PID=$!
    PIDS+=("$MASTER_PID")
    if ! wait_for_line "$dir/master.out" "listening on" "$MASTER_PID" 60; then
        [ ! -s "$dir/master.log" ] || tail -n 5 "$dir/master.log" >&2
        if grep -q "supports sqlite:// only" "$dir/master.log"; then
            die "this wdpost build has no MariaDB store yet; use --db sqlite"
        fi
        die "the master did not start (log above)"
    fi
    MASTER_ADDR=$(sed -n 's/^wdpost master listening on //p' "$dir/master.out" | head -n 1)
    METRICS_URL=$(sed -n 's/.*status page on //p' "$dir/master.out" | head -n 1)
}

admin() { "$BIN" "$@" --master "$MASTER_ADDR" --token-file "$WORK/admin.token"; }
bench() { local cmd=$1; shift; "$BENCH" "$cmd" --master "$MASTER_ADDR" "$@"; }

# start_slave DIR NAME [HEARTBEAT_INTERVAL]: a real slave process (noop jobs); pid in LAST_PID.
start_slave() {
    local dir=$1 name=$2 heartbeat=${3:-10s}
    cat >"$dir/$name.toml" <<EOF
[master]
server_addr = "$MASTER_ADDR"
token_file = "$WORK/slave.token"
reconnect_interval = "1s"
heartbeat_interval = "$heartbeat"
[slave]
name = "$name"
concurrent = $CONCURRENT
pull_interval = "$PULL_INTERVAL"
shutdown_grace = "1s"
kinds = ["noop"]
EOF
    WDPOST_LOG_LEVEL=$LOG_LEVEL "$BIN" slave daemon -c "$dir/$name.toml" >"$dir/$name.out" 2>"$dir/$name.log" &
    LAST_PID=$!
    PIDS+=("$LAST_PID")
    SLAVE_PIDS+=("$LAST_PID")
}

stop_cluster() {
    local pid
    # A slave with nothing running exits within its 1 s shutdown_grace; one that
    # hangs on SIGTERM (an old slave did, see docs/BENCHMARKS.md) is killed after 5 s.
    for pid in "${SLAVE_PIDS[@]}"; do stop_pid "$pid" 5; done
    SLAVE_PIDS=()
    [ -n "$MASTER_PID" ] && stop_pid "$MASTER_PID" 30
    MASTER_PID=""
}

# ---------------------------------------------------------------- perf

PERF_PID=""
perf_start() {
    [ "$PERF" = 1 ] || return 0
    command -v perf >/dev/null || { log "perf not installed; --perf ignored"; return 0; }
    perf record -F "${WDPOST_BENCH_PERF_HZ:-999}" -g -p "$MASTER_PID" -o "$1/perf.data" >"$1/perf.log" 2>&1 &
    PERF_PID=$!
    PIDS+=("$PERF_PID")
    sleep 0.5
}

perf_stop() {
    [ -n "$PERF_PID" ] || return 0
    kill -INT "$PERF_PID" 2>/dev/null || true
    wait "$PERF_PID" 2>/dev/null || true
    forget_pid "$PERF_PID"
    PERF_PID=""
    mkdir -p "$OUT_DIR"
    local report=$OUT_DIR/perf-master-$2.txt demangle=cat
    cp "$1/perf.data" "$OUT_DIR/perf-master-$2.data"
    command -v swift >/dev/null && demangle="swift demangle --simplified"
    perf report -i "$1/perf.data" --stdio --no-children --sort symbol --percent-limit 0.5 2>/dev/null | $demangle >"$report" || true
    # Where the time goes by thread (store executor, NIO event loops, …) and by library.
    perf report -i "$1/perf.data" --stdio --no-children --sort comm,dso -g none --percent-limit 1 2>/dev/null >"$report.threads" || true
    # Inclusive time of the master's own functions, to see which request paths cost most.
    perf report -i "$1/perf.data" --stdio --children --sort symbol -g none --percent-limit 2 2>/dev/null | $demangle >"$report.children" || true
    log "perf: master's top symbols (self time; full report $report):"
    grep -E '^ +[0-9.]+%' "$report" | head -n 20 | cut -c1-200 >&2 || true
}

# ---------------------------------------------------------------- scenarios

# Functions that start processes run in this shell (never inside $(…), where
# a failure would leave them running) and hand their result line back here.
RUN_LINE=""

# One throughput run: fresh master and N real slaves; RUN_LINE = wdpost-bench's run-jobs line.
throughput_once() {
    local tag=$1 db=$2 jobs=$3 slaves=$4 dir=$WORK/$1 i
    start_master "$dir" "$db" 'retry_job_interval = "1s"'
    for ((i = 1; i <= slaves; i++)); do start_slave "$dir" "s$i"; done
    bench wait-slaves --admin-token-file "$WORK/admin.token" --count "$slaves"
    perf_start "$dir"
    RUN_LINE=$(bench run-jobs --admin-token-file "$WORK/admin.token" --jobs "$jobs" --batch "${BATCH:-500}" \
        --master-pid "$MASTER_PID" --slave-pids "$(joined "${SLAVE_PIDS[@]}")" ${PERF_PID:+--stop-pid "$PERF_PID"} \
        $([ "$db" = mysql ] && [ -n "$MYSQL_PID" ] && echo --db-pid "$MYSQL_PID"))
    perf_stop "$dir" "$tag"
    PERF=0    # profile the first run only
    stop_cluster
}

scn_throughput() {
    local db=${DB:-sqlite} jobs=${JOBS:-10000} slaves=${SLAVES:-4} runs=${RUNS:-3} r line
    local tput=() p50=() p99=() mcpu=() dcpu=()
    [ "$db" = mysql ] && mysql_ensure
    for ((r = 1; r <= runs; r++)); do
        throughput_once "throughput-$r" "$db" "$jobs" "$slaves"
        line=$RUN_LINE
        log "throughput run $r/$runs: $line"
        tput+=("$(getkv "$line" jobs_per_s)"); p50+=("$(getkv "$line" p50_ms)"); p99+=("$(getkv "$line" p99_ms)")
        mcpu+=("$(getkv "$line" master_cpu_us_per_job)")
        dcpu+=("$(getkv "$line" db_cpu_us_per_job)")
    done
    echo "scenario=throughput db=$db jobs=$jobs slaves=$slaves concurrent=$CONCURRENT batch=${BATCH:-500} runs=$runs" \
        "jobs_per_s=$(median "${tput[@]}") p50_ms=$(median "${p50[@]}") p99_ms=$(median "${p99[@]}")" \
        "master_cpu_us_per_job=$(median "${mcpu[@]}")${dcpu[0]:+ db_cpu_us_per_job=$(median "${dcpu[@]}")}" \
        "jobs_per_s_runs=$(joined "${tput[@]}")"
}

# gearman_once TAG QUEUE JOBS WORKERS: gearmand (mysql or builtin queue) and
# bench_gearman.py; RUN_LINE = its result line.
gearman_once() {
    local tag=$1 queue=$2 jobs=$3 workers=$4 dir=$WORK/$1 port pid args=()
    mkdir -p "$dir"
    port=$(free_port)
    if [ "$queue" = mysql ]; then
        [ "$MYSQL_OWN" = 1 ] && mysql_root -e "CREATE DATABASE IF NOT EXISTS gearman"
        args=(--queue-type=mysql --mysql-host="$MYSQL_HOST" --mysql-port="$MYSQL_PORT" --mysql-user="$MYSQL_USER"
              --mysql-password="$MYSQL_PASS" --mysql-db="${MYSQL_DB:-gearman}" --mysql-table="gearman_bench_$(tr -c 'a-zA-Z0-9\n' _ <<<"$tag")")
    fi
    gearmand --listen=127.0.0.1 --port="$port" --log-file="$dir/gearmand.log" --verbose=WARNING "${args[@]}" \
        >"$dir/gearmand.out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for_port "$port" "$pid" || { cat "$dir/gearmand.out" "$dir/gearmand.log" >&2 2>/dev/null; die "gearmand did not start"; }
    RUN_LINE=$(python3 "$ROOT/scripts/bench_gearman.py" --port "$port" --jobs "$jobs" --workers "$workers") ||
        { tail -n 20 "$dir/gearmand.log" >&2; die "gearman run failed"; }
    stop_pid "$pid" 20
}

scn_peer() {
    command -v gearmand >/dev/null || die "gearmand not found: install gearman-job-server (apt-get install gearman-job-server)"
    command -v python3 >/dev/null || die "python3 is needed for the gearman client"
    local db=${DB:-mysql} jobs=${JOBS:-10000} workers=${WORKERS:-4} runs=${RUNS:-3} r line
    local w=() g=() m=()
    mysql_ensure
    for ((r = 1; r <= runs; r++)); do
        gearman_once "gearman-mysql-$r" mysql "$jobs" "$workers"
        line=$RUN_LINE
        log "peer run $r/$runs gearmand+mysql: $line"
        g+=("$(getkv "$line" jobs_per_s)")
        throughput_once "peer-wdpost-$r" "$db" "$jobs" "$workers"
        line=$RUN_LINE
        log "peer run $r/$runs wdpost ($db): $line"
        w+=("$(getkv "$line" jobs_per_s)")
        gearman_once "gearman-mem-$r" builtin "$jobs" "$workers"
        line=$RUN_LINE
        log "peer run $r/$runs gearmand (no persistence): $line"
        m+=("$(getkv "$line" jobs_per_s)")
    done
    local wm gm
    wm=$(median "${w[@]}") gm=$(median "${g[@]}")
    echo "scenario=peer wdpost_db=$db gearman_queue=mysql jobs=$jobs workers=$workers runs=$runs" \
        "wdpost_jobs_per_s=$wm gearman_jobs_per_s=$gm ratio=$(awk -v a="$wm" -v b="$gm" 'BEGIN { printf "%.2f", a / b }')" \
        "gearman_nopersist_jobs_per_s=$(median "${m[@]}")" \
        "wdpost_runs=$(joined "${w[@]}") gearman_runs=$(joined "${g[@]}")"
}

scn_latency() {
    local db=${DB:-sqlite} jobs=${JOBS:-200} runs=${RUNS:-1} r line p50=() p99=() db50=() db99=()
    [ "$db" = mysql ] && mysql_ensure
    for ((r = 1; r <= runs; r++)); do
        start_master "$WORK/latency-$r" "$db"
        line=$(bench latency --token-file "$WORK/slave.token" --admin-token-file "$WORK/admin.token" --jobs "$jobs")
        stop_cluster
        log "latency run $r/$runs: $line"
        p50+=("$(getkv "$line" p50_ms)"); p99+=("$(getkv "$line" p99_ms)")
        db50+=("$(getkv "$line" db_p50_ms)"); db99+=("$(getkv "$line" db_p99_ms)")
    done
    echo "scenario=latency db=$db jobs=$jobs runs=$runs p50_ms=$(median "${p50[@]}") p99_ms=$(median "${p99[@]}")" \
        "db_p50_ms=$(median "${db50[@]}") db_p99_ms=$(median "${db99[@]}")"
}

scn_scale() {
    local db=${DB:-sqlite} slaves=${SLAVES:-1000} duration=${DURATION:-30} line
    [ "$db" = mysql ] && mysql_ensure
    # The master refuses connections beyond server.max_connections (default 4096).
    [ "$slaves" -lt 4000 ] || SERVER_EXTRA="max_connections = $((slaves + 100))"
    start_master "$WORK/scale" "$db"
    SERVER_EXTRA=""
    line=$(bench slaves --token-file "$WORK/slave.token" --count "$slaves" --duration "$duration" \
        --heartbeat-ms "$HEARTBEAT_MS" --pull-wait-ms "$PULL_WAIT_MS" --master-pid "$MASTER_PID" ${METRICS_URL:+--metrics-url "$METRICS_URL"})
    stop_cluster
    echo "scenario=scale db=$db heartbeat_ms=$HEARTBEAT_MS pull_wait_ms=$PULL_WAIT_MS $line"
}

# backlog --archive N: N jobs submitted and finished under a master whose
# archive sweep is an hour away, READY more left ready; the master restarts
# (as after an upgrade) with archive_job_interval = 3s, emulated slaves claim
# one job at a time throughout, and the claims made while the first archive
# runs (from 3 s after the start to its "archived N finished job(s)" line)
# are timed apart from those before it. longest_tx_ms: the sweep's longest
# batch, queueing to commit, from the master's metrics.
scn_backlog_archive() {
    local db=${DB:-sqlite} n=$ARCHIVE dir=$WORK/archive ready=50000 fill drain line t0 t1 longest moved
    [ "$n" -gt 0 ] || n=200000
    [ "$db" = mysql ] && mysql_ensure
    start_master "$dir" "$db" 'should_archive = "3s"
archive_job_interval = "1h"'
    log "backlog --archive: submitting and finishing $n jobs"
    fill=$(bench fill --admin-token-file "$WORK/admin.token" --jobs "$n" --batch "${BATCH:-10000}")
    log "archive fill: $fill"
    drain=$(bench drain --token-file "$WORK/slave.token" --jobs "$n")
    log "archive drain: $drain"
    fill=$(bench fill --admin-token-file "$WORK/admin.token" --jobs "$ready" --batch "${BATCH:-10000}")
    stop_cluster
    # 3 s after the restart, when the archive begins, every job finished here
    # is past should_archive (3 s) and none the claims below finish is: the
    # sweep's cut-off is taken when it begins.
    sleep 1.1
    sed -i 's/^archive_job_interval = .*/archive_job_interval = "3s"/' "$dir/master.toml"
    log "restarting the master (first archive 3 s after its start, sweep batch ${SWEEP_BATCH:-default})"
    launch_master "$dir"
    t0=$(now_us)
    rm -f "$dir/start" "$dir/until"
    bench claims --token-file "$WORK/slave.token" --connections 4 --count 1000000 --warmup 5 \
        --start-file "$dir/start" --until-file "$dir/until" >"$dir/claims.out" &
    local claims_pid=$!
    PIDS+=("$claims_pid")
    sleep "$(awk -v t="$t0" -v now="$(now_us)" 'BEGIN { d = 3 - (now - t) / 1e6; print (d > 0 ? d : 0) }')"
    touch "$dir/start"
    t0=$(now_us)
    wait_for_line "$dir/master.log" "archived [0-9]* finished job" "$MASTER_PID" 3600 || die "the archive did not finish"
    t1=$(now_us)
    touch "$dir/until"
    wait "$claims_pid" || die "the claims client failed"
    forget_pid "$claims_pid"
    line=$(cat "$dir/claims.out")
    moved=$(sed -n 's/.*archived \([0-9]*\) finished job.*/\1/p' "$dir/master.log" | head -n 1)
    longest=$(curl -fsS "${METRICS_URL%/}/metrics" | sed -n 's/^wdpost_maintenance_longest_batch_seconds{sweep="archive"} //p')
    stop_cluster
    echo "scenario=backlog db=$db archive=$n sweep_batch=${SWEEP_BATCH:-1000} archived=$moved" \
        "archive_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }')" \
        "claims=$(getkv "$line" claims) claim_p50_ms=$(getkv "$line" claim_p50_ms) claim_p99_ms=$(getkv "$line" claim_p99_ms)" \
        "claim_max_ms=$(getkv "$line" claim_max_ms)" \
        "longest_tx_ms=$(awk -v s="${longest:-nan}" 'BEGIN { printf "%.1f", s * 1000 }')" \
        "before_claim_p50_ms=$(getkv "$line" before_claim_p50_ms) before_claim_p99_ms=$(getkv "$line" before_claim_p99_ms)"
}

scn_backlog() {
    if [ -n "$ARCHIVE" ]; then scn_backlog_archive; return; fi
    local db=${DB:-sqlite} jobs=${JOBS:-1000000} dir=$WORK/backlog fill claim drain hist list rows t0 t1 rpc
    [ "$db" = mysql ] && mysql_ensure
    local left=$((CLAIMS + KEEP_READY + 40))
    [ "$jobs" -gt $((left + CLAIMS + 40)) ] || die "backlog: --jobs must exceed 2 × --claims + --keep-ready + 80"
    start_master "$dir" "$db"
    if [ "$BLOCKED" -gt 0 ]; then
        log "backlog: submitting $BLOCKED jobs of a kind no slave runs (claims pass over them)"
        fill=$(bench fill --admin-token-file "$WORK/admin.token" --jobs "$BLOCKED" --batch "${BATCH:-10000}" --kind bench-blocked)
        log "backlog blocked fill: $fill"
    fi
    log "backlog: submitting $jobs jobs in batches of ${BATCH:-10000}"
    fill=$(bench fill --admin-token-file "$WORK/admin.token" --jobs "$jobs" --batch "${BATCH:-10000}")
    log "backlog fill: $fill"
    claim=$(bench claims --token-file "$WORK/slave.token" --count "$CLAIMS")
    log "backlog claims with $jobs ready jobs: $claim"
    log "backlog: finishing all but $left jobs (history for list and claims)"
    drain=$(bench drain --token-file "$WORK/slave.token" --jobs $((jobs - CLAIMS - 20 - left)))
    log "backlog drain: $drain"
    hist=$(bench claims --token-file "$WORK/slave.token" --count "$CLAIMS")
    log "backlog claims with $left ready beside $((jobs - left)) finished: $hist"
    t0=$(now_us)
    admin list >"$dir/list.txt"
    t1=$(now_us)
    rows=$(($(wc -l <"$dir/list.txt") - 1))
    rpc=$(bench list --admin-token-file "$WORK/admin.token")
    stop_cluster
    echo "scenario=backlog db=$db jobs=$jobs blocked=$BLOCKED fill_jobs_per_s=$(getkv "$fill" fill_jobs_per_s)" \
        "claim_p50_ms=$(getkv "$claim" claim_p50_ms) claim_p99_ms=$(getkv "$claim" claim_p99_ms)" \
        "drain_jobs_per_s=$(getkv "$drain" drain_jobs_per_s)" \
        "hist_claim_p50_ms=$(getkv "$hist" claim_p50_ms) hist_claim_p99_ms=$(getkv "$hist" claim_p99_ms)" \
        "list_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e6 }') list_rows=$rows" \
        "list_rpc_s=$(getkv "$rpc" list_rpc_s)"
}

scn_failover() {
    local db=${DB:-sqlite} runs=${RUNS:-3} dir=$WORK/failover r line a b vals=()
    [ "$db" = mysql ] && mysql_ensure
    start_master "$dir" "$db" "heartbeat_timeout = \"$HB_TIMEOUT\"
retry_job_interval = \"$RETRY_INTERVAL\"
max_retry = 3"
    for ((r = 1; r <= runs; r++)); do
        start_slave "$dir" "fa$r" "$HB_INTERVAL"; a=$LAST_PID
        start_slave "$dir" "fb$r" "$HB_INTERVAL"; b=$LAST_PID
        {
            line=$(bench failover --admin-token-file "$WORK/admin.token" --slave-pids "fa$r=$a,fb$r=$b" 2>&3)
            # Reap the slave killed on purpose while stderr is off: no "Killed" notice from bash.
            running "$a" || { wait "$a" || true; forget_pid "$a"; }
            running "$b" || { wait "$b" || true; forget_pid "$b"; }
        } 3>&2 2>/dev/null
        log "failover run $r/$runs: $line"
        vals+=("$(getkv "$line" failover_s)")
        stop_pid "$a" 10; stop_pid "$b" 10
        SLAVE_PIDS=()
    done
    stop_cluster
    local target
    target=$(awk -v t="$HB_TIMEOUT" 'BEGIN { n = t + 0; if (t ~ /ms$/) n /= 1000; else if (t ~ /m$/) n *= 60; printf "%.3f", n + 1 }')
    echo "scenario=failover db=$db heartbeat_timeout=$HB_TIMEOUT heartbeat_interval=$HB_INTERVAL retry_job_interval=$RETRY_INTERVAL" \
        "runs=$runs failover_s=$(median "${vals[@]}") target_s=$target failover_s_runs=$(joined "${vals[@]}")"
}

scn_all() {
    local db=${DB:-sqlite}
    # Moderate sizes: the whole set takes a few minutes on a 2-core machine.
    JOBS=5000 SLAVES=4 RUNS=3 DB=$db scn_throughput
    JOBS=3000 WORKERS=4 RUNS=3 DB=$db scn_peer
    JOBS=200 RUNS=1 DB=$db scn_latency
    SLAVES=1000 DURATION=20 DB=$db scn_scale
    JOBS=100000 DB=$db scn_backlog
    RUNS=3 DB=$db scn_failover
}

case "$SCENARIO" in
    throughput) scn_throughput ;;
    peer) scn_peer ;;
    latency) scn_latency ;;
    scale) scn_scale ;;
    backlog) scn_backlog ;;
    failover) scn_failover ;;
    all) scn_all ;;
    *) echo "bench: unknown scenario $SCENARIO (throughput, peer, latency, scale, backlog, failover, kernels, statements, all)" >&2; exit 2 ;;
esac
exit 0
