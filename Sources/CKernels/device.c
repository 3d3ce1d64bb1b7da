/* Device facts that do not need the CUDA library. */
#include "internal.h"

/* FP32 lanes per SM, from NVIDIA's per-architecture tables; used for the
 * machine probe's "CUDA cores", which the runtime does not report. */
int wd_cuda_cores_per_sm(int cc_major, int cc_minor) {
    switch (cc_major) {
    case 2: return cc_minor == 1 ? 48 : 32;  /* Fermi */
    case 3: return 192;                      /* Kepler */
    case 5: return 128;                      /* Maxwell */
    case 6: return cc_minor == 0 ? 64 : 128; /* Pascal: P100 64, others 128 */
    case 7: return 64;                       /* Volta, Turing */
    case 8: return cc_minor == 0 ? 64 : 128; /* Ampere: A100 64, GA10x/Ada 128 */
    case 9: return 128;                      /* Hopper */
    default: return cc_major >= 10 ? 128 : 0; /* Blackwell and later: best guess */
    }
}
