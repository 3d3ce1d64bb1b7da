/* GEMM dispatch, the portable implementation, and the threaded driver that
 * turns blocks of C rows into row hashes without ever holding all of C. */
#if defined(__GNUC__) && !defined(__clang__)
/* SwiftPM debug builds pass -O0; the loops below are only fast vectorised. */
#pragma GCC optimize("O3")
#endif
#include "gemm.h"
#include "internal.h"
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- portable: B widened to int16, 4 rows of C share each B row ---- */

static int generic_supported(void) { return 1; }
static size_t generic_ldc(uint32_t n) { return n; }
static size_t generic_b_bytes(uint32_t n) { return (size_t)n * n * 2; }
static size_t generic_scratch(uint32_t n) { (void)n; return 0; }

/* panels of 64 rows of B */
static size_t generic_panels(uint32_t n) { return (n + 63) / 64; }
static void generic_pack_b(const int8_t *B, uint32_t n, void *bp, int32_t *cinit, size_t p0,
                           size_t p1) {
    int16_t *b = bp;
    size_t end = p1 * 64 < n ? p1 * 64 : n;
    for (size_t i = p0 * 64 * (size_t)n; i < end * (size_t)n; i++) b[i] = B[i];
    if (p0 == 0) memset(cinit, 0, (size_t)n * 4);
}

static void generic_rows(const int8_t *A, uint32_t n, const void *bp, const int32_t *cinit,
                         uint32_t r0, uint32_t rows, int32_t *c, void *scratch) {
    (void)cinit; (void)scratch;
    const int16_t *B = bp;
    uint32_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        int32_t *restrict c0 = c + (size_t)r * n, *restrict c1 = c0 + n;
        int32_t *restrict c2 = c1 + n, *restrict c3 = c2 + n;
        const int8_t *a = A + (size_t)(r0 + r) * n;
        memset(c0, 0, (size_t)n * 16);
        for (uint32_t k = 0; k < n; k++) {
            const int16_t *restrict b = B + (size_t)k * n;
            int32_t a0 = a[k], a1 = a[n + k], a2 = a[2 * (size_t)n + k], a3 = a[3 * (size_t)n + k];
            for (uint32_t j = 0; j < n; j++) {
                int32_t v = b[j];
                c0[j] += a0 * v; c1[j] += a1 * v; c2[j] += a2 * v; c3[j] += a3 * v;
            }
        }
    }
    for (; r < rows; r++) {
        int32_t *restrict c0 = c + (size_t)r * n;
        const int8_t *a = A + (size_t)(r0 + r) * n;
        memset(c0, 0, (size_t)n * 4);
        for (uint32_t k = 0; k < n; k++) {
            const int16_t *restrict b = B + (size_t)k * n;
            int32_t a0 = a[k];
            for (uint32_t j = 0; j < n; j++) c0[j] += a0 * b[j];
        }
    }
}

const gemm_impl wd_gemm_generic = {
    .name = "generic", .supported = generic_supported, .mr = 4, .mc = 16, .ldc = generic_ldc,
    .packed_b_bytes = generic_b_bytes, .b_panels = generic_panels, .pack_b = generic_pack_b,
    .scratch_bytes = generic_scratch, .rows = generic_rows,
};

void wd_gemm_row(const int8_t *A_row, const int8_t *B, uint32_t n, int32_t *out) {
    memset(out, 0, (size_t)n * 4);
    for (uint32_t k = 0; k < n; k++) {
        const int8_t *restrict b = B + (size_t)k * n;
        int32_t a = A_row[k];
        for (uint32_t j = 0; j < n; j++) out[j] += a * (int32_t)b[j];
    }
}

/* ---- selection ---- */

static const gemm_impl *const impls[] = {
#if defined(__x86_64__) || defined(__i386__)
    &wd_gemm_avx512vnni,
    &wd_gemm_avx2,
#endif
    &wd_gemm_generic,
};

static _Atomic(const gemm_impl *) chosen;

static const gemm_impl *impl_get(void) {
    const gemm_impl *g = atomic_load(&chosen);
    if (g) return g;
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
        if (impls[i]->supported()) {
            g = impls[i];
            break;
        }
    atomic_store(&chosen, g);
    return g;
}

int wd_synthetic_set_cpu_impl(const char *name) {
    if (!name || strcmp(name, "auto") == 0) {
        atomic_store(&chosen, (const gemm_impl *)NULL);
        return WD_OK;
    }
    for (size_t i = 0; i < sizeof impls / sizeof impls[0]; i++)
        if (strcmp(impls[i]->name, name) == 0) {
            if (!impls[i]->supported())
                return wd_fail(WD_ERR_ARG, "GEMM implementation '%s' is not supported by this CPU",
                               name);
            atomic_store(&chosen, impls[i]);
            return WD_OK;
        }
    return wd_fail(WD_ERR_ARG, "unknown GEMM implementation '%s'", name);
}

const char *wd_synthetic_cpu_impl(void) { return impl_get()->name; }

/* ---- threaded driver ---- */

typedef struct {
    const gemm_impl *g;
    const int8_t *A, *B;
    uint32_t n;
    void *bp;
    int32_t *cinit;
    atomic_size_t next_panel;
    uint8_t *row_hashes;
    uint32_t rows_per_block;
    atomic_uint next_block;
    atomic_uint done_blocks;
} drive_t;

static void pack_worker(void *arg, int tid) {
    (void)tid;
    drive_t *d = arg;
    size_t panels = d->g->b_panels(d->n);
    for (;;) {
        size_t p = atomic_fetch_add(&d->next_panel, 1);
        if (p >= panels) break;
        d->g->pack_b(d->B, d->n, d->bp, d->cinit, p, p + 1);
    }
}

static void drive_worker(void *arg, int tid) {
    (void)tid;
    drive_t *d = arg;
    const gemm_impl *g = d->g;
    size_t ldc = g->ldc(d->n);
    int32_t *c = aligned_alloc(64, ((size_t)g->mc * ldc * 4 + 63) & ~(size_t)63);
    size_t sb = g->scratch_bytes(d->n);
    void *scratch = sb ? aligned_alloc(64, (sb + 63) & ~(size_t)63) : NULL;
    /* A thread without buffers takes no block; the others finish them all. */
    if (c && (!sb || scratch)) {
        for (;;) {
            uint32_t r0 = atomic_fetch_add(&d->next_block, 1) * d->rows_per_block;
            if (r0 >= d->n) break;
            uint32_t rows = d->n - r0 < d->rows_per_block ? d->n - r0 : d->rows_per_block;
            g->rows(d->A, d->n, d->bp, d->cinit, r0, rows, c, scratch);
            for (uint32_t r = 0; r < rows; r++)
                wd_synthetic_row_hash(c + r * ldc, d->n, d->row_hashes + (size_t)(r0 + r) * 32);
            atomic_fetch_add(&d->done_blocks, 1);
        }
    }
    free(c);
    free(scratch);
}

int wd_gemm_row_hashes(const int8_t *A, const int8_t *B, uint32_t n, int threads,
                       uint8_t *row_hashes) {
    const gemm_impl *g = impl_get();
    size_t ldc = g->ldc(n);
    void *bp = aligned_alloc(64, (g->packed_b_bytes(n) + 63) & ~(size_t)63);
    int32_t *cinit = aligned_alloc(64, (ldc * 4 + 63) & ~(size_t)63);
    if (!bp || !cinit) {
        free(bp); free(cinit);
        return wd_fail(WD_ERR_NOMEM, "out of memory packing a %ux%u matrix", n, n);
    }
    drive_t d = {.g = g, .A = A, .B = B, .n = n, .bp = bp, .cinit = cinit,
                 .row_hashes = row_hashes};
    atomic_init(&d.next_panel, 0);
    atomic_init(&d.next_block, 0);
    atomic_init(&d.done_blocks, 0);
    int t = wd_cpu_threads(threads);
    size_t panels = g->b_panels(n);
    wd_parallel(panels < (size_t)t ? (int)panels : t, pack_worker, &d);
    /* about 8 blocks per thread so threads finish together, but no bigger
     * than the impl's cache-sized block */
    uint32_t rpb = (n + 8 * (uint32_t)t - 1) / (8 * (uint32_t)t);
    rpb = (rpb + g->mr - 1) / g->mr * g->mr;
    d.rows_per_block = rpb > g->mc ? g->mc : rpb;
    uint32_t blocks = (n + d.rows_per_block - 1) / d.rows_per_block;
    if ((uint32_t)t > blocks) t = (int)blocks;
    wd_parallel(t, drive_worker, &d);
    free(bp);
    free(cinit);
    if (atomic_load(&d.done_blocks) != blocks)
        return wd_fail(WD_ERR_NOMEM, "out of memory for GEMM work buffers (n=%u)", n);
    return WD_OK;
}
