import Foundation

/// Inputs and outputs of the built-in `synthetic` and `wdpost` kinds, as JSON.
/// Hashes travel as lowercase hex.

public struct SyntheticInput: Codable, Sendable {
    public var blockHash: String
    public var workerAddress: String
    public var n: UInt32
    /// Challenged rows the worker must open (default 8).
    public var k: UInt32?

    enum CodingKeys: String, CodingKey {
        case blockHash = "block_hash", workerAddress = "worker_address", n, k
    }

    public init(blockHash: String, workerAddress: String, n: UInt32, k: UInt32? = nil) {
        self.blockHash = blockHash; self.workerAddress = workerAddress; self.n = n; self.k = k
    }

    public static let defaultK: UInt32 = 8
    public var challenges: UInt32 { k ?? Self.defaultK }

    public func validate() throws {
        guard n >= 1, n <= 16384 else { throw ErrorMessage("synthetic: n must be in 1…16384, got \(n)") }
        guard challenges >= 1, challenges <= 64 else { throw ErrorMessage("synthetic: k must be in 1…64") }
    }
}

public struct SyntheticRowProof: Codable, Sendable {
    public var row: UInt32
    public var values: [Int32]
    public var path: [String]
    public init(row: UInt32, values: [Int32], path: [String]) { self.row = row; self.values = values; self.path = path }
}

public struct SyntheticOutput: Codable, Sendable {
    public var root: String
    public var rows: [SyntheticRowProof]
    public init(root: String, rows: [SyntheticRowProof]) { self.root = root; self.rows = rows }
}

public struct SectorInput: Codable, Sendable {
    public var id: UInt64
    public var path: String
    /// The sector's committed tree root: the master checks proofs against this.
    public var root: String
    public init(id: UInt64, path: String, root: String) { self.id = id; self.path = path; self.root = root }
}

public struct PoStInput: Codable, Sendable {
    public var randomness: String
    public var challenges: UInt32?
    public var sectors: [SectorInput]
    public init(randomness: String, challenges: UInt32? = nil, sectors: [SectorInput]) {
        self.randomness = randomness; self.challenges = challenges; self.sectors = sectors
    }

    public static let defaultChallenges: UInt32 = 10
    public var challengeCount: UInt32 { challenges ?? Self.defaultChallenges }

    /// An empty proof would verify vacuously, so a job must challenge something;
    /// and an input no proof can verify against (a bad root, randomness, a
    /// sector twice) would only burn every try, so it is refused at submit.
    public func validate() throws {
        guard !sectors.isEmpty else { throw ErrorMessage("wdpost: the job lists no sectors") }
        guard (1...1000).contains(challengeCount) else { throw ErrorMessage("wdpost: challenges must be in 1…1000, got \(challengeCount)") }
        _ = try randomnessBytes()
        var seen = Set<UInt64>()
        for sector in sectors {
            guard seen.insert(sector.id).inserted else { throw ErrorMessage("wdpost: sector \(sector.id) is listed twice") }
            guard !sector.path.isEmpty else { throw ErrorMessage("wdpost: sector \(sector.id) has no path") }
            guard let root = Hex.decode(sector.root), root.count == 32 else {
                throw ErrorMessage("wdpost: the root of sector \(sector.id) must be 32 bytes of hex")
            }
        }
    }

    public func randomnessBytes() throws -> [UInt8] {
        guard let r = Hex.decode(randomness), r.count == 32 else { throw ErrorMessage("wdpost: randomness must be 32 bytes of hex") }
        return r
    }
}

public struct LeafProof: Codable, Sendable {
    public var j: UInt64
    public var index: UInt64
    public var leaf: String
    public var path: [String]
    public init(j: UInt64, index: UInt64, leaf: String, path: [String]) { self.j = j; self.index = index; self.leaf = leaf; self.path = path }
}

public struct SectorProofOutput: Codable, Sendable {
    public var id: UInt64
    public var proofs: [LeafProof]
    public init(id: UInt64, proofs: [LeafProof]) { self.id = id; self.proofs = proofs }
}

public struct PoStOutput: Codable, Sendable {
    public var sectors: [SectorProofOutput]
    public init(sectors: [SectorProofOutput]) { self.sectors = sectors }
}
