import Foundation
import Shared

/// One (block, worker) task and its result on the way to the chain. The row
/// is written in the same transaction as the task's `synthetic` job, so a
/// job that succeeds always has its row, whenever the master stops.
public struct ChainTask: Sendable, Equatable {
    public enum State: String, Sendable, CaseIterable {
        /// The job is queued or running.
        case computing
        /// The result is known and waits for a nonce and its first send.
        case ready
        /// Sent with `nonce`; not yet seen in a block.
        case sent
        /// In block `confirmedHeight`.
        case confirmed
        /// Will not reach the chain (the job failed, or the node refused it for good).
        case failed
    }

    public var taskID: String
    public var worker: String
    public var blockHeight: Int64
    public var blockHash: String
    public var jobID: String
    public var state: State
    public var resultHash: String = ""
    /// The nonce of the transaction in flight; -1 when none is assigned.
    public var nonce: Int64 = -1
    public var txHash: String = ""
    /// The chain height when it was last sent; -1 before.
    public var sentHeight: Int64 = -1
    /// Transactions posted for this result (first send and re-sends).
    public var sends: Int = 0
    /// Refusals by the node other than a spent nonce.
    public var rejections: Int = 0
    public var confirmedHeight: Int64 = -1
    public var error: String = ""

    public init(taskID: String, worker: String, blockHeight: Int64, blockHash: String, jobID: String, state: State = .computing) {
        self.taskID = taskID; self.worker = worker; self.blockHeight = blockHeight; self.blockHash = blockHash
        self.jobID = jobID; self.state = state
    }
}

/// Per worker and state, how many tasks, and the newest block tasked.
public struct ChainTaskCount: Sendable, Equatable {
    public var worker: String
    public var state: ChainTask.State
    public var count: Int
    public var lastHeight: Int64
    public init(worker: String, state: ChainTask.State, count: Int, lastHeight: Int64) {
        self.worker = worker; self.state = state; self.count = count; self.lastHeight = lastHeight
    }
}

/// The ComputeChain outbox, beside `JobStore` on the same connection (like
/// `CommitteeStore`), so a task's job and its row commit together.
/// Called from the store executor's thread inside its transaction.
public protocol ComputeChainStore: AnyObject {
    /// Adds the row; false, changing nothing, when the task id exists.
    func insertChainTask(_ task: ChainTask, now: Int64) throws -> Bool
    /// Writes every field but the id, block and job.
    func updateChainTask(_ task: ChainTask, now: Int64) throws
    /// Tasks in these states, oldest block first (then worker).
    func chainTasks(states: [ChainTask.State]) throws -> [ChainTask]
    func chainTask(id: String) throws -> ChainTask?
    func chainTaskCounts() throws -> [ChainTaskCount]
    /// The newest block height tasked; nil before the first task.
    func lastTaskedHeight() throws -> Int64?
}

extension StoreExecutor {
    /// Runs `body` in the next group commit with both faces of the store.
    public func runChain<T>(_ body: @escaping (JobStore, ComputeChainStore) throws -> T) async throws -> T {
        try await run { store in
            guard let chain = store as? ComputeChainStore else { throw ErrorMessage("this store backend does not keep a ComputeChain outbox") }
            return try body(store, chain)
        }
    }
}
