#!/usr/bin/env bash
# The one test command: builds, runs every Swift test, then the C kernel tests
# when they exist. Extra arguments go to `swift test`, e.g.
#   scripts/test.sh --filter ConfigTests
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
    export PATH=/opt/swift/usr/bin:$PATH
fi

echo "== swift build"
swift build
echo "== swift test $*"
swift test "$@"

if [ -f Tests/ckernels/run.sh ]; then
    # run.sh compiles with $CC (default gcc); without gcc use the toolchain's clang.
    if [ -z "${CC:-}" ] && ! command -v gcc >/dev/null 2>&1 && command -v clang >/dev/null 2>&1; then
        export CC=clang
    fi
    echo "== Tests/ckernels/run.sh"
    bash Tests/ckernels/run.sh
fi
echo "== all tests passed"
