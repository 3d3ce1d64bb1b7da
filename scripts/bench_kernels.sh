#!/usr/bin/env bash
# Benchmarks the C kernels against reference points on this machine and
# prints key=value lines:
#   the kernels (scripts/bench-kernels.c, built here with -O3), then
#   openssl_sha256_64B_mbps  `openssl speed -evp sha256 -bytes 64` (MB/s)
#   numpy_f32_gops[_1t]      numpy float32 matmul of the same n (GFLOP/s)
# Goals: merkle_mbps_1t >= 0.8 * openssl_sha256_64B_mbps; gemm/synthetic
# GOP/s >= numpy_f32_gops.
#   scripts/bench_kernels.sh [merkle_mib=256] [n=1024]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="$root/Sources/CKernels"
out="${BUILD_DIR:-$root/.build/bench-kernels}"
mib="${1:-256}" n="${2:-1024}"
mkdir -p "$out"
cc="${CC:-$(command -v clang >/dev/null && echo clang || echo gcc)}"  # clang: what SwiftPM compiles C with
"$cc" -std=gnu11 -O3 -I"$src/include" -I"$src" -o "$out/bench-kernels" \
    "$src"/*.c "$root/scripts/bench-kernels.c" -lcrypto -lpthread -ldl
echo "compiler=$("$cc" --version | head -1)"
WDPOST_NO_GPU="${WDPOST_NO_GPU:-1}" "$out/bench-kernels" "$mib" "$n"

# openssl prints "sha256  <16B>k <64B>k ..." in 1000s of bytes per second
ossl="$(openssl speed -evp sha256 -bytes 64 -seconds 3 2>/dev/null | awk '/^sha256 /{print $2}')"
echo "openssl_sha256_64B_mbps=$(awk -v k="${ossl%k}" 'BEGIN{printf "%.1f", k/1000}')"

numpy_gops() {
    python3 - "$n" <<'PY'
import sys, time
import numpy as np
n = int(sys.argv[1])
a = np.random.rand(n, n).astype(np.float32)
b = np.random.rand(n, n).astype(np.float32)
a @ b
best, start = 1e30, time.perf_counter()
while time.perf_counter() - start < 2.0:
    t = time.perf_counter(); a @ b; best = min(best, time.perf_counter() - t)
print("%.1f" % (2 * n**3 / best / 1e9))
PY
}
echo "numpy_f32_gops=$(numpy_gops)"
echo "numpy_f32_gops_1t=$(OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 numpy_gops)"
