import Foundation
import Shared

/// Inclusion is read from the blocks themselves: the node drops a bad
/// payload silently and its receipt stays pending, so only a block says a
/// result is on the chain.
extension ComputeChainDriver {
    /// Reads blocks for inclusions, at most `scanBlocksPerTick` a round;
    /// true when every block up to `height` has been read.
    func readBlocks(upTo height: Int64) async throws -> Bool {
        if scanned == nil {
            // From the oldest send still unconfirmed (a restart may have missed its block).
            let oldest = try await executor.runChain { _, chain in try chain.chainTasks(states: [.sent]).map(\.sentHeight).min() }
            scanned = oldest.map { $0 - 1 } ?? height
        }
        guard var at = scanned, at < height else { return true }
        let ours = Set(workers.map(\.address))
        let stop = min(height, at + Self.scanBlocksPerTick)
        while at < stop {
            let block = try await node.block(at + 1)
            let found = block.results.filter { ours.contains($0.from) }
            if !found.isEmpty { try await confirm(found, height: at + 1) }
            at += 1
            scanned = at
        }
        return at >= height
    }

    func confirm(_ found: [ComputeChainNode.IncludedResult], height: Int64) async throws {
        let notes = try await executor.runChain { _, chain -> [String] in
            var notes: [String] = []
            for r in found {
                guard var t = try chain.chainTask(id: r.taskID), t.worker == r.from else {
                    notes.append("block \(height) holds a result of \(r.from) for task \(r.taskID), which this master did not send")
                    continue
                }
                if t.state == .confirmed {
                    if t.confirmedHeight != height { notes.append("task \(t.taskID) is in block \(height) again (first in \(t.confirmedHeight))") }
                    continue
                }
                if r.resultHash != t.resultHash { notes.append("block \(height) holds task \(t.taskID) with result \(r.resultHash), expected \(t.resultHash)") }
                t.state = .confirmed
                t.confirmedHeight = height
                t.error = ""
                try chain.updateChainTask(t, now: self.executor.clock.now())
            }
            return notes
        }
        for note in notes { logger.warning("computechain: \(note)") }
    }

    /// A result sent with a nonce the account has passed, and not seen in
    /// any block up to the height that nonce reflects, lost its nonce to
    /// another transaction: it gets a new one.
    func requeueSpent(_ accounts: [String: ComputeChainNode.Account]) async throws {
        try await executor.runChain { _, chain in
            for var t in try chain.chainTasks(states: [.sent]) {
                guard let a = accounts[t.worker], t.nonce < a.nonce else { continue }
                t.error = "nonce \(t.nonce) was used by another transaction; sending again with a new one"
                t.state = .ready
                t.nonce = -1
                try chain.updateChainTask(t, now: self.executor.clock.now())
            }
        }
    }

}
