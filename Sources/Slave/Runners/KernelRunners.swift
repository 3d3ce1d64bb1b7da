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
/// The leaves are bytes of the file and go back to the master, so a sector's
/// path must be inside one of `sectorPaths` (`[slave] sector_paths`); with none,
/// every path is refused.
public struct PoStRunner: Runner {
    let sectorPaths: [String]

    /// `sectorPaths`: real paths (no symlinks), as `SlaveConfig` keeps them.
    public init(sectorPaths: [String]) { self.sectorPaths = sectorPaths }

    /// The real path of `path` (symlinks followed, so that a link inside a
    /// directory cannot point out of it), if it is inside a sector directory.
    func confine(_ path: String) throws -> String {
        guard !sectorPaths.isEmpty else {
            throw JobFailure("refused: this slave reads no sector files ([slave] sector_paths is empty)")
        }
        guard let resolved = realpath(path, nil) else { throw JobFailure(String(cString: strerror(errno))) }
        defer { free(resolved) }
        let real = String(cString: resolved)
        guard sectorPaths.contains(where: { real.hasPrefix($0.hasSuffix("/") ? $0 : $0 + "/") }) else {
            throw JobFailure("refused: \(real) is outside [slave] sector_paths (\(sectorPaths.joined(separator: ", ")))")
        }
        return real
    }

    public func run(_ job: Assignment) async throws -> Data {
        let input = try decodeInput(PoStInput.self, job)
        try input.validate()
        let randomness = try input.randomnessBytes()
        var sectors: [SectorProofOutput] = []
        for sector in input.sectors {
            try Task.checkCancellation()
            let proof: Kernels.SectorProof
            do {
                let file = try confine(sector.path)
                proof = try await onThread("wdpost-kernel") {
                    try Kernels.postProve(file: file, sectorID: sector.id, randomness: randomness, challenges: input.challengeCount)
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
