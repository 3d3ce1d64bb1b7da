#!/usr/bin/env bash
# Builds the C kernel library with the C compiler directly (no SwiftPM) and
# runs its tests: the CPU known answers, then the CUDA loader against a fake
# libwdpost_cuda.so (via $WDPOST_CUDA_LIB and next to the executable), a
# library with no device, and a missing library; then cuda/kernels.cu itself
# on the CPU through the CUDA emulation in cuda/emu (needs g++ and python3).
#   CC=clang Tests/ckernels/run.sh      other compiler
#   SANITIZE=1 Tests/ckernels/run.sh    address + undefined behaviour sanitizers
#   OPT=-O0 Tests/ckernels/run.sh       as SwiftPM debug builds compile it
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
src="$root/Sources/CKernels"
out="${BUILD_DIR:-$root/.build/ckernels-test}"
cc="${CC:-gcc}"
flags=(-std=c11 "${OPT:--O2}" -g -Wall -Wextra -Werror -I"$src/include" -I"$src")
if [[ "${SANITIZE:-0}" == 1 ]]; then flags+=(-fsanitize=address,undefined -fno-omit-frame-pointer); fi
mkdir -p "$out/exe_dir"

"$cc" "${flags[@]}" -o "$out/test_kernels" "$src"/*.c "$here/test_kernels.c" -lcrypto -lpthread -ldl
"$cc" "${flags[@]}" -shared -fPIC -o "$out/libfake_cuda.so" "$here/fake_cuda.c" -lcrypto
cp "$out/test_kernels" "$out/exe_dir/test_kernels"
cp "$out/libfake_cuda.so" "$out/exe_dir/libwdpost_cuda.so"

total_pass=0 total_fail=0 status=0
run() { # name, then env assignments and the command
    local name="$1"; shift
    local log="$out/$name.log"
    if env "$@" >"$log" 2>&1; then :; else status=1; fi
    grep -E '^(FAIL|  got|  want|skip|mode)' "$log" || true
    local line; line="$(grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed$' "$log" | tail -1 || true)"
    if [[ -z "$line" ]]; then
        echo "$name: did not finish"; tail -20 "$log"; status=1; total_fail=$((total_fail + 1)); return
    fi
    echo "$name -> $line"
    local p f; p="$(sed -E 's/.*: ([0-9]+) passed.*/\1/' <<<"$line")"; f="$(sed -E 's/.*, ([0-9]+) failed/\1/' <<<"$line")"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
}

run cpu       WDPOST_NO_GPU=1 "$out/test_kernels" cpu
run mock_env  -u WDPOST_NO_GPU WDPOST_CUDA_LIB="$out/libfake_cuda.so" "$out/test_kernels" mock
run mock_exe  -u WDPOST_NO_GPU -u WDPOST_CUDA_LIB "$out/exe_dir/test_kernels" mock
run nodevice  -u WDPOST_NO_GPU WDFAKE_DEVICES=0 WDPOST_CUDA_LIB="$out/libfake_cuda.so" "$out/test_kernels" nodevice
run missing   -u WDPOST_NO_GPU WDPOST_CUDA_LIB="$out/no-such-lib.so" "$out/test_kernels" missing
run forced    WDPOST_NO_GPU=1 WDPOST_CUDA_LIB="$out/libfake_cuda.so" "$out/test_kernels" forced

if command -v "${CXX:-g++}" >/dev/null && command -v python3 >/dev/null; then
    run cuda_emu  make -s -C "$root/cuda" emu-test EMU="$out/emu" CC="$cc"
else
    echo "cuda_emu: skipped (needs g++ and python3)"
fi

echo "ckernels: $total_pass passed, $total_fail failed"
exit $status
