import Foundation
import TOMLKit

/// `[computechain]`: the master follows a ComputeChain L1 node and makes a
/// `synthetic` task per block and worker; `[[computechain.workers]]` are
/// the accounts results are submitted for. No workers: off.
public struct ComputeChainConfig: Sendable {
    public struct Worker: Sendable {
        /// The key in ComputeChain's keystore format (resolved against the config's folder).
        public var keyFile: String
        /// Pin this worker's tasks to that slave; nil = any slave.
        public var slave: String?
        public init(keyFile: String, slave: String? = nil) { self.keyFile = keyFile; self.slave = slave }
    }

    public var node: String = "http://127.0.0.1:8000"
    /// Matrix size of each task.
    public var n: UInt32 = 1024
    /// A task per worker every `every` blocks (heights divisible by it).
    public var every: Int = 1
    /// How often the node is asked for its status (µs).
    public var poll: Int64 = 1_000_000
    /// A result not in a block this many blocks after it was sent is sent again.
    public var resendAfter: Int = 3
    public var workers: [Worker] = []
    /// "<file>: [computechain.workers] entry N", for messages about a worker.
    public var contexts: [String] = []

    public init() {}
    public var enabled: Bool { !workers.isEmpty }
}

extension MasterConfig {
    static func readComputeChain(_ r: ConfigReader) throws -> ComputeChainConfig {
        var c = ComputeChainConfig()
        let path = r.path
        c.node = try r.string("computechain", "node", default: c.node)
        let n = try r.int("computechain", "n", default: Int(c.n), min: 1)
        guard n <= 16384 else { throw ConfigError("\(path): [computechain] n: expected 1…16384 (the synthetic kind's limit), got \(n)") }
        c.n = UInt32(n)
        c.every = try r.int("computechain", "every", default: c.every, min: 1)
        c.poll = try r.duration("computechain", "poll", default: "1s")
        c.resendAfter = try r.int("computechain", "resend_after", default: c.resendAfter, min: 1)
        guard let value = try r.value("computechain", "workers") else { return c }
        guard let array = value.array else {
            throw ConfigError("\(path): [computechain] workers: expected [[computechain.workers]] tables with key_file (and slave)")
        }
        for (i, item) in array.enumerated() {
            let context = "\(path): [[computechain.workers]] entry \(i + 1)"
            guard let table = item.table else { throw ConfigError("\(context): expected a table with key_file (and slave)") }
            for key in table.keys where !["key_file", "slave"].contains(key) {
                throw ConfigError("\(context): unknown key \"\(key)\" (known: key_file, slave)")
            }
            guard let file = table["key_file"]?.string, !file.isEmpty else {
                throw ConfigError("\(context): key_file: required (a key in ComputeChain's keystore format, as `cpc-cli keys add` writes)")
            }
            var slave: String?
            if let s = table["slave"] {
                guard let name = s.string, !name.isEmpty else { throw ConfigError("\(context): slave: expected a slave's name") }
                slave = name
            }
            c.workers.append(.init(keyFile: r.resolvePath(file), slave: slave))
            c.contexts.append(context + " key_file")
        }
        guard !c.workers.isEmpty else { return c }
        guard let url = URL(string: c.node), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ConfigError("\(path): [computechain] node: expected the node's URL, e.g. \"http://127.0.0.1:8000\"; got \"\(c.node)\"")
        }
        return c
    }
}
