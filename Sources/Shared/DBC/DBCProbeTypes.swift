import Foundation

/// Chain time: height = wall-clock µs since the Unix epoch / block_time, so
/// every master sharing a store (and every restart) counts the same heights.
public struct BlockClock: Sendable {
    /// µs per block.
    public let blockTime: Int64
    public init(blockTime: Int64) {
        precondition(blockTime > 0)
        self.blockTime = blockTime
    }
    public func height(atMicros micros: Int64) -> Int64 { micros / blockTime }
    public var now: Int64 { height(atMicros: nowMicros()) }
    /// Wall-clock µs at which `height` begins.
    public func micros(of height: Int64) -> Int64 { height * blockTime }
}

/// Input of a `dbc-verify` job: what the member asks the machine to report.
public struct DBCProbeInput: Codable, Sendable {
    public var machineID: String
    public var randStr: String
    /// The member and order the probe runs for (shown in logs).
    public var member: String
    public var order: String
    enum CodingKeys: String, CodingKey {
        case machineID = "machine_id", randStr = "rand_str", member, order
    }
    public init(machineID: String, randStr: String, member: String = "", order: String = "") {
        self.machineID = machineID; self.randStr = randStr; self.member = member; self.order = order
    }
}

/// One self-check of the probe: what was measured and whether it passed.
public struct ProbeCheck: Codable, Sendable, Equatable {
    public var name: String
    public var figure: String
    public var passed: Bool
    public init(name: String, figure: String, passed: Bool) { self.name = name; self.figure = figure; self.passed = passed }
}

/// Output of a `dbc-verify` job: the info (is_support = every check passed),
/// the checks, and how calc_point was measured.
public struct DBCProbeOutput: Codable, Sendable {
    public var info: MachineInfo
    public var checks: [ProbeCheck]
    /// "cuda" or "cpu", and why.
    public var backend: String
    public var backendDetail: String
    public var benchmark: String
    enum CodingKeys: String, CodingKey {
        case info, checks, backend, backendDetail = "backend_detail", benchmark
    }
    public init(info: MachineInfo, checks: [ProbeCheck], backend: String, backendDetail: String, benchmark: String) {
        self.info = info; self.checks = checks; self.backend = backend; self.backendDetail = backendDetail; self.benchmark = benchmark
    }
}

public enum DBCMachineID {
    /// The default machine_id of a machine name: SHA-256 of the name, in hex
    /// (DBC's machine ids are 64 hex digits).
    public static func `default`(for name: String) -> String { Digest.sha256(Array(name.utf8)).hex }
}
