import Foundation
import Logging
import Shared

/// The master as a ComputeChain worker pool: follows the node's blocks, makes
/// one `synthetic` job per block and worker (task id UUIDv5 of
/// `computechain:<block_hash>:<worker_address>`), and delivers each verified
/// result as a signed `SUBMIT_RESULT` until a block holds it.
///
/// Every step reads and writes the outbox (`ComputeChainStore`) and asks the
/// node afresh, so the loop holds nothing a restart could lose: a job and its
/// outbox row are inserted in one transaction, a transaction's nonce and hash
/// are committed before it is posted, and inclusion is read from blocks.
///
/// A result keeps the nonce it was sent with until a block holds it or that
/// nonce is spent by a transaction that is not its own: signing it again with
/// another nonce while the first might still be mined could put it in two
/// blocks. So a result not seen in a block within `resend_after` blocks is
/// posted again unchanged (the node had dropped it, or never got it); one the
/// node refused, or whose nonce was spent, gets the lowest free nonce.
public final class ComputeChainDriver: @unchecked Sendable {
    let config: ComputeChainConfig
    let executor: StoreExecutor
    let logger: Logger
    let wake: WakeSignal
    let maxTry: Int
    let node: ComputeChainNode
    let workers: [ComputeChainWorker]
    private let lock = NSLock()
    private var loop: Task<Void, Never>?
    private var _height: Int64 = -1
    private var _reachable = false
    private var outage = false
    /// Highest block read for inclusions; nil until the first tick decides where to start.
    var scanned: Int64?
    var lastTasked: Int64?

    /// Most blocks tasked back from the newest after an absence, and read per tick.
    static let catchUpBlocks: Int64 = 16
    static let scanBlocksPerTick: Int64 = 64
    /// Refusals (other than a spent nonce or a low balance) after which a result is given up.
    static let maxRejections = 5

    /// Loads and checks every key file: a missing, unreadable or malformed
    /// one, or one whose address is not its key's, stops start-up.
    init(config: MasterConfig, executor: StoreExecutor, logger: Logger, wake: WakeSignal) throws {
        self.config = config.computechain
        self.executor = executor
        self.logger = logger
        self.wake = wake
        maxTry = config.task.maxRetry
        do { node = try ComputeChainNode(url: config.computechain.node) } catch {
            throw ConfigError("[computechain] node: \(error)")
        }
        var workers: [ComputeChainWorker] = []
        for (worker, context) in zip(config.computechain.workers, config.computechain.contexts) {
            let key = try ComputeChainKey.load(path: worker.keyFile, context: context)
            if let other = workers.first(where: { $0.address == key.address }) {
                throw ConfigError("\(context): key file \(worker.keyFile) is the same account (\(key.address)) as \(other.key.name.isEmpty ? "another entry" : other.key.name); list each account once")
            }
            workers.append(ComputeChainWorker(key: key, slave: worker.slave))
        }
        self.workers = workers
    }

    func locked<T>(_ body: () -> T) -> T { lock.lock(); defer { lock.unlock() }; return body() }

    public func start() {
        logger.info("computechain: following \(config.node) for \(workers.count) worker(s): \(workers.map(\.address).joined(separator: ", "))")
        loop = Task { [weak self] in
            while !Task.isCancelled, let self {
                await self.tick()
                try? await Task.sleep(nanoseconds: UInt64(self.config.poll) * 1000)
            }
        }
    }

    public func stop() { loop?.cancel() }

    /// One round: accounts, then the chain's status (so that every nonce
    /// the accounts show spent belongs to a block at or below that height),
    /// then new tasks, finished jobs, inclusions, and sends.
    func tick() async {
        do {
            var accounts: [String: ComputeChainNode.Account] = [:]
            for w in workers {
                let a = try await node.account(w.address)
                w.account(balance: a.balance, nonce: a.nonce)
                accounts[w.address] = a
            }
            let status = try await node.status()
            locked { _height = status.height; _reachable = true }
            if locked({ outage }) {
                locked { outage = false }
                logger.info("computechain: node \(config.node) reachable again")
                for w in workers { w.clearError(Self.unreachable) }
            }
            try await makeTasks(status)
            try await collectResults()
            // Only with every block up to `status.height` read may a spent
            // nonce be taken as spent by someone else.
            if try await readBlocks(upTo: status.height) { try await requeueSpent(accounts) }
            for w in workers {
                if let a = accounts[w.address] { try await send(for: w, account: a, height: status.height) }
            }
        } catch let error as ComputeChainNode.NodeError {
            let first = locked { () -> Bool in defer { outage = true; _reachable = false }; return !outage }
            for w in workers { w.fail(Self.unreachable) }
            // Once per outage: a node that is down for an hour is one line, not one per poll.
            if first { logger.warning("computechain: node unreachable, retrying every \(DurationText.format(micros: config.poll)): \(error)") }
        } catch {
            logger.warning("computechain: \(error)")
        }
    }

    static let unreachable = "node unreachable"

    // MARK: tasks

    func makeTasks(_ status: ComputeChainNode.Status) async throws {
        var last = lastTasked
        if last == nil { last = try await executor.runChain { _, chain in try chain.lastTaskedHeight() } }
        // A first start tasks the current block only; after an absence, the
        // blocks missed, up to `catchUpBlocks`.
        let from = max((last ?? status.height - 1) + 1, status.height - Self.catchUpBlocks + 1)
        guard from <= status.height else { lastTasked = last; return }
        for height in from...status.height where height % Int64(config.every) == 0 {
            let hash = height == status.height ? status.lastHash : try await node.block(height + 1).prevHash
            guard !hash.isEmpty else { continue }
            try await task(height: height, hash: hash)
        }
        lastTasked = status.height
    }

    func task(height: Int64, hash: String) async throws {
        let n = config.n
        let maxTry = maxTry
        let made = try await executor.runChain { store, chain -> Int in
            var made = 0
            for w in self.workers {
                let id = UUIDv5.task(blockHash: hash, workerAddress: w.address)
                if try chain.chainTask(id: id) != nil { continue }
                let input = try JSONEncoder().encode(SyntheticInput(blockHash: hash, workerAddress: w.address, n: n))
                let job = NewJob(kind: JobKind.synthetic, input: input, uniqueKey: "computechain:\(id)", worker: w.slave)
                let now = self.executor.clock.now()
                let jobID = try store.insert([job], maxTry: maxTry, now: now)[0]
                _ = try chain.insertChainTask(ChainTask(taskID: id, worker: w.address, blockHeight: height, blockHash: hash, jobID: jobID), now: now)
                made += 1
            }
            return made
        }
        if made > 0 {
            logger.info("computechain: block \(height) \(hash.prefix(16))…: \(made) task(s)")
            wake.signal()
        }
    }

    /// Tasks whose job finished: a verified success is ready to send, a job out of tries is a failed task.
    func collectResults() async throws {
        let changed = try await executor.runChain { store, chain -> [ChainTask] in
            var changed: [ChainTask] = []
            for var t in try chain.chainTasks(states: [.computing]) {
                guard let job = try store.get(t.jobID) else {
                    t.state = .failed
                    t.error = "job \(t.jobID) was removed before it finished"
                    try chain.updateChainTask(t, now: self.executor.clock.now())
                    changed.append(t)
                    continue
                }
                switch job.state {
                case .succeed:
                    if let output = job.output, let result = try? JSONDecoder().decode(SyntheticOutput.self, from: output) {
                        t.state = .ready
                        t.resultHash = result.root
                    } else {
                        t.state = .failed
                        t.error = "job \(t.jobID) succeeded without a synthetic result"
                    }
                case .failed:
                    t.state = .failed
                    t.error = "job \(t.jobID) failed: \(job.error)"
                default: continue
                }
                try chain.updateChainTask(t, now: self.executor.clock.now())
                changed.append(t)
            }
            return changed
        }
        for t in changed where t.state == .failed {
            logger.warning("computechain: task \(t.taskID) (block \(t.blockHeight)) failed: \(t.error)", metadata: ["job": "\(t.jobID)"])
        }
    }

    // MARK: status

    public func status() async throws -> ComputeChainStatus {
        let counts = try await executor.runChain { _, chain in try chain.chainTaskCounts() }
        let (height, reachable) = locked { (_height, _reachable) }
        return ComputeChainStatus(enabled: true, node: config.node, nodeReachable: reachable, height: height, workers: workers.map { w in
            let mine = counts.filter { $0.worker == w.address }
            func count(_ s: ChainTask.State) -> Int { mine.first { $0.state == s }?.count ?? 0 }
            let s = w.snapshot()
            return .init(address: w.address, slave: w.slave, balance: s.balance, nonce: s.nonce,
                         lastBlockTasked: mine.map(\.lastHeight).max() ?? -1, computing: count(.computing), waiting: count(.ready),
                         submitted: count(.sent), inBlocks: count(.confirmed), failed: count(.failed),
                         sends: s.sends, resends: s.resends, rejections: s.rejections, lastError: s.lastError)
        })
    }
}
