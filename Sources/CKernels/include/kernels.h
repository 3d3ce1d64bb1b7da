#ifndef WDPOST_KERNELS_H
#define WDPOST_KERNELS_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* SHA-256 of len bytes into out[32]. */
void wd_sha256(const uint8_t *data, size_t len, uint8_t out[32]);

/* SHA-1 of len bytes into out[20]: only for name-based UUIDs (RFC 4122
 * version 5), where the standard fixes it; never for anything secret. */
void wd_sha1(const uint8_t *data, size_t len, uint8_t out[20]);

/* HMAC-SHA256(key, msg) into out[32]. Used for the RPC handshake. */
void wd_hmac_sha256(const uint8_t *key, size_t key_len,
                    const uint8_t *msg, size_t msg_len, uint8_t out[32]);

/* HMAC-SHA256(key, head || body) into out[32], without joining the two parts:
 * a frame's tag covers its header and its payload where each already lies.
 * Returns 0, or -1 when libcrypto cannot compute it (out is then unusable). */
int wd_hmac_sha256_2(const uint8_t *key, size_t key_len,
                      const uint8_t *head, size_t head_len,
                      const uint8_t *body, size_t body_len, uint8_t out[32]);

/* Fills out with len cryptographically random bytes; returns 0 on success. */
int wd_random_bytes(uint8_t *out, size_t len);

/* ------------------------------------------------------------------------
 * Kernels. Definitions (stable across releases): docs/KERNELS.md.
 * Every function returning int returns WD_OK (0) on success or a negative
 * WD_ERR_* code; wd_last_error() then holds a message for the calling thread.
 * `threads` parameters: 0 = all CPUs this process may run on.
 * ---------------------------------------------------------------------- */

#define WD_HASH_BYTES 32
#define WD_MERKLE_MAX_DEPTH 64

enum {
    WD_OK = 0,
    WD_ERR_ARG = -1,     /* bad argument (null pointer, index out of range, n too big) */
    WD_ERR_IO = -2,      /* file missing, unreadable or short */
    WD_ERR_NOMEM = -3,   /* allocation failed */
    WD_ERR_DEVICE = -4,  /* the CUDA library reported an error */
    WD_ERR_VERIFY = -5   /* a proof did not verify */
};

/* Message of the last failure on this thread ("" if none). Valid until the
 * next failing call on the same thread. */
const char *wd_last_error(void);

/* Resolves a thread-count parameter: >0 is kept, 0 = CPUs in this process's
 * affinity mask (honours cgroup cpusets / taskset). */
int wd_cpu_threads(int requested);

/* ---- Sector Merkle tree (Filecoin tree_d style, SHA-256 truncated to 254 bits)
 * Leaves are the data cut in 32-byte pieces (last one zero-padded), the leaf
 * count is padded with zero leaves to a power of two >= 2; parent =
 * SHA-256(left || right) with byte 31 &= 0x3f. Paths list the sibling of the
 * leaf first and the child of the root last (depth entries of 32 bytes). */

/* Leaf count of the tree over len data bytes (power of two, >= 2). */
uint64_t wd_merkle_leaf_count(uint64_t len);
/* log2(wd_merkle_leaf_count(len)): the number of siblings in a path. */
unsigned wd_merkle_depth(uint64_t len);
/* One parent: SHA-256(left || right), truncated. */
void wd_merkle_node(const uint8_t left[32], const uint8_t right[32], uint8_t out[32]);

int wd_merkle_root_mem(const uint8_t *data, uint64_t len, int threads, uint8_t root[32]);
int wd_merkle_root_file(const char *path, int threads, uint8_t root[32]);

/* Builds the tree once and extracts `count` paths. For each i: leaves[i*32..]
 * receives leaf indices[i] and paths[i*depth*32..] its siblings, where depth =
 * wd_merkle_depth(len). root may be NULL. */
int wd_merkle_paths_mem(const uint8_t *data, uint64_t len, const uint64_t *indices,
                        size_t count, int threads, uint8_t root[32],
                        uint8_t *leaves, uint8_t *paths);
int wd_merkle_paths_file(const char *path, const uint64_t *indices, size_t count,
                         int threads, uint8_t root[32], uint8_t *leaves, uint8_t *paths);

/* WD_OK if leaf at leaf_index with the given depth siblings hashes to root,
 * else WD_ERR_VERIFY (or WD_ERR_ARG when leaf_index >= 2^depth). */
int wd_merkle_verify(const uint8_t root[32], const uint8_t leaf[32], uint64_t leaf_index,
                     const uint8_t *siblings, unsigned depth);

/* ---- synthetic: C = A*B over n x n int8 matrices from SHA-256 counters.
 * Rows of C are hashed (SHA-256 of n little-endian int32) and committed to in a
 * plain (untruncated) SHA-256 Merkle tree padded to a power of two. */

#define WD_SYNTHETIC_MAX_N 65536u

/* seed = SHA-256(block_hash || worker), both UTF-8 strings as given. */
void wd_synthetic_seed(const char *block_hash, const char *worker, uint8_t seed[32]);
/* Element (i, j) of A (tag 'A') or B (tag 'B'). */
int8_t wd_synthetic_element(const uint8_t seed[32], char tag, uint32_t i, uint32_t j);
/* Number of siblings in a row path: log2(next power of two >= n); 0 for n = 1. */
unsigned wd_synthetic_depth(uint32_t n);

/* Full computation: root and, if row_hashes != NULL, the n row hashes (n*32
 * bytes, kept by the caller so it can build paths). Uses CUDA when loaded. */
int wd_synthetic_compute(const char *block_hash, const char *worker, uint32_t n,
                         int threads, uint8_t root[32], uint8_t *row_hashes);
/* One row of C (n int32) in O(n^2): what a verifier recomputes. */
int wd_synthetic_row(const char *block_hash, const char *worker, uint32_t n,
                     uint32_t row, int32_t *values);
/* SHA-256 of the n values as little-endian int32. */
void wd_synthetic_row_hash(const int32_t *values, uint32_t n, uint8_t out[32]);
/* Root of the row-hash tree and the path of one row (depth*32 bytes). */
int wd_synthetic_tree_root(const uint8_t *row_hashes, uint32_t n, uint8_t root[32]);
int wd_synthetic_path(const uint8_t *row_hashes, uint32_t n, uint32_t row, uint8_t *siblings);
/* Challenged row t: u32be(SHA-256(root || u32be(t))[0..4]) mod n. */
uint32_t wd_synthetic_challenge_row(const uint8_t root[32], uint32_t t, uint32_t n);
/* WD_OK if the row's values hash, through the path, to root. */
int wd_synthetic_verify_row(const uint8_t root[32], uint32_t n, uint32_t row,
                            const int32_t *values, const uint8_t *siblings);
/* Worker side in one call: root, the k challenged rows (rows[k]), their values
 * (values[k*n]) and paths (paths[k*depth*32]). */
int wd_synthetic_prove(const char *block_hash, const char *worker, uint32_t n,
                       uint32_t k, int threads, uint8_t root[32], uint32_t *rows,
                       int32_t *values, uint8_t *paths);
/* CPU GEMM implementation: "auto" (default), "avx512vnni", "avx2", "generic".
 * Tests and benchmarks use it; every implementation gives identical bytes. */
int wd_synthetic_set_cpu_impl(const char *name);
const char *wd_synthetic_cpu_impl(void);

/* ---- wdpost model: challenged leaves of a sector file.
 * Challenge j of sector S: u64le(SHA-256(randomness || u64le(S) || u64le(j))[0..8])
 * mod leaf_count, leaf_count = wd_merkle_leaf_count(file size). */

#define WD_POST_DEFAULT_CHALLENGES 10u

uint64_t wd_post_challenge_index(const uint8_t randomness[32], uint64_t sector_id,
                                 uint64_t j, uint64_t leaf_count);
/* Tree depth of a sector file (from its size). */
int wd_post_sector_depth(const char *path, unsigned *depth);
/* For j = 0..num_challenges-1: indices[j], leaves[j*32..], paths[j*depth*32..];
 * root may be NULL. */
int wd_post_prove_file(const char *path, uint64_t sector_id, const uint8_t randomness[32],
                       uint32_t num_challenges, int threads, uint8_t root[32],
                       uint64_t *indices, uint8_t *leaves, uint8_t *paths);
/* Master side: the leaf index must be challenge j and the path must reach root. */
int wd_post_verify(const uint8_t root[32], uint64_t sector_id, const uint8_t randomness[32],
                   uint64_t j, unsigned depth, uint64_t leaf_index, const uint8_t leaf[32],
                   const uint8_t *siblings);

/* ---- Devices and backend.
 * libwdpost_cuda.so is dlopen()ed on first use from $WDPOST_CUDA_LIB, then the
 * executable's directory, then the default library path; WDPOST_NO_GPU=1
 * forces the CPU. With it loaded, merkle chunk hashing and synthetic go to GPU 0
 * of the visible devices (CUDA_VISIBLE_DEVICES). */

typedef struct wd_device {
    char name[256];
    uint64_t memory_bytes;
    int32_t sm_count;
    int32_t cc_major;
    int32_t cc_minor;
    int32_t cuda_cores; /* sm_count * cores per SM of the architecture (estimate) */
} wd_device_t;

/* Number of CUDA devices usable (0 on the CPU backend). */
int wd_device_count(void);
int wd_device_info(int index, wd_device_t *out);
/* "cuda" or "cpu". */
const char *wd_backend_name(void);
/* Why this backend: the library path loaded, or why none was. */
const char *wd_backend_detail(void);
/* FP32 cores per SM for a compute capability (0 if unknown). */
int wd_cuda_cores_per_sm(int cc_major, int cc_minor);
/* While set (non-zero) on a thread, that thread's kernel calls use the CPU:
 * lets a probe compare GPU results with CPU results in one process. */
void wd_thread_force_cpu(int force);

/* ------------------------------------------------------------------------
 * Processes (spawn.c).
 * ---------------------------------------------------------------------- */

/* Starts `file` (looked up in PATH when it has no '/', as execvp does) with
 * argv and envp, its stdin, stdout and stderr on in_fd, out_fd and err_fd, in
 * a new process group, with an empty signal mask, every signal at its default
 * disposition, no other descriptor of the caller's, and (Linux) SIGKILL as its
 * parent-death signal. Returns 0 and the pid in *pid_out, or the errno of the
 * step that failed (fork, or in the child: exec, setpgid, ...). Call it from a
 * thread that lives as long as the process: the parent-death signal fires
 * when the calling thread exits. */
int wd_spawn(const char *file, char *const argv[], char *const envp[], int in_fd, int out_fd, int err_fd,
             int32_t *pid_out);
/* pipe(2) with both ends close-on-exec from birth (pipe2, which Swift's Glibc
 * module does not show); 0 or the errno. */
int wd_pipe_cloexec(int fds[2]);

/* ---- ComputeChain transactions (secp256k1.c, over libcrypto) ---- */
/* RIPEMD-160 of len bytes into out[20]. */
int wd_ripemd160(const uint8_t *data, size_t len, uint8_t out[20]);
/* The compressed public key (33 bytes) of a private key (32 bytes, big-endian). */
int wd_secp256k1_public_key(const uint8_t priv[32], uint8_t pub[33]);
/* ECDSA over the 32-byte digest itself (no second hash): r || s, 32
 * big-endian bytes each, s in the low half of the order. */
int wd_secp256k1_sign(const uint8_t priv[32], const uint8_t digest[32], uint8_t sig[64]);
/* WD_OK when sig (r || s) is a valid signature of digest by pub (33 bytes,
 * compressed), else WD_ERR_VERIFY. */
int wd_secp256k1_verify(const uint8_t pub[33], const uint8_t digest[32], const uint8_t sig[64]);

#ifdef __cplusplus
}
#endif
#endif
