import CKernels
import Foundation

public struct KernelError: Error, CustomStringConvertible {
    public let code: Int32
    public let description: String

    /// Turns a C status into a Swift error carrying the thread's message.
    static func check(_ rc: Int32) throws {
        guard rc == WD_OK else { throw KernelError(code: rc, description: String(cString: wd_last_error())) }
    }
}

public typealias Hash32 = [UInt8]

/// Swift face of the C kernel library (Sources/CKernels); definitions in docs/KERNELS.md.
public enum Kernels {
    public static var backend: String { String(cString: wd_backend_name()) }
    public static var backendDetail: String { String(cString: wd_backend_detail()) }

    public struct Device: Codable, Sendable {
        public var index: Int
        public var name: String
        public var memoryBytes: UInt64
        public var smCount: Int
        public var computeCapability: String
        public var cudaCores: Int
    }

    public static func devices() -> [Device] {
        (0..<max(0, Int(wd_device_count()))).compactMap { i in
            var info = wd_device_t()
            guard wd_device_info(Int32(i), &info) == WD_OK else { return nil }
            let name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            return Device(index: i, name: name, memoryBytes: info.memory_bytes, smCount: Int(info.sm_count),
                          computeCapability: "\(info.cc_major).\(info.cc_minor)", cudaCores: Int(info.cuda_cores))
        }
    }

    // MARK: sector Merkle tree

    public static func merkleRoot(file path: String, threads: Int = 0) throws -> Hash32 {
        var root = Hash32(repeating: 0, count: 32)
        try KernelError.check(wd_merkle_root_file(path, Int32(threads), &root))
        return root
    }

    public static func merkleRoot(data: [UInt8], threads: Int = 0) throws -> Hash32 {
        var root = Hash32(repeating: 0, count: 32)
        try KernelError.check(data.withUnsafeBufferPointer { wd_merkle_root_mem($0.baseAddress, UInt64(data.count), Int32(threads), &root) })
        return root
    }

    // MARK: synthetic

    public struct SyntheticProof: Sendable {
        public var root: Hash32
        public var rows: [UInt32]
        public var values: [[Int32]]
        public var paths: [[Hash32]]
    }

    public static func syntheticRoot(blockHash: String, worker: String, n: UInt32, threads: Int = 0) throws -> Hash32 {
        var root = Hash32(repeating: 0, count: 32)
        try KernelError.check(wd_synthetic_compute(blockHash, worker, n, Int32(threads), &root, nil))
        return root
    }

    public static func syntheticProve(blockHash: String, worker: String, n: UInt32, k: UInt32, threads: Int = 0) throws -> SyntheticProof {
        let depth = Int(wd_synthetic_depth(n))
        var root = Hash32(repeating: 0, count: 32)
        var rows = [UInt32](repeating: 0, count: Int(k))
        var values = [Int32](repeating: 0, count: Int(k) * Int(n))
        var paths = [UInt8](repeating: 0, count: Int(k) * depth * 32)
        try KernelError.check(wd_synthetic_prove(blockHash, worker, n, k, Int32(threads), &root, &rows, &values, &paths))
        return SyntheticProof(root: root, rows: rows,
                              values: (0..<Int(k)).map { Array(values[$0 * Int(n)..<($0 + 1) * Int(n)]) },
                              paths: (0..<Int(k)).map { split(Array(paths[$0 * depth * 32..<($0 + 1) * depth * 32])) })
    }

    public static func syntheticDepth(_ n: UInt32) -> Int { Int(wd_synthetic_depth(n)) }

    public static func syntheticChallengeRow(root: Hash32, t: UInt32, n: UInt32) -> UInt32 {
        wd_synthetic_challenge_row(root, t, n)
    }

    public static func syntheticRow(blockHash: String, worker: String, n: UInt32, row: UInt32) throws -> [Int32] {
        var values = [Int32](repeating: 0, count: Int(n))
        try KernelError.check(wd_synthetic_row(blockHash, worker, n, row, &values))
        return values
    }

    public static func syntheticVerifyRow(root: Hash32, n: UInt32, row: UInt32, values: [Int32], path: [Hash32]) -> Bool {
        let siblings = path.flatMap { $0 }
        return wd_synthetic_verify_row(root, n, row, values, siblings) == WD_OK
    }

    // MARK: wdpost model

    public struct SectorProof: Sendable {
        public var root: Hash32
        public var indices: [UInt64]
        public var leaves: [Hash32]
        public var paths: [[Hash32]]
    }

    public static func postProve(file path: String, sectorID: UInt64, randomness: Hash32, challenges: UInt32, threads: Int = 0) throws -> SectorProof {
        var depth: UInt32 = 0
        try KernelError.check(wd_post_sector_depth(path, &depth))
        let d = Int(depth), c = Int(challenges)
        var root = Hash32(repeating: 0, count: 32)
        var indices = [UInt64](repeating: 0, count: c)
        var leaves = [UInt8](repeating: 0, count: c * 32)
        var paths = [UInt8](repeating: 0, count: c * d * 32)
        try KernelError.check(wd_post_prove_file(path, sectorID, randomness, challenges, Int32(threads), &root, &indices, &leaves, &paths))
        return SectorProof(root: root, indices: indices, leaves: split(leaves),
                           paths: (0..<c).map { split(Array(paths[$0 * d * 32..<($0 + 1) * d * 32])) })
    }

    public static func postVerify(root: Hash32, sectorID: UInt64, randomness: Hash32, j: UInt64, leafIndex: UInt64,
                                  leaf: Hash32, path: [Hash32]) -> Bool {
        guard root.count == 32, randomness.count == 32, leaf.count == 32, path.allSatisfy({ $0.count == 32 }), path.count <= 64 else { return false }
        return wd_post_verify(root, sectorID, randomness, j, UInt32(path.count), leafIndex, leaf, path.flatMap { $0 }) == WD_OK
    }

    static func split(_ bytes: [UInt8]) -> [Hash32] {
        stride(from: 0, to: bytes.count, by: 32).map { Array(bytes[$0..<min($0 + 32, bytes.count)]) }
    }
}

public enum Hex {
    public static func decode(_ text: String) -> [UInt8]? {
        var s = Substring(text)
        if s.hasPrefix("0x") { s = s.dropFirst(2) }
        guard s.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(s.count / 2)
        var i = s.startIndex
        while i < s.endIndex {
            let j = s.index(i, offsetBy: 2)
            guard let b = UInt8(s[i..<j], radix: 16) else { return nil }
            out.append(b)
            i = j
        }
        return out
    }
}
