/* Sector Merkle tree (tree_d): SHA-256 parents truncated to 254 bits over
 * 32-byte leaves, leaf count padded with zero leaves to a power of two >= 2.
 *
 * The tree is cut into chunks of 2^13 leaves (256 KiB of data). A chunk's
 * levels are reduced in place in a per-thread scratch buffer that stays in
 * L2, threads take chunks from a shared counter, and only the chunk roots are
 * kept (32 bytes per 256 KiB). The levels above the chunks are tiny and built
 * on the calling thread. A path is the in-chunk siblings, found by redoing
 * that one chunk, plus siblings from the kept upper levels: a proof over a
 * 32 GiB sector costs one pass over the data and a few chunk re-reads.
 * Chunks wholly past the data are all-zero subtrees whose roots are
 * precomputed, so padding costs nothing. With the CUDA library loaded the
 * chunk roots come from the GPU, in batches. */
#define _GNU_SOURCE
#include "internal.h"
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define CHUNK_HEIGHT 13u
/* Host bytes handed to the GPU per call: bounds host and device memory. */
#define GPU_BATCH_BYTES ((uint64_t)256 << 20)

/* ---- zero subtrees ---- */

static uint8_t zero_roots[WD_MERKLE_MAX_DEPTH + 1][32];
static pthread_once_t zero_once = PTHREAD_ONCE_INIT;

static void zero_init(void) {
    memset(zero_roots[0], 0, 32);
    for (unsigned h = 1; h <= WD_MERKLE_MAX_DEPTH; h++)
        wd_merkle_node(zero_roots[h - 1], zero_roots[h - 1], zero_roots[h]);
}

const uint8_t *wd_merkle_zero_root(unsigned height) {
    pthread_once(&zero_once, zero_init);
    return zero_roots[height > WD_MERKLE_MAX_DEPTH ? WD_MERKLE_MAX_DEPTH : height];
}

/* ---- shape ---- */

unsigned wd_merkle_depth(uint64_t len) {
    uint64_t leaves = len / 32 + (len % 32 != 0);
    unsigned d = 1; /* at least two leaves */
    while (d < 63 && ((uint64_t)1 << d) < leaves) d++;
    return d;
}

uint64_t wd_merkle_leaf_count(uint64_t len) { return (uint64_t)1 << wd_merkle_depth(len); }

void wd_merkle_node(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]) {
    uint8_t buf[64];
    memcpy(buf, left, 32);
    memcpy(buf + 32, right, 32);
    wd_sha256_64_trunc(buf, out);
}

/* ---- data source: a memory buffer or a file read with pread ---- */

typedef struct {
    const uint8_t *mem; /* NULL: read from fd */
    int fd;
    const char *path;
    uint64_t len;
} source_t;

/* First failure among worker threads; re-raised on the calling thread. */
typedef struct {
    atomic_int code;
    char msg[512];
} shared_err_t;

static void shared_fail(shared_err_t *e, int code, const char *msg) {
    int expected = 0;
    if (atomic_compare_exchange_strong(&e->code, &expected, code))
        snprintf(e->msg, sizeof e->msg, "%s", msg);
}

/* Copies data bytes [off, off+n) into dst, zero-filling past the end. */
static int source_read(const source_t *s, uint64_t off, uint8_t *dst, size_t n, char *err,
                       size_t errlen) {
    size_t avail = 0;
    if (off < s->len) avail = s->len - off < n ? (size_t)(s->len - off) : n;
    if (s->mem) {
        memcpy(dst, s->mem + off, avail);
    } else {
        size_t done = 0;
        while (done < avail) {
            ssize_t r = pread(s->fd, dst + done, avail - done, (off_t)(off + done));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) {
                snprintf(err, errlen, "read '%s' at offset %llu: %s", s->path,
                         (unsigned long long)(off + done), strerror(errno));
                return WD_ERR_IO;
            }
            if (r == 0) {
                snprintf(err, errlen, "read '%s': file shrank to %llu bytes while hashing",
                         s->path, (unsigned long long)(off + done));
                return WD_ERR_IO;
            }
            done += (size_t)r;
        }
    }
    memset(dst + avail, 0, n - avail);
    return WD_OK;
}

/* ---- one chunk ---- */

/* Root of chunk c (2^ch leaves). scratch holds 32 << ch bytes. When sib is
 * given, also returns the leaf at local index want and its ch siblings. */
static int chunk_root(const source_t *s, unsigned ch, uint64_t c, uint8_t *scratch,
                      uint8_t out[32], uint64_t want, uint8_t *leaf, uint8_t *sib, char *err,
                      size_t errlen) {
    uint64_t off = c << (ch + 5);
    size_t bytes = (size_t)32 << ch;
    size_t nodes = (size_t)1 << ch;
    unsigned level = 0;
    if (!sib && off >= s->len) {
        memcpy(out, wd_merkle_zero_root(ch), 32);
        return WD_OK;
    }
    if (!sib && s->mem && s->len - off >= bytes) {
        /* Whole chunk in memory: hash level 0 straight from the caller's
         * buffer, saving a copy. */
        wd_sha256_64_trunc_many(s->mem + off, scratch, nodes / 2);
        nodes /= 2;
        level = 1;
    } else {
        int rc = source_read(s, off, scratch, bytes, err, errlen);
        if (rc) return rc;
        if (leaf) memcpy(leaf, scratch + 32 * want, 32);
    }
    for (; nodes > 1; level++, nodes /= 2) {
        if (sib) memcpy(sib + 32 * level, scratch + 32 * ((want >> level) ^ 1), 32);
        wd_sha256_64_trunc_many(scratch, scratch, nodes / 2);
    }
    memcpy(out, scratch, 32);
    return WD_OK;
}

/* ---- all chunk roots ---- */

typedef struct {
    const source_t *src;
    unsigned ch;
    uint64_t ndata; /* chunks holding data; the rest are zero subtrees */
    uint8_t *roots;
    atomic_uint_fast64_t next;
    shared_err_t err;
} chunks_job_t;

static void chunks_worker(void *arg, int tid) {
    (void)tid;
    chunks_job_t *j = arg;
    uint8_t *scratch = malloc((size_t)32 << j->ch);
    char err[512];
    if (!scratch) {
        shared_fail(&j->err, WD_ERR_NOMEM, "out of memory for a Merkle chunk buffer");
        return;
    }
    for (;;) {
        if (atomic_load(&j->err.code)) break;
        uint64_t c = atomic_fetch_add(&j->next, 1);
        if (c >= j->ndata) break;
        int rc = chunk_root(j->src, j->ch, c, scratch, j->roots + 32 * c, 0, NULL, NULL, err,
                            sizeof err);
        if (rc) {
            shared_fail(&j->err, rc, err);
            break;
        }
    }
    free(scratch);
}

static int chunk_roots_gpu(const wdcuda_api *g, const source_t *s, unsigned ch, uint64_t ndata,
                           uint8_t *roots) {
    uint64_t chunk_bytes = (uint64_t)32 << ch;
    uint64_t per_batch = GPU_BATCH_BYTES / chunk_bytes;
    if (per_batch == 0) per_batch = 1;
    uint8_t *buf = NULL;
    char err[512] = "";
    int rc = WD_OK;
    if (!s->mem) {
        uint64_t want = (ndata < per_batch ? ndata : per_batch) * chunk_bytes;
        buf = malloc((size_t)want);
        if (!buf) return wd_fail(WD_ERR_NOMEM, "out of memory for a %llu-byte GPU batch",
                                 (unsigned long long)want);
    }
    for (uint64_t c0 = 0; c0 < ndata && rc == WD_OK; c0 += per_batch) {
        uint64_t nc = ndata - c0 < per_batch ? ndata - c0 : per_batch;
        uint64_t off = c0 * chunk_bytes;
        uint64_t len = s->len - off < nc * chunk_bytes ? s->len - off : nc * chunk_bytes;
        const uint8_t *data = s->mem ? s->mem + off : buf;
        if (!s->mem) {
            rc = source_read(s, off, buf, (size_t)len, err, sizeof err);
            if (rc) break;
        }
        if (g->merkle_chunk_roots(data, len, ch, nc, roots + 32 * c0, err, sizeof err) != 0)
            rc = WD_ERR_DEVICE;
    }
    free(buf);
    if (rc) return wd_fail(rc, "%s", err[0] ? err : "GPU Merkle hashing failed");
    return WD_OK;
}

static int chunk_roots_all(const source_t *s, unsigned ch, uint64_t nchunks, int threads,
                           uint8_t *roots) {
    uint64_t chunk_bytes = (uint64_t)32 << ch;
    uint64_t ndata = s->len / chunk_bytes + (s->len % chunk_bytes != 0);
    for (uint64_t c = ndata; c < nchunks; c++) memcpy(roots + 32 * c, wd_merkle_zero_root(ch), 32);
    if (ndata == 0) return WD_OK;
    const wdcuda_api *g = wd_cuda();
    if (g) return chunk_roots_gpu(g, s, ch, ndata, roots);

    chunks_job_t j = {.src = s, .ch = ch, .ndata = ndata, .roots = roots};
    atomic_init(&j.next, 0);
    atomic_init(&j.err.code, 0);
    int n = wd_cpu_threads(threads);
    if ((uint64_t)n > ndata) n = (int)ndata;
    wd_parallel(n, chunks_worker, &j);
    int code = atomic_load(&j.err.code);
    return code ? wd_fail(code, "%s", j.err.msg) : WD_OK;
}

/* ---- whole tree: root and paths ---- */

static int tree_build(const source_t *s, int threads, const uint64_t *indices, size_t count,
                      uint8_t root[32], uint8_t *leaves, uint8_t *paths) {
    unsigned depth = wd_merkle_depth(s->len);
    unsigned ch = depth < CHUNK_HEIGHT ? depth : CHUNK_HEIGHT;
    uint64_t nchunks = (uint64_t)1 << (depth - ch);
    if (count && (!indices || !leaves || !paths))
        return wd_fail(WD_ERR_ARG, "Merkle paths: indices, leaves and paths are required");
    for (size_t i = 0; i < count; i++)
        if (depth < 64 && indices[i] >> depth)
            return wd_fail(WD_ERR_ARG, "leaf index %llu out of range: the tree has %llu leaves",
                           (unsigned long long)indices[i], (unsigned long long)1 << depth);
    if (nchunks > (SIZE_MAX / 64))
        return wd_fail(WD_ERR_NOMEM, "input of %llu bytes is too large",
                       (unsigned long long)s->len);

    /* pyramid: chunk roots (level 0), then each level above, up to the root */
    uint8_t *pyr = malloc((size_t)(2 * nchunks - 1) * 32);
    uint8_t *scratch = count ? malloc((size_t)32 << ch) : NULL;
    if (!pyr || (count && !scratch)) {
        free(pyr); free(scratch);
        return wd_fail(WD_ERR_NOMEM, "out of memory for the Merkle tree of %llu bytes",
                       (unsigned long long)s->len);
    }
    int rc = chunk_roots_all(s, ch, nchunks, threads, pyr);
    uint8_t *lvl = pyr;
    for (uint64_t n = nchunks; rc == WD_OK && n > 1; n /= 2) {
        wd_sha256_64_trunc_many(lvl, lvl + 32 * n, (size_t)(n / 2));
        lvl += 32 * n;
    }
    if (rc == WD_OK && root) memcpy(root, lvl, 32);

    char err[512];
    for (size_t i = 0; rc == WD_OK && i < count; i++) {
        uint64_t idx = indices[i];
        uint64_t c = idx >> ch;
        uint8_t *path = paths + (size_t)i * depth * 32;
        uint8_t croot[32];
        /* the path's in-chunk part never goes through the GPU: one chunk */
        rc = chunk_root(s, ch, c, scratch, croot, idx & (((uint64_t)1 << ch) - 1),
                        leaves + 32 * i, path, err, sizeof err);
        if (rc) {
            wd_fail(rc, "%s", err);
            break;
        }
        uint8_t *level = pyr;
        for (unsigned l = 0; ch + l < depth; l++) {
            memcpy(path + 32 * (ch + l), level + 32 * ((c >> l) ^ 1), 32);
            level += 32 * (nchunks >> l);
        }
    }
    free(scratch);
    free(pyr);
    return rc;
}

static int source_open(source_t *s, const char *path) {
    if (!path) return wd_fail(WD_ERR_ARG, "file path is NULL");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return wd_fail(WD_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        return wd_fail(WD_ERR_IO, "'%s' is not a readable regular file%s%s", path,
                       e ? ": " : "", e ? strerror(e) : "");
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    *s = (source_t){.mem = NULL, .fd = fd, .path = path, .len = (uint64_t)st.st_size};
    return WD_OK;
}

int wd_merkle_root_mem(const uint8_t *data, uint64_t len, int threads, uint8_t root[32]) {
    if ((!data && len) || !root) return wd_fail(WD_ERR_ARG, "Merkle root: NULL argument");
    source_t s = {.mem = data ? data : (const uint8_t *)"", .fd = -1, .path = "<memory>",
                  .len = len};
    return tree_build(&s, threads, NULL, 0, root, NULL, NULL);
}

int wd_merkle_root_file(const char *path, int threads, uint8_t root[32]) {
    if (!root) return wd_fail(WD_ERR_ARG, "Merkle root: NULL argument");
    source_t s;
    int rc = source_open(&s, path);
    if (rc) return rc;
    rc = tree_build(&s, threads, NULL, 0, root, NULL, NULL);
    close(s.fd);
    return rc;
}

int wd_merkle_paths_mem(const uint8_t *data, uint64_t len, const uint64_t *indices,
                        size_t count, int threads, uint8_t root[32], uint8_t *leaves,
                        uint8_t *paths) {
    if (!data && len) return wd_fail(WD_ERR_ARG, "Merkle paths: NULL data");
    source_t s = {.mem = data ? data : (const uint8_t *)"", .fd = -1, .path = "<memory>",
                  .len = len};
    return tree_build(&s, threads, indices, count, root, leaves, paths);
}

int wd_merkle_paths_file(const char *path, const uint64_t *indices, size_t count,
                         int threads, uint8_t root[32], uint8_t *leaves, uint8_t *paths) {
    source_t s;
    int rc = source_open(&s, path);
    if (rc) return rc;
    rc = tree_build(&s, threads, indices, count, root, leaves, paths);
    close(s.fd);
    return rc;
}

int wd_merkle_verify(const uint8_t root[32], const uint8_t leaf[32], uint64_t leaf_index,
                     const uint8_t *siblings, unsigned depth) {
    if (!root || !leaf || (depth && !siblings) || depth > WD_MERKLE_MAX_DEPTH)
        return wd_fail(WD_ERR_ARG, "Merkle verify: bad argument");
    if (depth < 64 && leaf_index >> depth)
        return wd_fail(WD_ERR_ARG, "leaf index %llu out of range for a path of depth %u",
                       (unsigned long long)leaf_index, depth);
    uint8_t cur[32];
    memcpy(cur, leaf, 32);
    for (unsigned l = 0; l < depth; l++) {
        if ((leaf_index >> l) & 1) wd_merkle_node(siblings + 32 * l, cur, cur);
        else wd_merkle_node(cur, siblings + 32 * l, cur);
    }
    if (memcmp(cur, root, 32) != 0)
        return wd_fail(WD_ERR_VERIFY, "Merkle path of leaf %llu does not lead to the root",
                       (unsigned long long)leaf_index);
    return WD_OK;
}
