import Foundation
import Shared

func decodeInput<T: Decodable>(_ type: T.Type, _ job: Assignment) throws -> T {
    do { return try JSONDecoder().decode(type, from: job.input) } catch {
        throw JobFailure("\(job.kind): malformed input: \(error)")
    }
}

/// `synthetic`: the matrix product and its row commitment, with k opened rows.
public struct SyntheticRunner: Runner {
    public init() {}

    public func run(_ job: Assignment) async throws -> Data {
        let input = try decodeInput(SyntheticInput.self, job)
        try input.validate()
        let proof = try await onThread("wdpost-kernel") {
            try Kernels.syntheticProve(blockHash: input.blockHash, worker: input.workerAddress, n: input.n, k: input.challenges)
        }
        let rows = zip(proof.rows, zip(proof.values, proof.paths)).map { row, vp in
            SyntheticRowProof(row: row, values: vp.0, path: vp.1.map(\.hex))
        }
        return try JSONEncoder().encode(SyntheticOutput(root: proof.root.hex, rows: rows))
    }
}

/// `wdpost` (model of WindowPoSt): challenged leaves of each sector with their paths.
public struct PoStRunner: Runner {
    public init() {}

    public func run(_ job: Assignment) async throws -> Data {
        let input = try decodeInput(PoStInput.self, job)
        try input.validate()
        let randomness = try input.randomnessBytes()
        var sectors: [SectorProofOutput] = []
        for sector in input.sectors {
            try Task.checkCancellation()
            let proof: Kernels.SectorProof
            do {
                proof = try await onThread("wdpost-kernel") {
                    try Kernels.postProve(file: sector.path, sectorID: sector.id, randomness: randomness, challenges: input.challengeCount)
                }
            } catch {
                throw JobFailure("wdpost: sector \(sector.id) (\(sector.path)): \(error)")
            }
            let proofs = (0..<proof.indices.count).map { j in
                LeafProof(j: UInt64(j), index: proof.indices[j], leaf: proof.leaves[j].hex, path: proof.paths[j].map(\.hex))
            }
            sectors.append(SectorProofOutput(id: sector.id, proofs: proofs))
        }
        return try JSONEncoder().encode(PoStOutput(sectors: sectors))
    }
}
