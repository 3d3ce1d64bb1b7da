#!/usr/bin/env bash
# Chaos test: a real MariaDB, two masters sharing its database, four slaves
# (two per master), noop jobs of 10–200 ms, 5% of them failing their first
# attempt (fail_tries 1). While they run it SIGKILLs a random slave every few
# seconds and starts it again, SIGKILLs one master and starts it again (same
# port), restarts MariaDB once, and stops one slave with SIGSTOP for longer
# than heartbeat_timeout while it holds running jobs, then SIGCONTs it: that
# slave's late results must be refused as stale. At the end it prints
#
#   jobs=N succeed=N failed=N lost=N accepted_twice=N stale_refused=N
#
# and exits 0 only if every job succeeded, none is lost, no job's success was
# accepted twice, and the stopped slave's late result was refused. See docs/CHAOS.md.
#
#   scripts/chaos.sh [--jobs N] [--seconds S] [--short] [--seed N]
#
# --jobs N     jobs to submit (default 2000; --short: 300)
# --seconds S  length of the fault window; submissions are spread over its
#              first 85% (default 60; --short: 24)
# --short      the test suite's form: fewer jobs, shorter window, every fault kind
# --seed N     random seed (job sizes, fault times and victims); printed on each run
#
# WDPOST_BIN: the wdpost binary to use (otherwise `swift build -c release` builds one).
# WDPOST_TEST_MYSQL_URL + WDPOST_TEST_MYSQL_DIR (from scripts/mariadb.sh): use that
#   server (a fresh database venus-cluster-wdpost-chaos-*, dropped at the end; the
#   server is restarted once, as the test needs); otherwise a throwaway server is
#   started with scripts/mariadb.sh and stopped at the end.
# WDPOST_CHAOS_KEEP=1: keep the run directory (configs, logs) even on success.
set -euo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

JOBS="" WINDOW_S="" SHORT=0 SEED=""
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) JOBS=${2:?--jobs needs a number}; shift 2 ;;
        --seconds) WINDOW_S=${2:?--seconds needs a number}; shift 2 ;;
        --short) SHORT=1; shift ;;
        --seed) SEED=${2:?--seed needs a number}; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) echo "chaos.sh: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done
if [ "$SHORT" = 1 ]; then : "${JOBS:=300}" "${WINDOW_S:=24}"; else : "${JOBS:=2000}" "${WINDOW_S:=60}"; fi
: "${SEED:=$(( $(date +%s) % 100000 ))}"
for v in JOBS WINDOW_S SEED; do
    [[ ${!v} =~ ^[0-9]+$ ]] || { echo "chaos.sh: ${v,,} must be a whole number, got ${!v}" >&2; exit 2; }
done
[ "$JOBS" -ge 20 ] || { echo "chaos.sh: --jobs must be at least 20" >&2; exit 2; }
[ "$WINDOW_S" -ge 15 ] || { echo "chaos.sh: --seconds must be at least 15 (every fault needs room)" >&2; exit 2; }
RANDOM=$SEED

# The cluster's timing. heartbeat_timeout is short so killed and stopped
# slaves' jobs come back quickly; max_retry is far above what the faults can
# use up (a job fails at most once by design, and each fault costs a try).
HB_TIMEOUT_S=2
# The stopped slave wakes as soon as a master has given one of its jobs to a
# slave again, so its late result meets the job running under a newer lease
# (the case a lease fence exists for), but never before heartbeat_timeout +
# 0.2 s and at the latest after STOP_MAX_MS.
STOP_MIN_MS=$(( HB_TIMEOUT_S * 1000 + 200 ))
STOP_MAX_MS=$(( HB_TIMEOUT_S * 1000 * 4 ))
SLAVE_CONCURRENT=3
MAX_RETRY=10
KILL_EVERY_MS=(2500 4500) # a slave SIGKILL every 2.5–4.5 s…
SLAVE_DOWN_MS=(300 1500)  # …each down 0.3–1.5 s before it starts again
MASTER_DOWN_MS=1000
FAIL_PERCENT=5
DRAIN_TIMEOUT_S=$(( WINDOW_S * 3 > 180 ? WINDOW_S * 3 : 180 ))

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then export PATH=/opt/swift/usr/bin:$PATH; fi

# ---------------------------------------------------------------- state + cleanup
WORK=$(mktemp -d "${TMPDIR:-/tmp}/wdpost-chaos.XXXXXX")
LOGS=$WORK/logs
mkdir -p "$LOGS"
declare -A PID=() RUNS=() RESTART_AT=() MASTER_OF=() PORT=()
OWN_DB=0 DBDIR="" DB_CREATED=0 DB_PID="" RESULT=1
SLAVES=(s1 s2 s3 s4)
MASTERS=(master-a master-b)

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    for name in "${!PID[@]}"; do
        [ -n "${PID[$name]}" ] || continue
        kill -CONT "${PID[$name]}" 2>/dev/null
        kill -KILL "${PID[$name]}" 2>/dev/null
    done
    for name in "${!PID[@]}"; do [ -n "${PID[$name]}" ] && wait "${PID[$name]}" 2>/dev/null; done
    # A database restart under way finishes first: the server is not ours to leave half-started.
    [ -n "$DB_PID" ] && wait "$DB_PID" 2>/dev/null
    if [ "$OWN_DB" = 1 ]; then
        "$ROOT/scripts/mariadb.sh" stop "$DBDIR" 2>/dev/null
    elif [ "$DB_CREATED" = 1 ]; then
        sql "DROP DATABASE IF EXISTS \`$DBNAME\`" 2>/dev/null
    fi
    if [ "$rc" = 0 ] && [ "$RESULT" = 0 ] && [ "${WDPOST_CHAOS_KEEP:-}" != 1 ]; then
        rm -rf "$WORK"
    else
        echo "chaos: run directory kept: $WORK (logs in $LOGS)" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { local t=${EPOCHREALTIME//[.,]/}; NOW=$(( t / 1000 )); }
now; START=$NOW
say() { now; local ms=$(( NOW - START )); printf 'chaos: [%4d.%ds] %s\n' $(( ms / 1000 )) $(( ms % 1000 / 100 )) "$*"; }
die() { say "FAILED: $*" >&2; exit 1; }
rand_ms() { local span=$(( $2 - $1 + 1 )); echo $(( $1 + (RANDOM * 32768 + RANDOM) % span )); }

# ---------------------------------------------------------------- binary + database
if [ -n "${WDPOST_BIN:-}" ]; then
    BIN=$WDPOST_BIN
else
    say "building the release binary (swift build -c release)"
    (cd "$ROOT" && swift build -c release >"$LOGS/build.log" 2>&1) || { tail -n 30 "$LOGS/build.log" >&2; die "swift build -c release failed"; }
    BIN=$ROOT/.build/release/wdpost
fi
[ -x "$BIN" ] || die "no wdpost binary at $BIN"

if [ -z "${WDPOST_TEST_MYSQL_URL:-}" ]; then
    say "starting a throwaway MariaDB (scripts/mariadb.sh start)"
    env_lines=$("$ROOT/scripts/mariadb.sh" start 2>"$LOGS/mariadb-start.log") || { cat "$LOGS/mariadb-start.log" >&2; die "scripts/mariadb.sh start failed"; }
    eval "$env_lines"
    OWN_DB=1
else
    [ -n "${WDPOST_TEST_MYSQL_DIR:-}" ] && [ -d "$WDPOST_TEST_MYSQL_DIR" ] \
        || die "WDPOST_TEST_MYSQL_URL is set but WDPOST_TEST_MYSQL_DIR is not a directory: the chaos test restarts the server with scripts/mariadb.sh restart, which needs it (eval \"\$(scripts/mariadb.sh start)\" sets both)"
fi
DBDIR=$WDPOST_TEST_MYSQL_DIR
BASE_URL=$WDPOST_TEST_MYSQL_URL
[[ $BASE_URL =~ ^mysql://([^:@/]+):([^@/]*)@([^:/]+):([0-9]+)/([^/?]+)$ ]] \
    || die "WDPOST_TEST_MYSQL_URL: expected mysql://user:password@host:port/database"
DB_USER=${BASH_REMATCH[1]} DB_PASS_RAW=${BASH_REMATCH[2]} DB_HOST=${BASH_REMATCH[3]} DB_PORT=${BASH_REMATCH[4]}
DB_PASS=$(printf '%b' "${DB_PASS_RAW//%/\\x}")
DBNAME="${BASH_REMATCH[5]}-chaos-$$-$SEED"
DB_URL="mysql://$DB_USER:$DB_PASS_RAW@$DB_HOST:$DB_PORT/$DBNAME"
sql() { MYSQL_PWD=$DB_PASS mariadb --no-defaults --protocol=tcp -h "$DB_HOST" -P "$DB_PORT" -u "$DB_USER" -N -B -e "$1"; }
sql "CREATE DATABASE \`$DBNAME\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" || die "cannot create database $DBNAME"
DB_CREATED=1

# ---------------------------------------------------------------- cluster
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/slave.token"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/admin.token"

write_master_config() { # name port
    cat >"$WORK/$1.toml" <<EOF
[server]
name = "$1"
listen = "127.0.0.1:$2"
token_file = "slave.token"
admin_token_file = "admin.token"
[db]
url = "$DB_URL"
[task]
heartbeat_timeout = "${HB_TIMEOUT_S}s"
retry_job_interval = "200ms"
max_retry = $MAX_RETRY
EOF
}

alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }
current_log() { echo "$LOGS/$1-${RUNS[$1]}.log"; }

start_master() { # name; waits for its "listening" line, then pins the port it got in its config
    local name=$1 log port=""
    RUNS[$name]=$(( ${RUNS[$name]:-0} + 1 ))
    log=$(current_log "$name")
    "$BIN" master daemon -c "$WORK/$name.toml" >"$log" 2>&1 </dev/null &
    PID[$name]=$!
    for _ in $(seq 1 600); do
        port=$(grep -m1 -o 'wdpost master listening on .*' "$log" 2>/dev/null | sed 's/.*://') || true
        [ -n "$port" ] && break
        alive "$name" || { tail -n 20 "$log" >&2; die "$name exited while starting"; }
        sleep 0.1
    done
    [ -n "$port" ] || die "$name did not say it was listening within 60 s"
    write_master_config "$name" "$port"
    PORT[$name]=$port
}

start_slave() { # name
    local name=$1 master=${MASTER_OF[$1]}
    RUNS[$name]=$(( ${RUNS[$name]:-0} + 1 ))
    cat >"$WORK/$name.toml" <<EOF
[master]
server_addr = "127.0.0.1:${PORT[$master]}"
token_file = "slave.token"
reconnect_interval = "200ms"
heartbeat_interval = "300ms"
[slave]
name = "$name"
concurrent = $SLAVE_CONCURRENT
pull_interval = "1s"
shutdown_grace = "1s"
kinds = ["noop"]
data_path = "$WORK"
EOF
    "$BIN" slave daemon -c "$WORK/$name.toml" >"$(current_log "$name")" 2>&1 </dev/null &
    PID[$name]=$!
    RESTART_AT[$name]=""
}

sigkill() { # name
    kill -KILL "${PID[$1]}" 2>/dev/null || true
    wait "${PID[$1]}" 2>/dev/null || true
    PID[$1]=""
}

say "seed $SEED; $JOBS jobs; ${WINDOW_S}s of faults; binary $BIN; database $DBNAME; run directory $WORK"
for m in "${MASTERS[@]}"; do write_master_config "$m" 0; start_master "$m"; done
MASTER_OF=([s1]=master-a [s2]=master-a [s3]=master-b [s4]=master-b)
for s in "${SLAVES[@]}"; do start_slave "$s"; done
say "masters on ports ${PORT[master-a]} and ${PORT[master-b]}; slaves s1 s2 -> master-a, s3 s4 -> master-b"

# ---------------------------------------------------------------- the jobs
# Each job draws its own sleep_ms (10–200); exactly FAIL_PERCENT% carry
# fail_tries 1. Jobs with equal inputs go in one `wdpost submit --count`, and
# those calls, in random order, are spread over the first 85% of the window.
FAILING=$(( (JOBS * FAIL_PERCENT + 50) / 100 ))
awk -v n="$JOBS" -v f="$FAILING" -v seed="$SEED" 'BEGIN {
    srand(seed)
    for (i = 0; i < n; i++) { s = 10 + int(rand() * 191); c[s " " (i < f ? 1 : 0)]++ }
    for (k in c) printf "%.12f %d %s\n", rand(), c[k], k
}' | sort -n | cut -d' ' -f2- >"$WORK/plan"
mapfile -t PLAN <"$WORK/plan"
: >"$WORK/ids"
: >"$WORK/ids-failing"
SUBMIT_ERRORS=0

submit_call() { # index master; appends the new ids; returns non-zero if the call failed
    local count sleep fail input out
    read -r count sleep fail <<<"${PLAN[$1]}"
    input="{\"sleep_ms\": $sleep}"
    if [ "$fail" = 1 ]; then input="{\"sleep_ms\": $sleep, \"fail_tries\": 1}"; fi
    if ! out=$("$BIN" submit -c "$WORK/$2.toml" --kind noop --input "$input" --count "$count" 2>>"$LOGS/submit-errors.log"); then
        return 1
    fi
    [ "$(printf '%s\n' "$out" | grep -c .)" = "$count" ] || { echo "submit printed: $out" >>"$LOGS/submit-errors.log"; return 1; }
    printf '%s\n' "$out" >>"$WORK/ids"
    [ "$fail" = 1 ] && printf '%s\n' "$out" >>"$WORK/ids-failing"
    return 0
}

# ---------------------------------------------------------------- fault schedule
# Fault times are fractions of the window; each waits for the one before it to
# be over, so the stopped slave's episode sees both masters and the database up.
WINDOW_MS=$(( WINDOW_S * 1000 ))
SUBMIT_MS=$(( WINDOW_MS * 85 / 100 ))
now; T0=$NOW
END_AT=$(( T0 + WINDOW_MS ))
NEXT_SUBMIT=0
NEXT_KILL=$(( T0 + $(rand_ms "${KILL_EVERY_MS[@]}") ))
MASTER_KILL_AT=$(( T0 + WINDOW_MS * 20 / 100 ))
MASTER_DOWN="" MASTER_RESTART_AT=0 MASTER_KILLED=0
DB_RESTART_AT=$(( T0 + WINDOW_MS * 40 / 100 ))
DB_RESTARTED=0
STOP_AT=$(( T0 + WINDOW_MS * 58 / 100 ))
EP_STATE=idle EP_VICTIM="" EP_ROUND=0 EP_TRIES=0 EP_STOPPED_AT=0 EP_RESOLVE_BY=0 EP_OK=0
declare -a EP_HELD=()
declare -A EP_LEASE=() EP_TRY=()
SLAVE_KILLS=0
STALE_DETAIL=""

# Jobs a slave's current log shows started and not yet done/failed/aborted.
held_jobs() {
    awk '/job started/ { if (match($0, /job=[^ ]+/)) held[substr($0, RSTART + 4, RLENGTH - 4)] = 1 }
         /job done|job failed|job aborted/ { if (match($0, /job=[^ ]+/)) delete held[substr($0, RSTART + 4, RLENGTH - 4)] }
         END { for (j in held) print j }' "$(current_log "$1")"
}
all_master_logs() { local m r; for m in "${MASTERS[@]}"; do for r in $(seq 1 "${RUNS[$m]}"); do echo "$LOGS/$m-$r.log"; done; done; }
# The last claim line of job $1 by worker $2, from the master logs.
last_claim() {
    local f
    for f in $(all_master_logs); do grep -h "job=$1 " "$f" | grep "worker=$2 " | grep "job claimed" || true; done | tail -n 1
}
# Its lease and its try.
claimed_lease() { last_claim "$1" "$2" | grep -o 'lease=[0-9-]*' | cut -d= -f2; }
claimed_try() { last_claim "$1" "$2" | grep -o 'try=[0-9]*' | cut -d= -f2; }

episode_begin() {
    local candidates=() s
    for s in "${SLAVES[@]}"; do alive "$s" && [ -z "${RESTART_AT[$s]}" ] && candidates+=("$s"); done
    [ ${#candidates[@]} -gt 0 ] || return 0
    EP_VICTIM=${candidates[$(( RANDOM % ${#candidates[@]} ))]}
    kill -STOP "${PID[$EP_VICTIM]}"
    # Stopped, its log is final: what it has started and not finished is held.
    mapfile -t EP_HELD < <(held_jobs "$EP_VICTIM")
    EP_TRIES=$(( EP_TRIES + 1 ))
    if [ ${#EP_HELD[@]} -eq 0 ]; then
        kill -CONT "${PID[$EP_VICTIM]}"
        [ "$EP_TRIES" -lt 200 ] || die "no slave was ever caught holding a running job to stop"
        STOP_AT=$(( NOW + 150 ))
        return 0
    fi
    EP_LEASE=() EP_TRY=()
    local j
    for j in "${EP_HELD[@]}"; do
        EP_LEASE[$j]=$(claimed_lease "$j" "$EP_VICTIM")
        EP_TRY[$j]=$(claimed_try "$j" "$EP_VICTIM")
    done
    EP_STATE=stopped
    EP_ROUND=$(( EP_ROUND + 1 ))
    EP_STOPPED_AT=$NOW
    say "SIGSTOP $EP_VICTIM (of ${MASTER_OF[$EP_VICTIM]}) holding ${#EP_HELD[@]} running job(s): ${EP_HELD[*]}"
}

# Outcome of each held job after SIGCONT: refused (the slave logged the stale
# refusal for the old lease and the master logged refusing it), aborted (the
# first heartbeat after waking told the slave to drop it, so no result was
# sent), accepted (the master recorded the old lease's result: the bug this
# looks for), or open.
episode_outcomes() {
    local j lease log refused=0 aborted=0 accepted=0 open=0 detail=""
    log=$(current_log "$EP_VICTIM")
    for j in "${EP_HELD[@]}"; do
        lease=${EP_LEASE[$j]}
        [ -n "$lease" ] || { open=$(( open + 1 )); detail+=" $j:no-claim-line"; continue; }
        if [ -n "$lease" ] && cat $(all_master_logs) | grep "finish accepted" | grep -q "job=$j lease=$lease "; then
            accepted=$(( accepted + 1 )); detail+=" $j:ACCEPTED"
        elif grep "master refused a stale result" "$log" | grep -q "job=$j ${lease:+lease=$lease }"; then
            if cat $(all_master_logs) | grep "stale finish refused" | grep "job=$j " | grep -q "worker=$EP_VICTIM "; then
                refused=$(( refused + 1 )); detail+=" $j:refused"
            else
                open=$(( open + 1 ))
            fi
        elif grep "job aborted" "$log" | grep -q "job=$j "; then
            aborted=$(( aborted + 1 )); detail+=" $j:aborted"
        else
            open=$(( open + 1 ))
        fi
    done
    echo "$refused $aborted $accepted $open$detail"
}

episode_step() {
    case $EP_STATE in
        idle)
            [ "$NOW" -ge "$STOP_AT" ] || return 0
            # Alone: no database restart or master down while the slave is stopped.
            if [ -n "$DB_PID" ] || [ -n "$MASTER_DOWN" ]; then return 0; fi
            episode_begin ;;
        stopped)
            [ "$NOW" -ge $(( EP_STOPPED_AT + STOP_MIN_MS )) ] || return 0
            # Watched closely from here: the job runs again for only 10–200 ms.
            local j why="" logs
            logs="$(current_log master-a) $(current_log master-b)"
            while [ -z "$why" ] && [ "$NOW" -lt $(( EP_STOPPED_AT + STOP_MAX_MS )) ]; do
                for j in "${EP_HELD[@]}"; do
                    # Claimed again: a claim with a later try than the stopped
                    # slave's (an earlier try, run elsewhere before the job came
                    # to this slave, does not count).
                    # shellcheck disable=SC2086
                    if grep -h -F "job=$j " $logs | grep "job claimed" | grep -o 'try=[0-9]*' | cut -d= -f2 |
                        awk -v mine="${EP_TRY[$j]:-0}" '$1 > mine { found = 1 } END { exit !found }'; then
                        why="$j was claimed again"; break
                    fi
                done
                [ -n "$why" ] || { sleep 0.01; now; }
            done
            kill -CONT "${PID[$EP_VICTIM]}"
            say "SIGCONT $EP_VICTIM after $(( (NOW - EP_STOPPED_AT) / 100 ))00ms stopped (heartbeat_timeout ${HB_TIMEOUT_S}s; ${why:-no held job claimed again yet})"
            EP_STATE=resumed
            EP_RESOLVE_BY=$(( NOW + 20000 )) ;;
        resumed)
            local refused aborted accepted open detail
            read -r refused aborted accepted open detail <<<"$(episode_outcomes)"
            [ "$open" -gt 0 ] && [ "$NOW" -lt "$EP_RESOLVE_BY" ] && return 0
            STALE_DETAIL="round $EP_ROUND, $EP_VICTIM: refused=$refused aborted=$aborted accepted=$accepted unresolved=$open ($detail)"
            say "stopped slave's late results: $STALE_DETAIL"
            if [ "$accepted" -eq 0 ] && [ "$open" -eq 0 ] && [ "$refused" -ge 1 ]; then
                EP_OK=1 EP_STATE=done
            elif [ "$accepted" -eq 0 ] && [ "$open" -eq 0 ] && [ "$EP_ROUND" -lt 3 ]; then
                # Every held job was aborted by the first heartbeat, so no late
                # result reached a master: nothing was checked. Stop a slave again.
                say "no late result was sent (all aborted first); stopping a slave again"
                EP_STATE=idle STOP_AT=$(( NOW + 500 ))
            else
                EP_STATE=done
            fi ;;
    esac
}

say "chaos window starts: ${#PLAN[@]} submit calls over $(( SUBMIT_MS / 1000 ))s; slave SIGKILLs every $(( KILL_EVERY_MS[0] / 1000 )).$(( KILL_EVERY_MS[0] % 1000 / 100 ))-$(( KILL_EVERY_MS[1] / 1000 )).$(( KILL_EVERY_MS[1] % 1000 / 100 ))s"
while :; do
    now
    # Slaves and the master due to start again.
    for s in "${SLAVES[@]}"; do
        if [ -n "${RESTART_AT[$s]}" ] && [ "$NOW" -ge "${RESTART_AT[$s]}" ]; then start_slave "$s"; fi
    done
    if [ -n "$MASTER_DOWN" ] && [ "$NOW" -ge "$MASTER_RESTART_AT" ]; then
        start_master "$MASTER_DOWN"
        say "$MASTER_DOWN started again on port ${PORT[$MASTER_DOWN]}"
        MASTER_DOWN=""
    fi
    # The database restart, running in the background.
    if [ -n "$DB_PID" ] && ! kill -0 "$DB_PID" 2>/dev/null; then
        wait "$DB_PID" || { cat "$LOGS/mariadb-restart.log" >&2; DB_PID=""; die "scripts/mariadb.sh restart failed"; }
        DB_PID=""
        say "MariaDB is back"
    fi
    # Submissions due (none while the database restarts: an answer lost there
    # would leave jobs whose ids we never learned).
    while [ "$NEXT_SUBMIT" -lt ${#PLAN[@]} ] && [ -z "$DB_PID" ] \
            && [ "$NOW" -ge $(( T0 + NEXT_SUBMIT * SUBMIT_MS / ${#PLAN[@]} )) ]; do
        target=${MASTERS[$(( NEXT_SUBMIT % 2 ))]}
        [ "$target" = "$MASTER_DOWN" ] && target=${MASTERS[$(( (NEXT_SUBMIT + 1) % 2 ))]}
        if submit_call "$NEXT_SUBMIT" "$target"; then
            NEXT_SUBMIT=$(( NEXT_SUBMIT + 1 ))
        else
            SUBMIT_ERRORS=$(( SUBMIT_ERRORS + 1 ))
            [ "$SUBMIT_ERRORS" -le 50 ] || die "submits keep failing: $(tail -n 3 "$LOGS/submit-errors.log")"
            break   # try again on the next round
        fi
        now
    done
    # A random slave SIGKILLed every few seconds (never the stopped one); one
    # holding running jobs if there is such a slave, so the kill costs something.
    if [ "$NOW" -lt "$END_AT" ] && [ "$NOW" -ge "$NEXT_KILL" ]; then
        candidates=() busy=()
        for s in "${SLAVES[@]}"; do
            alive "$s" && [ -z "${RESTART_AT[$s]}" ] && { [ "$EP_STATE" = idle ] || [ "$EP_STATE" = done ] || [ "$s" != "$EP_VICTIM" ]; } || continue
            candidates+=("$s")
            [ -n "$(held_jobs "$s")" ] && busy+=("$s")
        done
        [ ${#busy[@]} -gt 0 ] && candidates=("${busy[@]}")
        if [ ${#candidates[@]} -gt 0 ]; then
            victim=${candidates[$(( RANDOM % ${#candidates[@]} ))]}
            held=$(held_jobs "$victim" | wc -l)
            sigkill "$victim"
            SLAVE_KILLS=$(( SLAVE_KILLS + 1 ))
            RESTART_AT[$victim]=$(( NOW + $(rand_ms "${SLAVE_DOWN_MS[@]}") ))
            say "SIGKILL $victim (holding $held job(s)); starts again in $(( RESTART_AT[$victim] - NOW ))ms"
        fi
        NEXT_KILL=$(( NOW + $(rand_ms "${KILL_EVERY_MS[@]}") ))
    fi
    # One master SIGKILLed, started again a second later on the same port.
    if [ "$MASTER_KILLED" = 0 ] && [ "$NOW" -ge "$MASTER_KILL_AT" ] && [ -z "$DB_PID" ] \
            && { [ "$EP_STATE" = idle ] || [ "$EP_STATE" = done ]; }; then
        MASTER_DOWN=${MASTERS[$(( RANDOM % 2 ))]}
        sigkill "$MASTER_DOWN"
        MASTER_KILLED=1
        MASTER_RESTART_AT=$(( NOW + MASTER_DOWN_MS ))
        say "SIGKILL $MASTER_DOWN; starts again in ${MASTER_DOWN_MS}ms"
    fi
    # MariaDB restarted once, in place (same port and data).
    if [ "$DB_RESTARTED" = 0 ] && [ "$NOW" -ge "$DB_RESTART_AT" ] && [ -z "$MASTER_DOWN" ] \
            && { [ "$EP_STATE" = idle ] || [ "$EP_STATE" = done ]; }; then
        "$ROOT/scripts/mariadb.sh" restart "$DBDIR" >"$LOGS/mariadb-restart.log" 2>&1 </dev/null &
        DB_PID=$!
        DB_RESTARTED=1
        say "restarting MariaDB"
    fi
    episode_step
    # Done when the window is over, every job submitted, every fault injected and undone.
    if [ "$NOW" -ge "$END_AT" ] && [ "$NEXT_SUBMIT" -ge ${#PLAN[@]} ] && [ "$MASTER_KILLED" = 1 ] && [ -z "$MASTER_DOWN" ] \
            && [ "$DB_RESTARTED" = 1 ] && [ -z "$DB_PID" ] && [ "$EP_STATE" = done ]; then
        pending=0
        for s in "${SLAVES[@]}"; do [ -n "${RESTART_AT[$s]}" ] && pending=1; done
        [ "$pending" = 0 ] && break
    fi
    [ $(( NOW - T0 )) -lt $(( WINDOW_MS + 180000 )) ] || die "the fault schedule did not finish within 180 s after the window (episode: $EP_STATE)"
    sleep 0.05
done
say "faults over: $SLAVE_KILLS slave SIGKILLs, 1 master SIGKILL, 1 MariaDB restart, $EP_ROUND SIGSTOP episode(s); $SUBMIT_ERRORS failed submit call(s) retried"

# ---------------------------------------------------------------- drain + verdict
for s in "${SLAVES[@]}"; do alive "$s" || die "slave $s is not running after the faults: $(tail -n 5 "$(current_log "$s")")"; done
for m in "${MASTERS[@]}"; do alive "$m" || die "$m is not running after the faults: $(tail -n 5 "$(current_log "$m")")"; done
say "waiting for every job to finish (up to ${DRAIN_TIMEOUT_S}s)"
deadline=$(( NOW + DRAIN_TIMEOUT_S * 1000 ))
while :; do
    unfinished="?"
    if "$BIN" list -c "$WORK/master-a.toml" --json >"$WORK/unfinished.json" 2>>"$LOGS/list-errors.log"; then
        unfinished=$(grep -cE '"state" *: *"(ReadyToRun|Running)"' "$WORK/unfinished.json" || true)
    fi
    [ "$unfinished" = 0 ] && break
    now
    [ "$NOW" -lt "$deadline" ] || { say "still $unfinished unfinished job(s) after ${DRAIN_TIMEOUT_S}s"; break; }
    sleep 1
done

"$BIN" list -c "$WORK/master-a.toml" --all --json >"$WORK/final.json" || die "wdpost list --all --json failed"
# id state tryNum worker lease, one job a line (keys are sorted: id comes before the rest).
awk '/^    "id" : "/ { id = $0; sub(/^[^:]*: "/, "", id); sub(/".*/, "", id); ids[++n] = id }
     /^    "state" : "/ { v = $0; sub(/^[^:]*: "/, "", v); sub(/".*/, "", v); st[id] = v }
     /^    "tryNum" : / { v = $0; sub(/^[^:]*: /, "", v); sub(/,$/, "", v); tr[id] = v }
     /^    "worker" : "/ { v = $0; sub(/^[^:]*: "/, "", v); sub(/".*/, "", v); wk[id] = v }
     /^    "lease" : / { v = $0; sub(/^[^:]*: /, "", v); sub(/,$/, "", v); ls[id] = v }
     END { for (i = 1; i <= n; i++) print ids[i], st[ids[i]], tr[ids[i]], (wk[ids[i]] == "" ? "-" : wk[ids[i]]), ls[ids[i]] }' \
    "$WORK/final.json" | sort >"$WORK/final"
[ "$(wc -l <"$WORK/final")" = "$(grep -c '"id" : ' "$WORK/final.json")" ] || die "could not read $WORK/final.json"
sort -u "$WORK/ids" >"$WORK/ids.sorted"
cat $(all_master_logs) >"$WORK/master-logs"
grep "finish accepted" "$WORK/master-logs" | grep -o 'job=[^ ]*' | cut -d= -f2 | sort | uniq -c >"$WORK/accepted" || true
# "job lease" of every accepted finish: the lease must be the job's last one (a
# success ends the job, so no later claim can change it); another lease means
# a superseded attempt's result was recorded.
grep "finish accepted" "$WORK/master-logs" | sed -n 's/.*job=\([^ ]*\) lease=\([^ ]*\) .*/\1 \2/p' | sort >"$WORK/accepted-leases" || true

jobs=$(wc -l <"$WORK/ids.sorted")
duplicates=$(( $(wc -l <"$WORK/ids") - jobs ))
succeed=$(join "$WORK/ids.sorted" "$WORK/final" | awk '$2 == "Succeed"' | wc -l)
failed=$(join "$WORK/ids.sorted" "$WORK/final" | awk '$2 == "Failed"' | wc -l)
lost=$(( jobs - succeed - failed ))
accepted_twice=$(awk '$1 > 1' "$WORK/accepted" | wc -l)
stale_refused=$(grep -c "stale finish refused" "$WORK/master-logs" || true)
unknown=$(cut -d' ' -f1 "$WORK/final" | comm -13 "$WORK/ids.sorted" - | wc -l)
unlogged=$(join -v1 "$WORK/ids.sorted" <(awk '{print $2}' "$WORK/accepted" | sort) | wc -l)
sort -u "$WORK/ids-failing" >"$WORK/ids-failing.sorted"
wrong_lease=$(join "$WORK/accepted-leases" "$WORK/final" | awk '$2 != $6' | wc -l)
failing_first_try=$(join "$WORK/ids-failing.sorted" "$WORK/final" | awk '$2 == "Succeed" && $3 < 2' | wc -l)
tries=$(join "$WORK/ids.sorted" "$WORK/final" | awk '{ c[$3]++ } END { for (t in c) printf "%s:%d ", t, c[t] }' | tr ' ' '\n' | sort -n | tr '\n' ' ')
workers=$(join "$WORK/ids.sorted" "$WORK/final" | awk '{ c[$4]++ } END { for (w in c) printf "%s:%d ", w, c[w] }' | tr ' ' '\n' | sort | tr '\n' ' ')
slave_refusals=$(cat "$LOGS"/s[1-4]-*.log | grep -c "master refused a stale result" || true)
heartbeat_timeouts=$(grep -c "heartbeat timeout" "$WORK/master-logs" || true)
retried=$(grep -c "attempt failed, will retry" "$WORK/master-logs" || true)

say "tries per job: ${tries}; workers: ${workers}"
say "heartbeat timeouts: $heartbeat_timeouts; failed attempts retried: $retried; stale results dropped by slaves: $slave_refusals"
say "succeeded jobs with no 'finish accepted' line (lost to a SIGKILLed master): $unlogged; jobs in the database not submitted by this run: $unknown"
say "accepted finishes whose lease is not the job's last: $wrong_lease"
say "stale check: $STALE_DETAIL"
echo "jobs=$jobs succeed=$succeed failed=$failed lost=$lost accepted_twice=$accepted_twice stale_refused=$stale_refused"

problems=()
[ "$jobs" = "$JOBS" ] || problems+=("submitted $jobs distinct ids for $JOBS jobs")
[ "$duplicates" = 0 ] || problems+=("$duplicates id(s) returned twice by submit")
[ "$succeed" = "$jobs" ] || problems+=("$(( jobs - succeed )) job(s) did not succeed")
[ "$lost" = 0 ] || problems+=("$lost job(s) lost (missing or unfinished): $(join -v1 "$WORK/ids.sorted" <(awk '$2 == "Succeed" || $2 == "Failed" {print $1}' "$WORK/final") | head -n 5 | tr '\n' ' ')")
[ "$accepted_twice" = 0 ] || problems+=("accepted twice: $(awk '$1 > 1 {print $2}' "$WORK/accepted" | head -n 5 | tr '\n' ' ')")
[ "$EP_OK" = 1 ] || problems+=("the stopped slave's late result was not shown refused ($STALE_DETAIL)")
[ "$wrong_lease" = 0 ] || problems+=("$wrong_lease finish(es) accepted with a superseded lease: $(join "$WORK/accepted-leases" "$WORK/final" | awk '$2 != $6 {print $1}' | head -n 5 | tr '\n' ' ')")
[ "$failing_first_try" = 0 ] || problems+=("$failing_first_try fail_tries job(s) succeeded on their first try")
if [ ${#problems[@]} -gt 0 ]; then
    for p in "${problems[@]}"; do say "FAILED: $p" >&2; done
    exit 1
fi
RESULT=0
say "passed (seed $SEED)"
