import Foundation

/// BLAKE2b (RFC 7693) with a chosen digest length of 1…64 bytes and an
/// optional key of up to 64 bytes. DeepBrainChain hashes machine infos with a
/// 16-byte digest (`blake2_128` on chain, `blake2b(digest_size=16)` in its
/// scripts); OpenSSL 3.0's EVP interface cannot set the digest length, so
/// this is written out here from the RFC.
public struct Blake2b {
    static let iv: [UInt64] = [
        0x6A09_E667_F3BC_C908, 0xBB67_AE85_84CA_A73B, 0x3C6E_F372_FE94_F82B, 0xA54F_F53A_5F1D_36F1,
        0x510E_527F_ADE6_82D1, 0x9B05_688C_2B3E_6C1F, 0x1F83_D9AB_FB41_BD6B, 0x5BE0_CD19_137E_2179,
    ]

    /// Message word schedule, RFC 7693 section 2.7; rounds 10 and 11 reuse rows 0 and 1.
    static let sigma: [[Int]] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
        [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
        [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
        [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
        [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
        [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
        [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
        [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
        [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
        [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0],
    ]

    static let blockBytes = 128

    private var h: [UInt64]
    private var block: [UInt8] = []
    /// Bytes compressed so far (the 128-bit counter t; 64 bits are plenty here
    /// but the high word is carried so the definition is followed exactly).
    private var t0: UInt64 = 0
    private var t1: UInt64 = 0
    public let digestLength: Int

    /// - Parameters:
    ///   - digestLength: output bytes, 1…64.
    ///   - key: 0…64 bytes; a keyed hash is a MAC.
    public init(digestLength: Int, key: [UInt8] = []) {
        precondition((1...64).contains(digestLength), "BLAKE2b digest length must be 1…64 bytes")
        precondition(key.count <= 64, "BLAKE2b key must be at most 64 bytes")
        self.digestLength = digestLength
        h = Self.iv
        // Parameter block word 0: digest length, key length, fanout 1, depth 1.
        h[0] ^= 0x0101_0000 ^ (UInt64(key.count) << 8) ^ UInt64(digestLength)
        block.reserveCapacity(Self.blockBytes)
        if !key.isEmpty {
            // The key, zero-padded to one full block, is the first block of input.
            block = key + [UInt8](repeating: 0, count: Self.blockBytes - key.count)
        }
    }

    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for byte in bytes {
            // The last block is compressed in `finalize` with the final flag,
            // so a full buffer is only compressed when more input follows.
            if block.count == Self.blockBytes {
                addToCounter(UInt64(Self.blockBytes))
                compress(last: false)
                block.removeAll(keepingCapacity: true)
            }
            block.append(byte)
        }
    }

    public mutating func finalize() -> [UInt8] {
        addToCounter(UInt64(block.count))
        block += [UInt8](repeating: 0, count: Self.blockBytes - block.count)
        compress(last: true)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for word in h {
            for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: word >> (8 * UInt64(i)))) }
        }
        return Array(out.prefix(digestLength))
    }

    /// One-shot hash.
    public static func hash<S: Sequence>(_ bytes: S, digestLength: Int, key: [UInt8] = []) -> [UInt8] where S.Element == UInt8 {
        var state = Blake2b(digestLength: digestLength, key: key)
        state.update(bytes)
        return state.finalize()
    }

    private mutating func addToCounter(_ n: UInt64) {
        let (sum, overflow) = t0.addingReportingOverflow(n)
        t0 = sum
        if overflow { t1 &+= 1 }
    }

    @inline(__always)
    private static func rotr(_ x: UInt64, _ n: UInt64) -> UInt64 { (x >> n) | (x << (64 - n)) }

    /// The compression function F (RFC 7693 section 3.2) over `block`.
    private mutating func compress(last: Bool) {
        var m = [UInt64](repeating: 0, count: 16)
        for i in 0..<16 {
            var word: UInt64 = 0
            for j in 0..<8 { word |= UInt64(block[8 * i + j]) << (8 * UInt64(j)) }
            m[i] = word
        }
        var v = h + Self.iv
        v[12] ^= t0
        v[13] ^= t1
        if last { v[14] = ~v[14] }

        @inline(__always)
        func mix(_ a: Int, _ b: Int, _ c: Int, _ d: Int, _ x: UInt64, _ y: UInt64) {
            v[a] = v[a] &+ v[b] &+ x
            v[d] = Self.rotr(v[d] ^ v[a], 32)
            v[c] = v[c] &+ v[d]
            v[b] = Self.rotr(v[b] ^ v[c], 24)
            v[a] = v[a] &+ v[b] &+ y
            v[d] = Self.rotr(v[d] ^ v[a], 16)
            v[c] = v[c] &+ v[d]
            v[b] = Self.rotr(v[b] ^ v[c], 63)
        }

        for round in 0..<12 {
            let s = Self.sigma[round % 10]
            mix(0, 4, 8, 12, m[s[0]], m[s[1]])
            mix(1, 5, 9, 13, m[s[2]], m[s[3]])
            mix(2, 6, 10, 14, m[s[4]], m[s[5]])
            mix(3, 7, 11, 15, m[s[6]], m[s[7]])
            mix(0, 5, 10, 15, m[s[8]], m[s[9]])
            mix(1, 6, 11, 12, m[s[10]], m[s[11]])
            mix(2, 7, 8, 13, m[s[12]], m[s[13]])
            mix(3, 4, 9, 14, m[s[14]], m[s[15]])
        }
        for i in 0..<8 { h[i] ^= v[i] ^ v[i + 8] }
    }
}
