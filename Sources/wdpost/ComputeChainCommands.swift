import ArgumentParser
import Foundation
import Shared

struct ComputeChainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "computechain", abstract: "The ComputeChain driver: tasks per block and worker, results submitted to the L1 node.",
        subcommands: [ComputeChainStatusCommand.self])
}

struct ComputeChainStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Per worker: address, balance, last block tasked, results submitted / in blocks / failed, last error.")

    @OptionGroup var admin: AdminOptions
    @Flag(help: "JSON") var json = false

    func run() async throws {
        let status = try await withAdmin(admin) { try await $0.computechainStatus() }
        if json {
            print(String(decoding: try JobTable.jsonEncoder.encode(status), as: UTF8.self))
            return
        }
        guard status.enabled else {
            print("ComputeChain: off ([computechain] lists no workers)")
            return
        }
        print("node \(status.node): \(status.nodeReachable ? "reachable" : "UNREACHABLE"), height \(status.height)")
        let header = ["Address", "Slave", "Balance", "Nonce", "LastBlock", "Computing", "Waiting", "Submitted", "InBlocks", "Failed", "Resent", "Error"]
        let rows = status.workers.map { w in
            [w.address, w.slave ?? "-", w.balance.isEmpty ? "?" : w.balance, String(w.nonce), String(w.lastBlockTasked), String(w.computing),
             String(w.waiting), String(w.submitted), String(w.inBlocks), String(w.failed), String(w.resends), w.lastError.isEmpty ? "-" : w.lastError]
        }
        let widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
        for row in [header] + rows {
            print(row.indices.map { i in i == row.count - 1 ? row[i] : row[i].padding(toLength: widths[i], withPad: " ", startingAt: 0) }
                .joined(separator: "  "))
        }
    }
}
