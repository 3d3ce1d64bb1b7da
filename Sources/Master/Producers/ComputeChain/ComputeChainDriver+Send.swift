import Foundation
import Shared

/// Signing and posting results, and what a refusal means for a result's nonce.
extension ComputeChainDriver {
    func send(for w: ComputeChainWorker, account: ComputeChainNode.Account, height: Int64) async throws {
        let fee = SubmitResultTransaction.fee
        let lowBalance = "balance \(account.balance) is below the fee of \(fee) for a result: fund \(w.address)"
        let address = w.address
        let resendAfter = Int64(config.resendAfter)
        // Assign and record before posting: a crash between the two leaves a
        // transaction the next rounds send again, never one sent unrecorded.
        let covered = TokenAmount.covers(account.balance, fee: fee)
        let planned = try await executor.runChain { _, chain -> [(ChainTask, resend: Bool)] in
            let mine = try chain.chainTasks(states: [.sent, .ready]).filter { $0.worker == address }
            var plan: [(ChainTask, resend: Bool)] = []
            for var t in mine where t.state == .sent && height - t.sentHeight >= resendAfter {
                t.sentHeight = height
                t.sends += 1
                try chain.updateChainTask(t, now: self.executor.clock.now())
                plan.append((t, true))
            }
            guard covered else { return plan }
            var nonces = NonceAllocator(accountNonce: account.nonce, inFlight: mine.filter { $0.state == .sent }.map(\.nonce))
            for var t in mine where t.state == .ready {
                t.nonce = nonces.take()
                t.txHash = self.transaction(t, w).hashHex
                t.state = .sent
                t.sentHeight = height
                t.sends += 1
                try chain.updateChainTask(t, now: self.executor.clock.now())
                plan.append((t, false))
            }
            return plan
        }
        if covered { w.clearError(lowBalance) } else if w.fail(lowBalance) { logger.warning("computechain: \(lowBalance)") }
        for (t, resend) in planned.sorted(by: { $0.0.nonce < $1.0.nonce }) {
            let tx = transaction(t, w)
            let answer: ComputeChainNode.SendAnswer
            do {
                answer = try await node.send(try tx.signedBody(with: w.key))
            } catch {
                // The node may have it: left as sent, so it goes again after `resend_after` blocks.
                w.fail("sending task \(t.taskID): \(error)")
                continue
            }
            w.counted(sends: 1, resends: resend ? 1 : 0)
            if answer.received || answer.error == "already_in_pool" { continue }
            try await refused(t, answer.error, worker: w)
            // A low balance refuses the rest too; wait for the next round's balance.
            if answer.error.contains("insufficient_balance") { break }
        }
    }

    func transaction(_ t: ChainTask, _ w: ComputeChainWorker) -> SubmitResultTransaction {
        SubmitResultTransaction(fromAddress: w.address, nonce: t.nonce, publicKey: w.key.publicKeyHex, taskID: t.taskID, resultHash: t.resultHash)
    }

    /// The node refused a transaction. A spent nonce is left to
    /// `requeueSpent` (the block that spent it may hold this very result);
    /// anything else was never admitted, so the result waits for a new nonce.
    func refused(_ t: ChainTask, _ reason: String, worker w: ComputeChainWorker) async throws {
        if reason.contains("nonce_too_low") { return }
        w.counted(rejections: 1)
        let balance = reason.contains("insufficient_balance")
        var t = t
        t.state = .ready
        t.nonce = -1
        t.txHash = ""
        t.error = "refused by the node: \(reason)"
        if !balance { t.rejections += 1 }
        if t.rejections >= Self.maxRejections {
            t.state = .failed
            t.error = "refused by the node \(t.rejections) times, last: \(reason)"
        }
        let task = t
        try await executor.runChain { _, chain in try chain.updateChainTask(task, now: self.executor.clock.now()) }
        if w.fail("task \(t.taskID): \(t.error)") { logger.warning("computechain: task \(t.taskID) (\(w.address)): \(t.error)") }
    }

}
