import Foundation

public enum JobState: String, Codable, CaseIterable, Sendable {
    case readyToRun = "ReadyToRun"
    case running = "Running"
    case succeed = "Succeed"
    case failed = "Failed"
}

/// One job row as the store keeps it and as admin commands show it.
/// Timestamps are microseconds since the epoch; 0 means "not yet".
public struct Job: Codable, Sendable, Equatable {
    public var id: String
    public var kind: String
    public var state: JobState
    public var minerID: String
    public var deadlineIdx: Int
    public var partitions: [Int]
    public var priority: Int
    public var deadlineAt: Int64?
    public var uniqueKey: String?
    public var input: Data
    public var output: Data?
    public var tryNum: Int
    public var maxTry: Int
    public var lease: Int64
    public var worker: String
    public var notBefore: Int64
    public var createdAt: Int64
    public var startedAt: Int64
    public var heartbeatAt: Int64
    public var finishedAt: Int64
    public var error: String
    /// Only the slave of this name may claim the job ("": any slave).
    public var pin: String
    /// A proof job's sector size as damocles names it ("32GiB"; "": not a proof job),
    /// matched against a slave's `allowed_sizes` at claim time.
    public var sectorSize: String
    /// A proof job's sector count (the task's replicas; 0: not a proof job).
    public var sectors: Int

    public init(id: String, kind: String, state: JobState = .readyToRun, minerID: String = "",
                deadlineIdx: Int = -1, partitions: [Int] = [], priority: Int = 0,
                deadlineAt: Int64? = nil, uniqueKey: String? = nil, input: Data = Data(),
                output: Data? = nil, tryNum: Int = 0, maxTry: Int, lease: Int64 = 0,
                worker: String = "", notBefore: Int64 = 0, createdAt: Int64,
                startedAt: Int64 = 0, heartbeatAt: Int64 = 0, finishedAt: Int64 = 0,
                error: String = "", pin: String = "", sectorSize: String = "", sectors: Int = 0) {
        self.id = id; self.kind = kind; self.state = state; self.minerID = minerID
        self.deadlineIdx = deadlineIdx; self.partitions = partitions; self.priority = priority
        self.deadlineAt = deadlineAt; self.uniqueKey = uniqueKey; self.input = input
        self.output = output; self.tryNum = tryNum; self.maxTry = maxTry; self.lease = lease
        self.worker = worker; self.notBefore = notBefore; self.createdAt = createdAt
        self.startedAt = startedAt; self.heartbeatAt = heartbeatAt; self.finishedAt = finishedAt
        self.error = error
        self.pin = pin
        self.sectorSize = sectorSize
        self.sectors = sectors
    }
}

/// The built-in job kinds. Slaves may also run any other kind through an
/// external processor, so a kind is a plain string on the wire.
public enum JobKind {
    public static let noop = "noop"
    public static let synthetic = "synthetic"
    public static let wdpost = "wdpost"
    public static let dbcVerify = "dbc-verify"
    /// damocles' WindowPoSt and WinningPoSt tasks (the ext-prover front-end's jobs).
    public static let windowPoSt = "window_post"
    public static let winningPoSt = "winning_post"
}

/// Job ids: 11 random base58 characters, like the Go predecessor's ids, so
/// operators can tell them apart at a glance and they are never reused.
public enum JobID {
    static let alphabet = Array("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")

    public static func make() -> String {
        var bytes = [UInt8](repeating: 0, count: 11)
        _ = SecureRandom.fill(&bytes)
        // 256 % 58 leaves a tiny bias; irrelevant for identifiers with 64 bits of entropy.
        return String(bytes.map { alphabet[Int($0) % alphabet.count] })
    }
}

/// Partitions are stored and shown as "1,2,3", the form operators type.
public enum PartitionList {
    public static func format(_ p: [Int]) -> String { p.map(String.init).joined(separator: ",") }
    public static func parse(_ s: String) -> [Int] { s.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
}
