import Foundation
import Logging
import Shared

/// What the master does for an admin client's requests (submit, list, show,
/// reset, remove, slaves, ComputeChain status). `MasterConnection` dispatches
/// to it; the damocles front end submits through it too.
public struct AdminRPCs: Sendable {
    let service: MasterService
    var config: MasterConfig { service.config }
    var logger: Logger { service.logger }
    var wake: WakeSignal { service.wake }
    var metrics: MasterMetrics { service.metrics }
    var completions: CompletionWaiters { service.completions }
    var slaves: SlaveRegistry { service.slaves }
    var clock: StoreClock { service.clock }
    func db<T>(_ body: @escaping (JobStore) throws -> T) async throws -> T { try await service.db(body) }

    func submit(_ request: SubmitRequest) async throws -> IDList {
        let jobs = try SubmitCheck.checked(request.jobs)
        let maxTry = config.task.maxRetry
        let ids = try await db { try $0.insert(jobs, maxTry: maxTry, now: self.clock.now()) }
        metrics.add(.submits, ids.count)
        logger.info("submitted \(ids.count) job(s)")
        wake.signal()
        return IDList(ids: ids)
    }

    /// A page of at most `maxListPage` jobs and about a quarter of a frame
    /// (at least one job), so that the answer fits the client's frame limit
    /// even with inputs in base64; without a limit (a client from before
    /// paging) the whole list if it fits one answer, else an error.
    func list(_ request: ListRequest) async throws -> JobList {
        guard let asked = request.limit else {
            // A client from before paging gets the whole list in one answer,
            // as long as it fits one frame; past that it is told to page.
            let page = try await db { try $0.list(all: request.all, after: nil, limit: Self.maxListPage, brief: false, maxBytes: InputLimits.answerBytes / 2) }
            guard page.next == nil else {
                throw ErrorMessage("list: more jobs than fit one answer (\(Self.maxListPage) jobs or \(InputLimits.answerBytes / 2) bytes); use a client that pages")
            }
            return JobList(jobs: page.jobs)
        }
        guard asked > 0 else { throw ErrorMessage("list: limit must be at least 1, got \(asked)") }
        let limit = min(asked, Self.maxListPage)
        let maxBytes = Frame.defaultMaxBytes / 4
        let page = try await db { try $0.list(all: request.all, after: request.after, limit: limit, brief: request.brief ?? false, maxBytes: maxBytes) }
        return JobList(jobs: page.jobs, next: page.next)
    }

    /// Most jobs in one page of `list`.
    static let maxListPage = 10_000

    /// The ids of a show, reset or remove: each once, in the order first
    /// named, and at most `InputLimits.idsPerRequest` of them.
    static func distinctIDs(_ request: IDList, _ what: String) throws -> [String] {
        var seen = Set<String>()
        let ids = request.ids.filter { seen.insert($0).inserted }
        guard ids.count <= InputLimits.idsPerRequest else {
            throw ErrorMessage("\(what): \(ids.count) job ids, over the limit of \(InputLimits.idsPerRequest) per request")
        }
        return ids
    }

    /// The jobs named, each once; refused (before it is built) when the
    /// answer would not fit the client's frame.
    func show(_ request: IDList) async throws -> JobList {
        let ids = try Self.distinctIDs(request, "show")
        let limit = InputLimits.answerBytes
        let jobs = try await db { store in
            var bytes = 0
            return try ids.enumerated().map { i, id -> Job in
                guard let job = try store.get(id) else { throw StoreError.unknownJobs([id]) }
                bytes += InputLimits.answerBytes(of: job)
                guard bytes <= limit else {
                    throw ErrorMessage("show: the answer would exceed \(limit) bytes (the frame limit less headroom) at job \(id), number \(i + 1) of \(ids.count); ask for fewer jobs at once")
                }
                return job
            }
        }
        return JobList(jobs: jobs)
    }

    func reset(_ request: IDList) async throws -> CountResponse {
        let ids = try Self.distinctIDs(request, "reset")
        let n = try await db { try $0.reset(ids, now: self.clock.now()) }
        logger.info("reset \(ids.joined(separator: ", "))")
        wake.signal()
        completions.notify(ids)
        return CountResponse(count: n)
    }

    func remove(_ request: IDList) async throws -> CountResponse {
        let ids = try Self.distinctIDs(request, "remove")
        let n = try await db { try $0.remove(ids) }
        logger.info("removed \(ids.joined(separator: ", "))")
        completions.notify(ids)
        return CountResponse(count: n)
    }

    func removeAll(_ request: RemoveAllRequest) async throws -> CountResponse {
        guard request.really else { throw ErrorMessage("remove-all refused: confirmation missing") }
        let n = try await db { try $0.removeAll() }
        logger.warning("removed all \(n) job(s)")
        completions.notify(completions.waitedIDs)
        return CountResponse(count: n)
    }

    func computechainStatus() async throws -> ComputeChainStatus {
        guard let computechain = service.computechain else {
            return ComputeChainStatus(enabled: false, node: config.computechain.node, nodeReachable: false, height: -1, workers: [])
        }
        return try await computechain.status()
    }

    func slaveList() async throws -> SlaveList {
        let running = try await db { try $0.runningByWorker() }
        return SlaveList(slaves: slaves.snapshot().map {
            SlaveInfo(name: $0.name, address: $0.address, runningJobs: running[$0.name] ?? 0, lastSeen: $0.lastSeen,
                      kinds: $0.capabilities.kinds, concurrent: $0.capabilities.concurrent, rented: $0.rented)
        })
    }
}
