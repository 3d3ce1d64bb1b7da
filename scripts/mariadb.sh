#!/usr/bin/env bash
# A throwaway MariaDB server for the tests: loopback only, its own data
# directory, socket and pid file under a temporary directory, a free port.
#
#   eval "$(scripts/mariadb.sh start)"   start one; prints the export lines below
#   scripts/mariadb.sh env [DIR]         print the export lines again
#   scripts/mariadb.sh restart [DIR]     stop and start the same server (same port and data)
#   scripts/mariadb.sh stop [DIR]        stop it and remove DIR
#
# Exports WDPOST_TEST_MYSQL_URL=mysql://wdpost:PASSWORD@127.0.0.1:PORT/venus-cluster-wdpost
# and WDPOST_TEST_MYSQL_DIR (DIR defaults to it). The user wdpost may create and
# drop databases named venus-cluster-wdpost* (tests use one each).
# Installs mariadb-server with apt-get when it is missing. WDPOST_MARIADB_EXTRA
# adds server options (e.g. --performance-schema=ON to see where statements
# spend their time).
set -euo pipefail

DATABASE=venus-cluster-wdpost
DB_USER=wdpost

log() { echo "mariadb.sh: $*" >&2; }

find_server() {
    for candidate in "$(command -v mariadbd 2>/dev/null || true)" /usr/sbin/mariadbd /usr/sbin/mysqld; do
        if [ -n "$candidate" ] && [ -x "$candidate" ]; then echo "$candidate"; return 0; fi
    done
    return 1
}

install_if_missing() {
    if find_server >/dev/null && command -v mariadb-install-db >/dev/null; then return 0; fi
    log "mariadb-server is missing; installing it with apt-get"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >&2; then
        $sudo apt-get update -q >&2
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q mariadb-server >&2
    fi
    find_server >/dev/null || { log "mariadbd not found after installing mariadb-server"; exit 1; }
}

free_port() {
    if command -v python3 >/dev/null; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
    else
        echo $((20000 + RANDOM % 20000))
    fi
}

# mariadbd refuses to run as root unless told to.
user_option() { if [ "$(id -u)" = 0 ]; then echo "--user=root"; fi; }

dir_arg() {
    local dir="${1:-${WDPOST_TEST_MYSQL_DIR:-}}"
    [ -n "$dir" ] && [ -d "$dir" ] || { log "no server directory (pass DIR or set WDPOST_TEST_MYSQL_DIR)"; exit 1; }
    echo "$dir"
}

client() { local dir=$1; shift; mariadb --no-defaults --protocol=socket -S "$dir/mysqld.sock" -uroot "$@"; }

start_server() {
    local dir=$1 port
    port=$(cat "$dir/port")
    # shellcheck disable=SC2046
    "$(find_server)" --no-defaults $(user_option) \
        --datadir="$dir/data" --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" \
        --bind-address=127.0.0.1 --port="$port" --port-open-timeout=20 --skip-name-resolve \
        --log-error="$dir/error.log" --skip-log-bin --max-connections=500 \
        --innodb-buffer-pool-size=128M --innodb-log-file-size=64M ${WDPOST_MARIADB_EXTRA:-} \
        >/dev/null 2>&1 </dev/null &
    echo $! >"$dir/launcher.pid"
    # Wait for the server to answer, not for a fixed time.
    for _ in $(seq 1 600); do
        if client "$dir" -e "SELECT 1" >/dev/null 2>&1; then return 0; fi
        if ! kill -0 "$(cat "$dir/launcher.pid")" 2>/dev/null; then
            log "mariadbd exited while starting; its log:"
            tail -n 30 "$dir/error.log" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
    log "mariadbd did not answer within 60 s; its log:"
    tail -n 30 "$dir/error.log" >&2 || true
    exit 1
}

stop_server() {
    local dir=$1 pid=""
    [ -f "$dir/mysqld.pid" ] && pid=$(cat "$dir/mysqld.pid")
    [ -z "$pid" ] && [ -f "$dir/launcher.pid" ] && pid=$(cat "$dir/launcher.pid")
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 600); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    log "mariadbd (pid $pid) did not stop within 60 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
}

print_env() { cat "$1/env"; }

cmd_start() {
    install_if_missing
    local dir password port
    dir=$(mktemp -d "${TMPDIR:-/tmp}/wdpost-mariadb.XXXXXX")
    password=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    port=$(free_port)
    echo "$port" >"$dir/port"
    # shellcheck disable=SC2046
    if ! mariadb-install-db --no-defaults $(user_option) --datadir="$dir/data" \
            --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve >"$dir/install.log" 2>&1; then
        log "mariadb-install-db failed:"
        tail -n 30 "$dir/install.log" >&2
        exit 1
    fi
    start_server "$dir"
    client "$dir" <<SQL
CREATE DATABASE IF NOT EXISTS \`$DATABASE\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
CREATE USER '$DB_USER'@'%' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON \`$DATABASE%\`.* TO '$DB_USER'@'%';
SQL
    cat >"$dir/env" <<ENV
export WDPOST_TEST_MYSQL_URL=mysql://$DB_USER:$password@127.0.0.1:$port/$DATABASE
export WDPOST_TEST_MYSQL_DIR=$dir
ENV
    log "MariaDB on 127.0.0.1:$port, data in $dir"
    print_env "$dir"
}

cmd_restart() {
    local dir
    dir=$(dir_arg "${1:-}")
    stop_server "$dir"
    start_server "$dir"
    log "MariaDB restarted on 127.0.0.1:$(cat "$dir/port")"
}

cmd_stop() {
    local dir="${1:-${WDPOST_TEST_MYSQL_DIR:-}}"
    [ -n "$dir" ] && [ -d "$dir" ] || return 0
    stop_server "$dir"
    rm -rf "$dir"
}

case "${1:-}" in
    start) cmd_start ;;
    env) print_env "$(dir_arg "${2:-}")" ;;
    restart) cmd_restart "${2:-}" ;;
    stop) cmd_stop "${2:-}" ;;
    *) echo "usage: $0 start|env [DIR]|restart [DIR]|stop [DIR]" >&2; exit 2 ;;
esac
