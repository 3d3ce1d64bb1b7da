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
