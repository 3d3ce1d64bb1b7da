import Foundation
import Shared

/// The ComputeChain driver's figures in Prometheus' text format, one series
/// per worker address (a handful of accounts, so labels stay few).
enum ComputeChainMetrics {
    static func render(_ status: ComputeChainStatus?) -> String {
        guard let status, status.enabled else { return "" }
        var out = "# HELP wdpost_computechain_node_up Whether the last call to the ComputeChain node succeeded.\n"
        out += "# TYPE wdpost_computechain_node_up gauge\nwdpost_computechain_node_up \(status.nodeReachable ? 1 : 0)\n"
        out += "# HELP wdpost_computechain_height The node's chain height as last seen.\n"
        out += "# TYPE wdpost_computechain_height gauge\nwdpost_computechain_height \(status.height)\n"
        let gauges: [(String, String, (ComputeChainStatus.Worker) -> String)] = [
            ("results", "Tasks by state: computing, waiting (for a nonce or first send), submitted (not yet in a block), in_blocks, failed.", { _ in "" }),
            ("last_block_tasked", "Newest block height the worker got a task for.", { "\($0.lastBlockTasked)" }),
            ("nonce", "The account's next nonce, as the node last said.", { "\($0.nonce)" }),
            ("balance", "The account's balance in the smallest unit, as the node last said.", { Decimal(string: $0.balance).map { "\($0)" } ?? "NaN" }),
            ("sends_total", "Transactions posted since the master started.", { "\($0.sends)" }),
            ("resends_total", "Transactions posted again (not in a block within resend_after blocks).", { "\($0.resends)" }),
            ("rejections_total", "Transactions the node refused, since the master started.", { "\($0.rejections)" }),
            ("error", "1 while the worker has an error to show (computechain status says which).", { $0.lastError.isEmpty ? "0" : "1" }),
        ]
        for (name, help, value) in gauges {
            let metric = "wdpost_computechain_\(name)"
            out += "# HELP \(metric) \(help)\n# TYPE \(metric) \(name.hasSuffix("_total") ? "counter" : "gauge")\n"
            for w in status.workers {
                if name == "results" {
                    for (state, n) in [("computing", w.computing), ("waiting", w.waiting), ("submitted", w.submitted),
                                       ("in_blocks", w.inBlocks), ("failed", w.failed)] {
                        out += "\(metric){worker=\"\(w.address)\",state=\"\(state)\"} \(n)\n"
                    }
                } else {
                    out += "\(metric){worker=\"\(w.address)\"} \(value(w))\n"
                }
            }
        }
        return out
    }
}
