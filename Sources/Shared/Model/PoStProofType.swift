import Foundation

/// The RegisteredPoStProof names a damocles task carries; the sector size is in the name.
public struct PoStProofType: Equatable, Sendable {
    public var name: String
    public var kind: String
    public var sectorSize: String

    public static let sizes = ["2KiB", "8MiB", "512MiB", "32GiB", "64GiB"]

    public init?(name: String) {
        for size in Self.sizes {
            if name == "StackedDrgWindow\(size)V1" || name == "StackedDrgWindow\(size)V1_2" {
                self.name = name; kind = JobKind.windowPoSt; sectorSize = size; return
            }
            if name == "StackedDrgWinning\(size)V1" {
                self.name = name; kind = JobKind.winningPoSt; sectorSize = size; return
            }
        }
        return nil
    }

    public static var knownNames: String {
        "StackedDrgWindow{\(sizes.joined(separator: ","))}{V1,V1_2} or StackedDrgWinning{…}V1"
    }
}
