import Foundation
import NIOPosix

/// Typed admin calls over the RPC, used by the `wdpost` admin commands and by tests.
public final class AdminClient: @unchecked Sendable {
    let rpc: RPCClient

    init(rpc: RPCClient) { self.rpc = rpc }

    public static func connect(to address: HostPort, token: [UInt8], name: String = "admin") async throws -> AdminClient {
        let identity = RPCClient.Identity(role: .admin, name: name, token: token)
        return AdminClient(rpc: try await RPCClient.connect(to: address, as: identity, group: MultiThreadedEventLoopGroup.singleton))
    }

    public func submit(_ jobs: [NewJob]) async throws -> [String] {
        try await rpc.call(.submit, SubmitRequest(jobs: jobs), as: IDList.self).ids
    }

    /// Every job of the list, fetched a page at a time. `brief`: without
    /// input and output. A master from before paging answers everything at
    /// once, with no `next`.
    public func list(all: Bool, brief: Bool = false, pageSize: Int = 5_000) async throws -> [Job] {
        var jobs: [Job] = []
        var after: ListCursor?
        repeat {
            let page = try await rpc.call(.list, ListRequest(all: all, after: after, limit: pageSize, brief: brief), as: JobList.self)
            jobs += page.jobs
            // A page that ends where it started would repeat forever.
            if let next = page.next, next == after || page.jobs.isEmpty {
                throw ErrorMessage("list: the master's page after \(String(describing: after)) did not move on")
            }
            after = page.next
        } while after != nil
        return jobs
    }

    public func show(_ ids: [String]) async throws -> [Job] {
        try await rpc.call(.show, IDList(ids: ids), as: JobList.self).jobs
    }

    public func reset(_ ids: [String]) async throws -> Int {
        try await rpc.call(.reset, IDList(ids: ids), as: CountResponse.self).count
    }

    public func remove(_ ids: [String]) async throws -> Int {
        try await rpc.call(.remove, IDList(ids: ids), as: CountResponse.self).count
    }

    public func removeAll() async throws -> Int {
        try await rpc.call(.removeAll, RemoveAllRequest(really: true), as: CountResponse.self).count
    }

    public func slaves() async throws -> [SlaveInfo] {
        try await rpc.call(.slaves, Empty(), as: SlaveList.self).slaves
    }

    public func dbcVerify(machine: String, machineID: String? = nil) async throws -> DBCStatus {
        try await rpc.call(.dbcVerify, DBCVerifyRequest(machine: machine, machineID: machineID), as: DBCStatus.self)
    }

    public func dbcStatus(machine: String? = nil) async throws -> DBCStatus {
        try await rpc.call(.dbcStatus, DBCStatusRequest(machine: machine), as: DBCStatus.self)
    }

    public func dbcSubmitHash(machine: String, member: String, hash: String) async throws -> DBCStatus {
        try await rpc.call(.dbcSubmitHash, DBCSubmitHashRequest(machine: machine, member: member, hash: hash), as: DBCStatus.self)
    }

    public func dbcSubmitRaw(machine: String, member: String, info: MachineInfo) async throws -> DBCStatus {
        try await rpc.call(.dbcSubmitRaw, DBCSubmitRawRequest(machine: machine, member: member, info: info), as: DBCStatus.self)
    }

    public var isActive: Bool { rpc.isActive }

    public func close() async { await rpc.close() }
}
