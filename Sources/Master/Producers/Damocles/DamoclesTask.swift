import Foundation
import Shared

/// A damocles WindowPoSt or WinningPoSt task (`vc-processors`' `task`), read
/// and checked as a real prover would need it, so a task that can only fail
/// is refused at submit instead of burning every try on the GPUs.
public struct DamoclesTask: Equatable, Sendable {
    public struct Replica: Equatable, Sendable {
        public var sectorID: UInt64
        public var commR: [UInt8]
        public var cacheDir: String
        public var sealedFile: String
    }

    public var minerID: UInt64
    public var proofType: PoStProofType
    public var replicas: [Replica]
    public var seed: [UInt8]

    /// The job kind a task of this proof type is: `window_post` or `winning_post`.
    public var kind: String { proofType.kind }
    /// The job's sector size, as `allowed_sizes` names it ("32GiB").
    public var sectorSize: String { proofType.sectorSize }

    /// Reads a task from its JSON; the error names the field and what was expected.
    public init(json data: Data) throws {
        let value = try data.withUnsafeBytes { bytes in
            do { return try JSONValue.parse(bytes) } catch { throw ErrorMessage("task: not JSON: \(error)") }
        }
        try self.init(json: value)
    }

    public init(json value: JSONValue) throws {
        guard case let .object(fields) = value else { throw ErrorMessage("task: expected a JSON object") }
        minerID = try Self.u64(fields["miner_id"], "miner_id")
        guard case let .string(typeName)? = fields["proof_type"] else {
            throw ErrorMessage("task: proof_type: expected a RegisteredPoStProof name such as \"StackedDrgWindow32GiBV1_2\"")
        }
        guard let proofType = PoStProofType(name: typeName) else {
            throw ErrorMessage("task: proof_type \(PeerName.quoted(typeName)) is not a known RegisteredPoStProof (\(PoStProofType.knownNames))")
        }
        self.proofType = proofType
        guard case let .array(items)? = fields["replicas"], !items.isEmpty else {
            throw ErrorMessage("task: replicas: expected a non-empty array of sectors")
        }
        replicas = try items.enumerated().map { i, item in try Self.replica(item, "replicas[\(i)]") }
        seed = try Self.bytes32(fields["seed"], "seed")
        // damocles masks the seed before sending it (its issue #943: an
        // unmasked seed gave proofs the chain rejected as "Invalid commitment").
        guard seed[31] <= 0x3f else {
            throw ErrorMessage("task: seed[31] is \(seed[31]), above 0x3f (63): the seed is not masked (seed[31] &= 0x3f); proofs from it would be rejected as \"Invalid commitment\"")
        }
    }

    /// A key that is the same for the same task however its JSON was written
    /// (key order, spacing): the kind, then SHA-256 of the fields in a fixed order.
    public var uniqueKey: String {
        var text = "miner_id=\(minerID)\nproof_type=\(proofType.name)\nseed=\(Self.hex(seed))\n"
        for r in replicas {
            // Lengths first, so no path can forge the boundary between fields.
            text += "replica=\(r.sectorID) \(Self.hex(r.commR)) \(r.cacheDir.utf8.count):\(r.cacheDir) \(r.sealedFile.utf8.count):\(r.sealedFile)\n"
        }
        return kind + ":" + Self.hex(Digest.sha256(Array(text.utf8)))
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    static func u64(_ value: JSONValue?, _ what: String) throws -> UInt64 {
        guard case let .int(n)? = value, n >= 0 else {
            throw ErrorMessage("task: \(what): expected an integer from 0 to \(Int64.max)")
        }
        return UInt64(n)
    }

    static func bytes32(_ value: JSONValue?, _ what: String) throws -> [UInt8] {
        let expected = "task: \(what): expected an array of 32 integers 0-255"
        guard case let .array(items)? = value, items.count == 32 else { throw ErrorMessage(expected) }
        return try items.map { item in
            guard case let .int(n) = item, (0...255).contains(n) else { throw ErrorMessage(expected) }
            return UInt8(n)
        }
    }

    static func replica(_ value: JSONValue, _ what: String) throws -> Replica {
        guard case let .object(f) = value else { throw ErrorMessage("task: \(what): expected an object") }
        func path(_ key: String) throws -> String {
            guard case let .string(p)? = f[key], p.hasPrefix("/") else {
                throw ErrorMessage("task: \(what).\(key): expected an absolute path")
            }
            guard !p.unicodeScalars.contains(where: { $0.value == 0 }) else { throw ErrorMessage("task: \(what).\(key): contains a NUL character") }
            return p
        }
        return Replica(sectorID: try u64(f["sector_id"], "\(what).sector_id"), commR: try bytes32(f["comm_r"], "\(what).comm_r"),
                       cacheDir: try path("cache_dir"), sealedFile: try path("sealed_file"))
    }
}
