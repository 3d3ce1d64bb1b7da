/* Built-in WindowPoSt model: a sector is a file, its commitment the tree_d
 * root; a proof opens challenged leaves chosen from the job's randomness. */
#include "internal.h"
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <sys/stat.h>

uint64_t wd_post_challenge_index(const uint8_t randomness[32], uint64_t sector_id, uint64_t j,
                                 uint64_t leaf_count) {
    uint8_t msg[48], h[32];
    memcpy(msg, randomness, 32);
    wd_le64(msg + 32, sector_id);
    wd_le64(msg + 40, j);
    wd_sha256(msg, sizeof msg, h);
    return leaf_count ? wd_load_le64(h) % leaf_count : 0;
}

int wd_post_sector_depth(const char *path, unsigned *depth) {
    struct stat st;
    if (!path || !depth) return wd_fail(WD_ERR_ARG, "sector depth: NULL argument");
    if (stat(path, &st) != 0)
        return wd_fail(WD_ERR_IO, "sector file '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode)) return wd_fail(WD_ERR_IO, "sector file '%s' is not a regular file", path);
    *depth = wd_merkle_depth((uint64_t)st.st_size);
    return WD_OK;
}

int wd_post_prove_file(const char *path, uint64_t sector_id, const uint8_t randomness[32],
                       uint32_t num_challenges, int threads, uint8_t root[32],
                       uint64_t *indices, uint8_t *leaves, uint8_t *paths) {
    unsigned depth;
    if (!randomness || (num_challenges && (!indices || !leaves || !paths)))
        return wd_fail(WD_ERR_ARG, "post prove: NULL argument");
    int rc = wd_post_sector_depth(path, &depth);
    if (rc) return rc;
    for (uint32_t j = 0; j < num_challenges; j++)
        indices[j] = wd_post_challenge_index(randomness, sector_id, j, (uint64_t)1 << depth);
    rc = wd_merkle_paths_file(path, indices, num_challenges, threads, root, leaves, paths);
    if (rc) {
        /* name the sector as well as the file in the message */
        char msg[512];
        snprintf(msg, sizeof msg, "%s", wd_last_error());
        return wd_fail(rc, "sector %llu: %s", (unsigned long long)sector_id, msg);
    }
    /* the file may have grown between stat and read: then indices would be
     * drawn from the wrong leaf count and the proof would not verify */
    unsigned again;
    if (wd_post_sector_depth(path, &again) == WD_OK && again != depth)
        return wd_fail(WD_ERR_IO, "sector file '%s' changed size while proving", path);
    return WD_OK;
}

int wd_post_verify(const uint8_t root[32], uint64_t sector_id, const uint8_t randomness[32],
                   uint64_t j, unsigned depth, uint64_t leaf_index, const uint8_t leaf[32],
                   const uint8_t *siblings) {
    if (!root || !randomness || !leaf || depth == 0 || depth > 63)
        return wd_fail(WD_ERR_ARG, "post verify: bad argument (depth %u)", depth);
    uint64_t want = wd_post_challenge_index(randomness, sector_id, j, (uint64_t)1 << depth);
    if (want != leaf_index)
        return wd_fail(WD_ERR_VERIFY, "challenge %llu of sector %llu is leaf %llu, proof opens %llu",
                       (unsigned long long)j, (unsigned long long)sector_id,
                       (unsigned long long)want, (unsigned long long)leaf_index);
    return wd_merkle_verify(root, leaf, leaf_index, siblings, depth);
}
