import Foundation
import Shared

/// Checks a slave's result before the master counts it as `Succeed`. A result
/// that does not verify becomes a failed attempt ("verification failed: …").
enum ResultVerifier {
    static let verifiedKinds: Set<String> = [JobKind.synthetic, JobKind.wdpost]

    /// nil when the output verifies (or the kind is not verified); else the reason.
    static func check(kind: String, input: Data, output: Data) -> String? {
        do {
            switch kind {
            case JobKind.synthetic: try synthetic(input: input, output: output)
            case JobKind.wdpost: try post(input: input, output: output)
            default: break
            }
            return nil
        } catch {
            return "verification failed: \(error)"
        }
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
        init(_ d: String) { description = d }
    }

    static func hash(_ text: String, _ what: String) throws -> Hash32 {
        guard let bytes = Hex.decode(text), bytes.count == 32 else { throw Failure("\(what) is not 32 bytes of hex") }
        return bytes
    }

    /// Recomputes the k challenged rows from the seed in O(k·n²) and checks
    /// them, their positions (derived from the root) and their paths.
    static func synthetic(input: Data, output: Data) throws {
        let job = try JSONDecoder().decode(SyntheticInput.self, from: input)
        try job.validate()
        guard let out = try? JSONDecoder().decode(SyntheticOutput.self, from: output) else { throw Failure("output is not a synthetic result") }
        let root = try hash(out.root, "root")
        guard out.rows.count == Int(job.challenges) else { throw Failure("\(out.rows.count) rows opened, \(job.challenges) challenged") }
        let depth = Kernels.syntheticDepth(job.n)
        for (t, proof) in out.rows.enumerated() {
            let expected = Kernels.syntheticChallengeRow(root: root, t: UInt32(t), n: job.n)
            guard proof.row == expected else { throw Failure("challenge \(t) opened row \(proof.row), expected \(expected)") }
            guard proof.values.count == Int(job.n), proof.path.count == depth else { throw Failure("row \(proof.row) has the wrong size") }
            let truth = try Kernels.syntheticRow(blockHash: job.blockHash, worker: job.workerAddress, n: job.n, row: proof.row)
            guard truth == proof.values else { throw Failure("row \(proof.row) does not match A·B") }
            let path = try proof.path.map { try hash($0, "path of row \(proof.row)") }
            guard Kernels.syntheticVerifyRow(root: root, n: job.n, row: proof.row, values: proof.values, path: path) else {
                throw Failure("path of row \(proof.row) does not lead to the root")
            }
        }
    }

    /// Every challenge of every sector: the right leaf index, and a path to the sector's committed root.
    static func post(input: Data, output: Data) throws {
        let job = try JSONDecoder().decode(PoStInput.self, from: input)
        try job.validate()
        let randomness = try job.randomnessBytes()
        guard let out = try? JSONDecoder().decode(PoStOutput.self, from: output) else { throw Failure("output is not a wdpost proof") }
        let bySector = Dictionary(out.sectors.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for sector in job.sectors {
            guard let proof = bySector[sector.id] else { throw Failure("no proof for sector \(sector.id)") }
            guard proof.proofs.count == Int(job.challengeCount) else { throw Failure("sector \(sector.id): \(proof.proofs.count) of \(job.challengeCount) challenges answered") }
            let root = try hash(sector.root, "root of sector \(sector.id)")
            for (j, leaf) in proof.proofs.enumerated() {
                guard leaf.j == UInt64(j) else { throw Failure("sector \(sector.id): challenges out of order") }
                let path = try leaf.path.map { try hash($0, "path") }
                guard Kernels.postVerify(root: root, sectorID: sector.id, randomness: randomness, j: UInt64(j), leafIndex: leaf.index,
                                         leaf: try hash(leaf.leaf, "leaf"), path: path) else {
                    throw Failure("sector \(sector.id) challenge \(j): leaf \(leaf.index) does not verify")
                }
            }
        }
    }
}
