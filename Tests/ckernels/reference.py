#!/usr/bin/env python3
"""Independent reference for the kernel definitions in docs/KERNELS.md.

Written from the definitions only (hashlib + numpy, no code shared with the
C library). Its output is pasted into test_kernels.c as known answers; run it
again after any change to a definition and compare.

Test buffers: byte i of a buffer is (i * 131 + 7) mod 256.
"""
import hashlib
import numpy as np


def sha(b):
    return hashlib.sha256(b).digest()


def buf(n):
    return bytes((i * 131 + 7) & 0xFF for i in range(n))


# ---- sector tree (tree_d) ----
def node_trunc(left, right):
    h = bytearray(sha(left + right))
    h[31] &= 0x3F
    return bytes(h)


def tree_d_levels(data):
    leaves = [data[i:i + 32].ljust(32, b"\0") for i in range(0, len(data), 32)]
    count = 2
    while count < len(leaves):
        count *= 2
    leaves += [bytes(32)] * (count - len(leaves))
    levels = [leaves]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append([node_trunc(cur[2 * i], cur[2 * i + 1]) for i in range(len(cur) // 2)])
    return levels


def tree_d_root(data):
    return tree_d_levels(data)[-1][0]


def tree_d_path(data, index):
    levels = tree_d_levels(data)
    path = []
    for lvl in levels[:-1]:
        path.append(lvl[index ^ 1])
        index >>= 1
    return b"".join(path)


# ---- synthetic ----
def synthetic_matrix(seed, tag, n):
    m = np.zeros((n, n), dtype=np.int8)
    for i in range(n):
        row = b""
        for jb in range((n + 31) // 32):
            row += sha(seed + tag + i.to_bytes(4, "big") + jb.to_bytes(4, "big"))
        m[i] = np.frombuffer(row[:n], dtype=np.int8)
    return m


def plain_root_and_levels(hashes):
    count = 1
    while count < len(hashes):
        count *= 2
    levels = [list(hashes) + [bytes(32)] * (count - len(hashes))]
    while len(levels[-1]) > 1:
        cur = levels[-1]
        levels.append([sha(cur[2 * i] + cur[2 * i + 1]) for i in range(len(cur) // 2)])
    return levels[-1][0], levels


def synthetic(block_hash, worker, n):
    seed = sha(block_hash.encode() + worker.encode())
    a = synthetic_matrix(seed, b"A", n).astype(np.int64)
    b = synthetic_matrix(seed, b"B", n).astype(np.int64)
    c = a @ b
    assert np.abs(c).max() < 2**31
    c = c.astype("<i4")
    row_hashes = [sha(c[i].tobytes()) for i in range(n)]
    root, levels = plain_root_and_levels(row_hashes)
    return seed, c, row_hashes, root, levels


def challenge_row(root, t, n):
    return int.from_bytes(sha(root + t.to_bytes(4, "big"))[:4], "big") % n


# ---- wdpost ----
def post_index(randomness, sector_id, j, leaf_count):
    h = sha(randomness + sector_id.to_bytes(8, "little") + j.to_bytes(8, "little"))
    return int.from_bytes(h[:8], "little") % leaf_count


def main():
    print("sha256_abc", sha(b"abc").hex())
    print("node_0_63", node_trunc(bytes(range(32)), bytes(range(32, 64))).hex())
    for n in (0, 1, 32, 33, 1000, 600000, 1000003):
        print("tree_d_root_%d" % n, tree_d_root(buf(n)).hex())
    data = buf(1000)
    path = tree_d_path(data, 5)
    print("tree_d_1000_leaf5", data[160:192].hex())
    print("tree_d_1000_path5", path.hex())
    big = buf(1000003)
    for idx in (0, 12345, 31250, 32767):
        print("tree_d_1000003_path%d_sha" % idx, sha(tree_d_path(big, idx)).hex())
    for bh, w, n in (("00ab", "worker-1", 64), ("00ab", "worker-1", 100), ("x", "y", 1), ("x", "y", 3)):
        seed, c, rh, root, levels = synthetic(bh, w, n)
        tag = "synthetic_%d" % n
        print(tag + "_seed", seed.hex())
        print(tag + "_root", root.hex())
        print(tag + "_c00", int(c[0, 0]), "c_last", int(c[n - 1, n - 1]))
        print(tag + "_challenges", " ".join(str(challenge_row(root, t, n)) for t in range(8)))
        if n == 100:
            print(tag + "_row7_hash", rh[7].hex())
            p = []
            idx = 7
            for lvl in levels[:-1]:
                p.append(lvl[idx ^ 1])
                idx >>= 1
            print(tag + "_row7_path_sha", sha(b"".join(p)).hex())
    rnd = bytes(range(32))
    print("post_indices_s42_L32768", " ".join(str(post_index(rnd, 42, j, 32768)) for j in range(10)))
    print("post_indices_s7_L2", " ".join(str(post_index(rnd, 7, j, 2)) for j in range(10)))


if __name__ == "__main__":
    main()
