import Foundation

/// Version of the wire protocol; a mismatch is refused at the handshake.
/// 2: mutual authentication over both nonces, every later frame tagged.
public let protocolVersion = 2

public enum MessageType: UInt8, Sendable {
    // Handshake
    case hello = 1        // master → client: version, nonce
    case auth = 2         // client → master: role, name, capabilities, HMAC
    case welcome = 3      // master → client: accepted
    case error = 4        // either way: a request failed (or the connection is being closed)
    case ok = 5           // generic success answer to a request

    // Slave → master
    case pull = 10
    case heartbeat = 11
    case finish = 12
    case release = 13
    case rent = 14        // a DBC machine rented (its jobs were released) or free again

    // Admin → master
    case submit = 20
    case list = 21
    case show = 22
    case reset = 23
    case remove = 24
    case removeAll = 25
    case slaves = 26
    case dbcVerify = 27
    case dbcStatus = 28
    case dbcSubmitHash = 29
    case dbcSubmitRaw = 30
    case computechainStatus = 31

    /// Requests only an admin token may send.
    public var isAdmin: Bool { rawValue >= 20 }
    public var isSlave: Bool { (10...19).contains(rawValue) }
}

public enum Role: String, Codable, Sendable { case slave, admin }

public struct Hello: Codable, Sendable {
    public var version: Int
    public var nonce: [UInt8]
    public init(version: Int, nonce: [UInt8]) { self.version = version; self.nonce = nonce }
}

/// What a slave can run; sent once at the handshake.
public struct Capabilities: Codable, Sendable {
    public var kinds: [String]
    public var concurrent: Int
    public var gpus: Int
    public var allowedMiners: [String]
    public var allowedSizes: [String]
    public init(kinds: [String] = [], concurrent: Int = 1, gpus: Int = 0, allowedMiners: [String] = [], allowedSizes: [String] = []) {
        self.kinds = kinds; self.concurrent = concurrent; self.gpus = gpus
        self.allowedMiners = allowedMiners; self.allowedSizes = allowedSizes
    }
}

public struct Auth: Codable, Sendable {
    public var version: Int
    public var role: Role
    public var name: String
    public var capabilities: Capabilities?
    /// The client's nonce (absent from protocol 1, which is refused by version).
    public var nonce: [UInt8]?
    /// `HandshakeTranscript.clientProof`: proves the token without sending it.
    public var mac: [UInt8]
    public init(version: Int, role: Role, name: String, capabilities: Capabilities?, nonce: [UInt8]?, mac: [UInt8]) {
        self.version = version; self.role = role; self.name = name; self.capabilities = capabilities
        self.nonce = nonce; self.mac = mac
    }

    /// A complete auth for `token`, answering the master's `hello`.
    public static func answering(_ hello: Hello, role: Role, name: String, capabilities: Capabilities?, token: [UInt8],
                                 clientNonce: [UInt8] = SecureRandom.bytes(HandshakeTranscript.nonceBytes)) -> (Auth, HandshakeTranscript) {
        let transcript = HandshakeTranscript(masterNonce: hello.nonce, clientNonce: clientNonce, role: role, name: name, capabilities: capabilities)
        return (Auth(version: protocolVersion, role: role, name: name, capabilities: capabilities, nonce: clientNonce,
                     mac: transcript.clientProof(token: token)), transcript)
    }
}

public struct Welcome: Codable, Sendable {
    public var master: String
    /// `HandshakeTranscript.masterProof`: the master holds the same token.
    public var mac: [UInt8]
    /// The master's `server.max_frame_bytes`, so a client can refuse a request
    /// that would not fit before sending it.
    public var maxFrameBytes: Int
    public init(master: String, mac: [UInt8], maxFrameBytes: Int) {
        self.master = master; self.mac = mac; self.maxFrameBytes = maxFrameBytes
    }
}

public struct ErrorMessage: Codable, Sendable, Error, CustomStringConvertible {
    public var message: String
    /// Set on a handshake refusal that retrying cannot fix (wrong token, other
    /// protocol version); absent when the master is only busy or the client slow.
    public var fatal: Bool?
    public init(_ message: String, fatal: Bool = false) { self.message = message; self.fatal = fatal ? true : nil }
    public var description: String { message }
}

public struct Empty: Codable, Sendable { public init() {} }

// MARK: slave → master

public struct PullRequest: Codable, Sendable {
    /// Jobs the slave starts as soon as they arrive (its free slots).
    public var max: Int
    /// Kinds with a free slot on the slave right now.
    public var kinds: [String]
    public var waitMs: Int
    /// Up to this many more jobs, beyond `max`, that the slave keeps claimed but
    /// not started, so a slot that frees starts its next job without a round
    /// trip. The master hands them out after the `max` ones; they are Running
    /// with no start time until the slave reports them in `started`.
    public var prefetch: Int
    public init(max: Int, kinds: [String], waitMs: Int, prefetch: Int = 0) {
        self.max = max; self.kinds = kinds; self.waitMs = waitMs; self.prefetch = prefetch
    }
}

public struct Assignment: Codable, Sendable {
    public var id: String
    public var kind: String
    public var lease: Int64
    public var tryNum: Int
    public var input: Data
    public init(id: String, kind: String, lease: Int64, tryNum: Int, input: Data) {
        self.id = id; self.kind = kind; self.lease = lease; self.tryNum = tryNum; self.input = input
    }
}

public struct PullResponse: Codable, Sendable {
    public var jobs: [Assignment]
    public init(jobs: [Assignment]) { self.jobs = jobs }
}

public struct JobLease: Codable, Sendable, Hashable {
    public var id: String
    public var lease: Int64
    public init(id: String, lease: Int64) { self.id = id; self.lease = lease }
}

public struct HeartbeatRequest: Codable, Sendable {
    public var jobs: [JobLease]
    /// Prefetched jobs that started running since the slave last said so:
    /// their `task.timeout` counts from now.
    public var started: [JobLease]
    public init(jobs: [JobLease], started: [JobLease] = []) { self.jobs = jobs; self.started = started }
}

public struct HeartbeatResponse: Codable, Sendable {
    /// Jobs the slave must stop: removed, reset, or no longer held with that lease.
    public var abort: [String]
    public init(abort: [String]) { self.abort = abort }
}

public struct JobResult: Codable, Sendable {
    public var id: String
    public var lease: Int64
    public var ok: Bool
    public var output: Data
    public var error: String
    public init(id: String, lease: Int64, ok: Bool, output: Data = Data(), error: String = "") {
        self.id = id; self.lease = lease; self.ok = ok; self.output = output; self.error = error
    }
}

public enum FinishStatus: String, Codable, Sendable {
    /// Recorded (or recorded before with the same lease: finishes are idempotent).
    case accepted
    /// The lease is not current: the slave must drop the result.
    case stale
}

public struct FinishRequest: Codable, Sendable {
    public var results: [JobResult]
    /// Claim the next jobs in the same transaction as these results (the slots
    /// they free): one round trip and one commit per job instead of two.
    /// Never parks: with nothing ready the answer has no jobs.
    public var pull: PullRequest?
    /// Prefetched jobs that started running since the slave last said so (the
    /// slot a result frees starts the next job before the result is sent).
    public var started: [JobLease]
    public init(results: [JobResult], pull: PullRequest? = nil, started: [JobLease] = []) {
        self.results = results; self.pull = pull; self.started = started
    }
}

public struct FinishResponse: Codable, Sendable {
    public var statuses: [FinishStatus]
    /// Jobs claimed for `FinishRequest.pull`.
    public var jobs: [Assignment]?
    public init(statuses: [FinishStatus], jobs: [Assignment]? = nil) { self.statuses = statuses; self.jobs = jobs }
}

public struct ReleaseRequest: Codable, Sendable {
    public var jobs: [JobLease]
    public var reason: String
    /// The slave is leaving: the master hands this connection no more jobs,
    /// not even to a pull still parked from before.
    public var final: Bool
    public init(jobs: [JobLease], reason: String, final: Bool = false) { self.jobs = jobs; self.reason = reason; self.final = final }
}

/// `rent` (14): the slave's machine was rented to a DBC user (it has
/// released its jobs and claims nothing until it says `rented: false`), or is
/// free again. Sent again after each reconnect while rented. A master from
/// before this message answers `error`, which changes nothing else.
public struct RentNotice: Codable, Sendable {
    public var rented: Bool
    /// The DBC node id the announcement named.
    public var nodeID: String
    public init(rented: Bool, nodeID: String) { self.rented = rented; self.nodeID = nodeID }
}

// MARK: admin → master

public struct NewJob: Codable, Sendable {
    public var kind: String
    public var input: Data
    public var minerID: String
    public var deadlineIdx: Int
    public var partitions: [Int]
    public var priority: Int
    public var deadlineAt: Int64?
    public var uniqueKey: String?
    /// Pin: only the slave of this name may claim the job (nil or "": any slave).
    public var worker: String?
    /// Set by the master from a proof job's input (see `SubmitCheck`), never taken from a client.
    public var sectorSize: String?
    public var sectors: Int?
    public init(kind: String, input: Data = Data(), minerID: String = "", deadlineIdx: Int = -1, partitions: [Int] = [],
                priority: Int = 0, deadlineAt: Int64? = nil, uniqueKey: String? = nil, worker: String? = nil) {
        self.kind = kind; self.input = input; self.minerID = minerID; self.deadlineIdx = deadlineIdx
        self.partitions = partitions; self.priority = priority; self.deadlineAt = deadlineAt; self.uniqueKey = uniqueKey
        self.worker = worker
    }
}

public struct SubmitRequest: Codable, Sendable {
    public var jobs: [NewJob]
    public init(jobs: [NewJob]) { self.jobs = jobs }
}

public struct IDList: Codable, Sendable {
    public var ids: [String]
    public init(ids: [String]) { self.ids = ids }
}

/// `wdpost list`, one page at a time: a long list does not fit in one frame.
public struct ListRequest: Codable, Sendable {
    public var all: Bool
    /// Where the page before ended (the answer's `next`); nil: the first page.
    public var after: ListCursor?
    /// Most jobs in the answer (the master may send fewer). Nil, as a client
    /// from before paging sends: every job in one answer.
    public var limit: Int?
    /// Leave out input and output (the table shows neither).
    public var brief: Bool?
    public init(all: Bool, after: ListCursor? = nil, limit: Int? = nil, brief: Bool? = nil) {
        self.all = all; self.after = after; self.limit = limit; self.brief = brief
    }
}

/// Where a page of `wdpost list` ended, in list order (archive first, then
/// the live table, each by creation time and then insertion order). Clients
/// send it back as it came.
public struct ListCursor: Codable, Sendable, Equatable {
    public var archive: Bool
    public var createdAt: Int64
    public var seq: Int64
    public init(archive: Bool, createdAt: Int64, seq: Int64) {
        self.archive = archive; self.createdAt = createdAt; self.seq = seq
    }
}

public struct JobList: Codable, Sendable {
    public var jobs: [Job]
    /// For a list page: where the next page starts; nil when this was the last.
    public var next: ListCursor?
    public init(jobs: [Job], next: ListCursor? = nil) { self.jobs = jobs; self.next = next }
}

public struct CountResponse: Codable, Sendable {
    public var count: Int
    public init(count: Int) { self.count = count }
}

public struct RemoveAllRequest: Codable, Sendable {
    /// Must be true; a guard against a stray call wiping the table.
    public var really: Bool
    public init(really: Bool) { self.really = really }
}

public struct SlaveInfo: Codable, Sendable {
    public var name: String
    public var address: String
    public var runningJobs: Int
    public var lastSeen: Int64
    public var kinds: [String]
    public var concurrent: Int
    /// Its DBC machine is rented (see `RentNotice`); nil from a master before the rent message.
    public var rented: Bool?
    public init(name: String, address: String, runningJobs: Int, lastSeen: Int64, kinds: [String], concurrent: Int, rented: Bool? = nil) {
        self.name = name; self.address = address; self.runningJobs = runningJobs; self.lastSeen = lastSeen
        self.kinds = kinds; self.concurrent = concurrent; self.rented = rented
    }
}

public struct SlaveList: Codable, Sendable {
    public var slaves: [SlaveInfo]
    public init(slaves: [SlaveInfo]) { self.slaves = slaves }
}

// MARK: admin → master: DeepBrainChain verification

public struct DBCVerifyRequest: Codable, Sendable {
    /// The machine's name: the slave that runs the probe.
    public var machine: String
    /// DBC's machine_id (hex text) hashed into every info; nil: SHA-256 of the name, in hex.
    public var machineID: String?
    public init(machine: String, machineID: String? = nil) { self.machine = machine; self.machineID = machineID }
}

public struct DBCStatusRequest: Codable, Sendable {
    /// nil: the latest order of every machine.
    public var machine: String?
    public init(machine: String?) { self.machine = machine }
}

public struct DBCSubmitHashRequest: Codable, Sendable {
    public var machine: String
    public var member: String
    public var hash: String
    public init(machine: String, member: String, hash: String) { self.machine = machine; self.member = member; self.hash = hash }
}

public struct DBCSubmitRawRequest: Codable, Sendable {
    public var machine: String
    public var member: String
    public var info: MachineInfo
    public init(machine: String, member: String, info: MachineInfo) { self.machine = machine; self.member = member; self.info = info }
}

/// Orders (oldest first) with what a reader needs to turn heights into times.
public struct DBCStatus: Codable, Sendable {
    /// µs per block.
    public var blockTime: Int64
    /// The chain height when the answer was made.
    public var height: Int64
    /// Committee members the master acts for.
    public var automatic: [String]
    public var manual: [String]
    public var orders: [VerifyOrder]
    /// Probe jobs of the orders shown, by id (state and error), for automatic members.
    public var probes: [String: ProbeJobState]
    public init(blockTime: Int64, height: Int64, automatic: [String], manual: [String], orders: [VerifyOrder], probes: [String: ProbeJobState]) {
        self.blockTime = blockTime; self.height = height; self.automatic = automatic; self.manual = manual
        self.orders = orders; self.probes = probes
    }
}

public struct ProbeJobState: Codable, Sendable, Equatable {
    public var state: JobState
    public var worker: String
    public var tryNum: Int
    public var error: String
    public init(state: JobState, worker: String, tryNum: Int, error: String) {
        self.state = state; self.worker = worker; self.tryNum = tryNum; self.error = error
    }
}
