import ArgumentParser
import Foundation
import Shared

struct KernelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel", abstract: "Run the proof and compute kernels directly (definitions: docs/KERNELS.md).",
        subcommands: [MerkleRoot.self, SyntheticRoot.self, DevicesCommand.self])
}

struct MerkleRoot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "merkle-root", abstract: "Print the sector Merkle root of a file (64 hex characters).")
    @Argument(help: "The file") var file: String
    @Option(help: "CPU threads (0 = all)") var threads: Int = 0

    func run() throws {
        do { print(try Kernels.merkleRoot(file: file, threads: threads).hex) } catch { throw fail("\(error)") }
    }
}

struct SyntheticRoot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "synthetic", abstract: "Print the result root of a synthetic job.")
    @Option(name: .customLong("block-hash")) var blockHash: String
    @Option var worker: String
    @Option var n: UInt32
    @Option(help: "CPU threads (0 = all)") var threads: Int = 0

    func run() throws {
        do {
            try SyntheticInput(blockHash: blockHash, workerAddress: worker, n: n).validate()
            print(try Kernels.syntheticRoot(blockHash: blockHash, worker: worker, n: n, threads: threads).hex)
        } catch { throw fail("\(error)") }
    }
}

struct DevicesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "devices", abstract: "List the GPUs the kernel shim sees.")

    func run() throws {
        let devices = Kernels.devices()
        print("backend: \(Kernels.backend) (\(Kernels.backendDetail))")
        if devices.isEmpty { print("no GPU: kernels run on the CPU") }
        for d in devices {
            print("\(d.index): \(d.name), \(d.memoryBytes >> 20) MiB, \(d.smCount) SMs, compute \(d.computeCapability), ~\(d.cudaCores) CUDA cores")
        }
    }
}
