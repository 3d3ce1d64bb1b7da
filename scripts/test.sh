#!/usr/bin/env bash
# The one test command: installs the system packages it needs where missing
# (scripts/setup.sh), builds, starts a throwaway MariaDB server for the
# MariaDB store and cluster tests, runs every
# Swift test, stops the server, then runs the C kernel tests when they exist.
# Extra arguments go to `swift test`, e.g.
#   scripts/test.sh --filter ConfigTests
# WDPOST_TEST_MYSQL_URL already set: that server is used and left alone.
# WDPOST_SKIP_MYSQL=1: no server is started and the MariaDB tests are skipped.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi

echo "== scripts/setup.sh --test"
bash scripts/setup.sh --test

# Python's ecdsa: the independent check of ComputeChain signatures and the
# fake L1 node's (Tests/computechain). Debian's system Python refuses plain
# pip installs (PEP 668), hence --break-system-packages as the fallback.
if ! python3 -c 'import ecdsa' 2>/dev/null; then
    echo "== pip install ecdsa"
    python3 -m pip install --quiet 'ecdsa==0.19.2' 2>/dev/null \
        || python3 -m pip install --quiet --break-system-packages 'ecdsa==0.19.2'
fi

echo "== swift build"
swift build --build-tests

if [ -z "${WDPOST_TEST_MYSQL_URL:-}" ] && [ "${WDPOST_SKIP_MYSQL:-}" != 1 ]; then
    echo "== scripts/mariadb.sh start"
    eval "$(scripts/mariadb.sh start)"
    trap 'scripts/mariadb.sh stop "$WDPOST_TEST_MYSQL_DIR"' EXIT
fi

echo "== swift test $*"
swift test --skip-build "$@"

if [ -f Tests/ckernels/run.sh ]; then
    echo "== Tests/ckernels/run.sh"
    bash Tests/ckernels/run.sh
fi
echo "== all tests passed"
