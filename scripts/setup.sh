#!/usr/bin/env bash
# The system packages wdpost needs on Debian, installed where missing: the one
# list, used by scripts/demo.sh, scripts/test.sh and .ci/run.
#
#   scripts/setup.sh          what the build needs (enough for scripts/demo.sh)
#   scripts/setup.sh --test   that and what the tests use
#
# As root, installs what is missing with apt-get (no questions asked). Otherwise
# prints the `sudo apt-get install …` line to run and exits 1. Without dpkg (not
# Debian) it only lists the packages and carries on.
set -euo pipefail

# libsqlite3-dev: the SQLite store; libssl-dev: hashing (libcrypto);
# libmariadb-dev: the MariaDB store (mariadb/mysql.h).
build=(libsqlite3-dev libssl-dev libmariadb-dev)
# sqlite3, procps: used by tests; mariadb-server: the MariaDB store and cluster
# tests; chromium: the status page is checked in a headless browser;
# faketime: a master whose clock runs ahead (the clock skew test);
# python3, python3-pip: the fake ComputeChain node and its ecdsa check
# (scripts/test.sh pip-installs ecdsa).
test=(sqlite3 procps mariadb-server chromium faketime python3 python3-pip)

case "${1:-}" in
    "") packages=("${build[@]}") ;;
    --test) packages=("${build[@]}" "${test[@]}") ;;
    *) echo "usage: scripts/setup.sh [--test]" >&2; exit 2 ;;
esac
# Tests against a server of one's own, or none (see scripts/test.sh), need no local server.
if [ -n "${WDPOST_TEST_MYSQL_URL:-}" ] || [ "${WDPOST_SKIP_MYSQL:-}" = 1 ]; then
    packages=("${packages[@]/mariadb-server}")
fi

say() { echo "setup.sh: $*" >&2; }

if ! command -v swift >/dev/null 2>&1 && ! [ -x /opt/swift/usr/bin/swift ]; then
    say "swift not found (neither on PATH nor in /opt/swift): install Swift 6 from https://www.swift.org/install/"
    exit 1
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    say "not a Debian system (no dpkg-query): make sure these, or your system's equivalents, are installed: ${packages[*]}"
    exit 0
fi

missing=()
for p in "${packages[@]}"; do
    [ -n "$p" ] || continue
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" != 0 ]; then
    say "missing packages: ${missing[*]}; install them with:"
    echo "sudo apt-get install ${missing[*]}"
    exit 1
fi
say "installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q >&2
apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
