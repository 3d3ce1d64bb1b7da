import Foundation

/// `computechainStatus` answer: the ComputeChain driver per worker.
public struct ComputeChainStatus: Codable, Sendable {
    public struct Worker: Codable, Sendable {
        public var address: String
        public var slave: String?
        /// As the node last said (smallest unit); "" before the first answer.
        public var balance: String
        /// The account's next nonce, as the node last said; -1 before.
        public var nonce: Int64
        /// Newest block this worker got a task for; -1 before the first.
        public var lastBlockTasked: Int64
        /// Tasks whose job is still queued or running.
        public var computing: Int
        /// Results waiting for their first send or a new nonce.
        public var waiting: Int
        /// Results sent and not yet seen in a block.
        public var submitted: Int
        public var inBlocks: Int
        public var failed: Int
        /// Transactions posted, sent again, refused by the node (since the master started).
        public var sends: Int
        public var resends: Int
        public var rejections: Int
        public var lastError: String
        public init(address: String, slave: String?, balance: String, nonce: Int64, lastBlockTasked: Int64, computing: Int, waiting: Int,
                    submitted: Int, inBlocks: Int, failed: Int, sends: Int, resends: Int, rejections: Int, lastError: String) {
            self.address = address; self.slave = slave; self.balance = balance; self.nonce = nonce; self.lastBlockTasked = lastBlockTasked
            self.computing = computing; self.waiting = waiting; self.submitted = submitted; self.inBlocks = inBlocks; self.failed = failed
            self.sends = sends; self.resends = resends; self.rejections = rejections; self.lastError = lastError
        }
    }
    public var enabled: Bool
    public var node: String
    public var nodeReachable: Bool
    /// The chain's height as last seen; -1 before.
    public var height: Int64
    public var workers: [Worker]
    public init(enabled: Bool, node: String, nodeReachable: Bool, height: Int64, workers: [Worker]) {
        self.enabled = enabled; self.node = node; self.nodeReachable = nodeReachable; self.height = height; self.workers = workers
    }
}

extension AdminClient {
    public func computechainStatus() async throws -> ComputeChainStatus {
        try await rpc.call(.computechainStatus, Empty(), as: ComputeChainStatus.self)
    }
}
