#!/usr/bin/env bash
# wdpost demo: one master on SQLite and two slaves on this machine, a handful of
# noop jobs (one of them fails on purpose and ends Failed after 2 tries), then
# the admin commands' view of it all. Everything lives in a temporary directory
# that is removed at the end (set WDPOST_DEMO_KEEP=1 to keep it).
#
#   scripts/demo.sh                      build (swift build), then run the demo
#   WDPOST_BIN=path/to/wdpost scripts/demo.sh   use that binary, skip the build
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$PWD

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi

if [ -n "${WDPOST_BIN:-}" ]; then
    BIN=$WDPOST_BIN
else
    bash scripts/setup.sh
    echo "== building (swift build)"
    swift build
    BIN=$ROOT/.build/debug/wdpost
fi
[ -x "$BIN" ] || { echo "demo: no wdpost binary at $BIN" >&2; exit 1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/wdpost-demo.XXXXXX")
PIDS=()    # every daemon started, stopped again by cleanup

# Sends SIGTERM and waits (up to $2 seconds) for the process to exit; SIGKILL after that.
stop_process() {
    local pid=$1 limit=${2:-20} i
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < limit * 10; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "demo: process $pid did not exit within ${limit}s of SIGTERM; killing it" >&2
        kill -KILL "$pid" 2>/dev/null || true
    fi
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    return $rc
}

cleanup() {
    local rc=$? i log
    trap - EXIT INT TERM
    # Slaves first (they hand their jobs back to the master), the master last.
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_process "${PIDS[i]}" 20 || true
    done
    if [ "$rc" -ne 0 ] && [ -d "$WORK" ]; then
        for log in "$WORK"/*.log; do
            [ -f "$log" ] || continue
            echo "---- last lines of $(basename "$log")" >&2
            tail -n 15 "$log" >&2
        done
    fi
    if [ "${WDPOST_DEMO_KEEP:-0}" = 1 ]; then
        echo "demo: kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# set_key FILE SECTION KEY VALUE: sets (or uncomments and sets) KEY in [SECTION].
set_key() {
    awk -v sec="[$2]" -v key="$3" -v val="$4" '
        /^\[/ { cur = $0 }
        !done && cur == sec && $0 ~ ("^(# )?" key " = ") { print key " = " val; done = 1; next }
        { print }
        END { exit done ? 0 : 1 }' "$1" > "$1.new" || { echo "demo: $1: no key [$2] $3" >&2; exit 1; }
    mv "$1.new" "$1"
}

# wait_for FILE PATTERN SECONDS PID: waits until FILE has a line matching PATTERN.
wait_for() {
    local file=$1 pattern=$2 limit=$3 pid=$4 i
    for ((i = 0; i < limit * 10; i++)); do
        grep -q -- "$pattern" "$file" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || { echo "demo: process $pid exited before printing \"$pattern\"" >&2; return 1; }
        sleep 0.1
    done
    echo "demo: no \"$pattern\" in $file after ${limit}s" >&2
    return 1
}

# Prints a command line as it would be typed, quoting arguments that need it.
show_command() {
    local line="\$ wdpost" arg
    for arg in "$@"; do
        if [[ $arg =~ ^[A-Za-z0-9_,./:=@-]+$ ]]; then line+=" $arg"; else line+=" '$arg'"; fi
    done
    echo
    echo "$line -c master.toml"
}

# Runs an admin command against the demo master, showing it first.
admin() {
    show_command "$@"
    "$BIN" "$@" -c "$WORK/master.toml"
}

echo "== setting up $WORK"
head -c 32 /dev/urandom | base64 > "$WORK/slave.token"
head -c 32 /dev/urandom | base64 > "$WORK/admin.token"
chmod 600 "$WORK/slave.token" "$WORK/admin.token"

cp master.toml.example "$WORK/master.toml"
set_key "$WORK/master.toml" server name '"demo-master"'
set_key "$WORK/master.toml" server listen '"127.0.0.1:0"'
set_key "$WORK/master.toml" db url '"sqlite://wdpost.db"'
set_key "$WORK/master.toml" task max_retry 2
set_key "$WORK/master.toml" task retry_job_interval '"1s"'
set_key "$WORK/master.toml" task heartbeat_timeout '"10s"'

echo "== starting the master"
"$BIN" master daemon -c "$WORK/master.toml" > "$WORK/master.out" 2> "$WORK/master.log" &
PIDS+=($!)
wait_for "$WORK/master.out" "^wdpost master listening on " 30 "${PIDS[0]}"
LISTEN=$(grep -m1 "^wdpost master listening on " "$WORK/master.out")
ADDR=${LISTEN#wdpost master listening on }
PORT=${ADDR##*:}
echo "$LISTEN"
# Admin commands read server.listen from master.toml: give them the real port.
set_key "$WORK/master.toml" server listen "\"127.0.0.1:$PORT\""

for n in 1 2; do
    cfg="$WORK/slave-$n.toml"
    cp slave.toml.example "$cfg"
    set_key "$cfg" master server_addr "\"127.0.0.1:$PORT\""
    set_key "$cfg" master heartbeat_interval '"1s"'
    set_key "$cfg" master reconnect_interval '"1s"'
    set_key "$cfg" slave name "\"demo-slave-$n\""
    set_key "$cfg" slave concurrent 2
    set_key "$cfg" slave pull_interval '"2s"'
    set_key "$cfg" slave shutdown_grace '"5s"'
    echo "== starting demo-slave-$n"
    "$BIN" slave daemon -c "$cfg" > "$WORK/slave-$n.out" 2> "$WORK/slave-$n.log" &
    PIDS+=($!)
    wait_for "$WORK/slave-$n.log" "connected to master" 30 "${PIDS[n]}"
done

echo
echo "== submitting jobs"
admin submit --kind noop --input '{"sleep_ms": 1500}' --count 3
admin submit --kind noop --input '{"sleep_ms": 3000}' --miner f01234 --deadline 5 --partitions 0,1
admin submit --kind noop --input '{"sleep_ms": 2000}' --miner f05678 --deadline 12 --partitions 2 --priority 10
admin submit --kind noop
show_command submit --kind noop --input '{"sleep_ms": 500, "fail": true}'
FAILING=$("$BIN" submit --kind noop --input '{"sleep_ms": 500, "fail": true}' -c "$WORK/master.toml")
echo "$FAILING"

sleep 1
admin list

echo
echo "== waiting until no job is ReadyToRun or Running"
for ((i = 0; ; i++)); do
    left=$("$BIN" list --json -c "$WORK/master.toml" | grep -cE '"state" *: *"(ReadyToRun|Running)"' || true)
    [ "$left" -eq 0 ] && break
    if [ "$i" -ge 120 ]; then
        echo "demo: jobs still unfinished after 60s" >&2
        "$BIN" list --all -c "$WORK/master.toml" >&2
        exit 1
    fi
    sleep 0.5
done
echo "all jobs finished"

admin list --all
admin list
admin show "$FAILING"
admin slaves

echo
echo "== stopping (SIGTERM) the slaves, then the master"
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
    rc=0
    stop_process "${PIDS[i]}" 20 || rc=$?
    echo "process ${PIDS[i]} exited with status $rc"
    [ "$rc" -eq 0 ] || { echo "demo: a daemon exited with status $rc" >&2; exit 1; }
    unset 'PIDS[i]'
done
PIDS=()
echo "== demo done"
