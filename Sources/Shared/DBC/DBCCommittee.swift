import Foundation

/// DeepBrainChain's committee verification of a machine going online, as the
/// chain's online-committee pallet runs it, with time as a block height.
/// Pure: no clock, no store, no randomness of its own; the master's
/// coordinator feeds it heights and persists it.
public enum DBCRules {
    /// The chain's ONE_HOUR: 600 blocks of 6 s. Every period below is counted
    /// in blocks, so a shorter `[dbc] block_time` runs the same schedule faster.
    public static let blocksPerHour: Int64 = 600
    /// Members booked per order.
    public static let membersPerOrder = 3
    /// The 36 hours after booking are cut into this many verify slots.
    public static let slotCount = 9
    /// 4 h: 2,400 blocks.
    public static let slotBlocks: Int64 = 36 * blocksPerHour / Int64(slotCount)
    /// The verify slots end at booking + 36 h (21,600 blocks). The chain
    /// checks no time on a hash: one is accepted until the order is summarised.
    public static let slotsEnd: Int64 = 36 * blocksPerHour
    /// Raw infos are accepted from booking + 36 h (or once every member has hashed)…
    public static let rawStart: Int64 = 36 * blocksPerHour
    /// …until booking + 48 h (28,800 blocks), when the order is summarised.
    public static let rawEnd: Int64 = 48 * blocksPerHour

    /// Slot indices of the member booked i-th: i, i+3, i+6.
    public static func slotIndices(seq: Int) -> [Int] { Array(stride(from: seq, to: slotCount, by: membersPerOrder)) }
}

public enum VerifyStatus: String, Codable, CaseIterable, Sendable {
    case submittingHash = "SubmittingHash"
    case submittingRaw = "SubmittingRaw"
    case summarizing = "Summarizing"
    case finished = "Finished"
}

public enum VerifyResult: String, Codable, CaseIterable, Sendable {
    case confirmed = "Confirmed"
    case refused = "Refused"
    case noConsensus = "NoConsensus"
}

/// A committee member booked on an order, and what it has committed and revealed.
public struct BookedMember: Codable, Sendable, Equatable {
    public var name: String
    /// Booking position 0, 1 or 2: the member's slots are seq, seq+3, seq+6.
    public var seq: Int
    /// Start heights of the member's verify slots (each lasts `DBCRules.slotBlocks`).
    public var slots: [Int64]
    /// Committed hash, `0x` + 32 hex.
    public var hash: String?
    public var hashedAt: Int64?
    /// The revealed raw info (it hashed to `hash`).
    public var info: MachineInfo?
    public var revealedAt: Int64?

    // An automatic member's own notes, kept by the master that acts for it:
    // not chain state, and never shown before the member reveals.
    /// The probe job currently run for this member ("" when none).
    public var probeJob: String
    /// Index into `slots` of the slot the latest probe was started in (-1: none yet).
    public var probeSlot: Int
    /// The member's random string for its current probe.
    public var randStr: String
    /// The probe's info, held between committing its hash and revealing it.
    public var held: MachineInfo?
    /// The last thing that went wrong for this member (a failed probe, a refused hash).
    public var note: String

    public init(name: String, seq: Int, slots: [Int64]) {
        self.name = name; self.seq = seq; self.slots = slots
        probeJob = ""; probeSlot = -1; randStr = ""; note = ""
    }
}

public struct VerifySummary: Codable, Sendable, Equatable {
    public var result: VerifyResult
    /// Members whose info won (or all who revealed, when all agreed).
    public var valid: [String]
    /// Members who revealed an info that lost (or all who revealed, with no consensus).
    public var invalid: [String]
    /// Booked members who never revealed.
    public var unruly: [String]
    /// Whom the chain punishes: unruly members always, invalid voters only
    /// when the order reached a verdict (after NoConsensus nobody's vote was
    /// shown wrong, so only the members who never revealed are punished).
    public var punished: [String] {
        (unruly + (result == .noConsensus ? [] : invalid)).sorted()
    }
    /// The agreed info (rand_str dropped), when Confirmed.
    public var info: MachineInfo?
    /// Height at which the order was summarised.
    public var at: Int64

    public init(result: VerifyResult, valid: [String], invalid: [String], unruly: [String], info: MachineInfo?, at: Int64) {
        self.result = result; self.valid = valid; self.invalid = invalid; self.unruly = unruly; self.info = info; self.at = at
    }
}

/// Why the committee refused a submission (the chain's error names, in words).
public enum CommitteeError: Error, Equatable, CustomStringConvertible, Sendable {
    case notEnoughCommittee(Int)
    case notInBookList(member: String, booked: [String])
    case orderFinished(String)
    case alreadySubmitHash(String)
    case duplicateHash(String)
    case badHash(String)
    case rawNotYet(opensAt: Int64, now: Int64, hashed: Int, booked: Int)
    case rawWindowClosed(closedAt: Int64, now: Int64)
    case notSubmitHash(String)
    case alreadySubmitRaw(String)
    case wrongMachine(expected: String, got: String)
    case infoNotFitHash(member: String, committed: String, got: String)

    public var description: String {
        switch self {
        case let .notEnoughCommittee(n):
            return "the committee has \(n) member\(n == 1 ? "" : "s"); an order books \(DBCRules.membersPerOrder) distinct members"
        case let .notInBookList(member, booked):
            return "\(member) is not booked on this order (booked: \(booked.joined(separator: ", ")))"
        case let .orderFinished(id):
            return "order \(id) is already summarised"
        case let .alreadySubmitHash(member):
            return "\(member) has already submitted a hash for this order"
        case let .duplicateHash(hash):
            return "hash \(hash) was already submitted by another member: every member's hash must differ (use your own rand_str)"
        case let .badHash(text):
            return "\"\(text)\" is not a hash: expected 0x followed by 32 hex digits"
        case let .rawNotYet(opensAt, now, hashed, booked):
            return "raw infos are accepted from block \(opensAt) (36 h after booking) or once every booked member has hashed (\(hashed) of \(booked) have); it is block \(now)"
        case let .rawWindowClosed(closedAt, now):
            return "raw infos were accepted until block \(closedAt) (48 h after booking); it is block \(now)"
        case let .notSubmitHash(member):
            return "\(member) has not submitted a hash, so it has nothing to reveal"
        case let .alreadySubmitRaw(member):
            return "\(member) has already revealed its raw info"
        case let .wrongMachine(expected, got):
            return "the info is for machine_id \(got), but this order verifies machine_id \(expected)"
        case let .infoNotFitHash(member, committed, got):
            return "the info hashes to \(got), not to \(member)'s committed hash \(committed)"
        }
    }
}

/// One verification order: a machine, three booked members, their hashes and
/// reveals, and, once summarised, the result.
public struct VerifyOrder: Codable, Sendable, Equatable {
    public var id: String
    /// The machine's name: the slave the probe runs on.
    public var machine: String
    /// The id hashed into every info (DBC's machine_id, hex text).
    public var machineID: String
    /// 1 for the first order of a machine, +1 for each re-booking after NoConsensus.
    public var round: Int
    public var bookedAt: Int64
    public var members: [BookedMember]
    public var status: VerifyStatus
    public var summary: VerifySummary?
    /// Bumped by every store update; a save against a stale version is refused.
    public var version: Int

    /// The end of the last verify slot: automatic members start no probe after it.
    public var slotsEndAt: Int64 { bookedAt + DBCRules.slotsEnd }
    public var rawOpensAt: Int64 { bookedAt + DBCRules.rawStart }
    public var rawClosesAt: Int64 { bookedAt + DBCRules.rawEnd }
    public var isOpen: Bool { status != .finished }

    public init(id: String, machine: String, machineID: String, round: Int, bookedAt: Int64, members: [BookedMember],
                status: VerifyStatus, summary: VerifySummary?, version: Int) {
        self.id = id; self.machine = machine; self.machineID = machineID; self.round = round; self.bookedAt = bookedAt
        self.members = members; self.status = status; self.summary = summary; self.version = version
    }

    /// Books `DBCRules.membersPerOrder` distinct members of `committee` at random;
    /// the i-th gets slots i, i+3, i+6.
    public static func book<R: RandomNumberGenerator>(id: String, machine: String, machineID: String, round: Int,
                                                       committee: [String], at height: Int64, using rng: inout R) throws -> VerifyOrder {
        var pool: [String] = []
        for name in committee where !pool.contains(name) { pool.append(name) }
        guard pool.count >= DBCRules.membersPerOrder else { throw CommitteeError.notEnoughCommittee(pool.count) }
        var members: [BookedMember] = []
        for seq in 0..<DBCRules.membersPerOrder {
            let name = pool.remove(at: Int.random(in: 0..<pool.count, using: &rng))
            let slots = DBCRules.slotIndices(seq: seq).map { height + Int64($0) * DBCRules.slotBlocks }
            members.append(BookedMember(name: name, seq: seq, slots: slots))
        }
        return VerifyOrder(id: id, machine: machine, machineID: machineID, round: round, bookedAt: height,
                           members: members, status: .submittingHash, summary: nil, version: 0)
    }

    public func member(_ name: String) -> BookedMember? { members.first { $0.name == name } }

    private func index(of name: String) throws -> Int {
        guard let i = members.firstIndex(where: { $0.name == name }) else {
            throw CommitteeError.notInBookList(member: name, booked: members.map(\.name))
        }
        return i
    }

    /// `0x` + 32 hex digits, lowercased; nil if `text` is not such a hash.
    public static func normalizeHash(_ text: String) -> String? {
        let lower = text.lowercased()
        guard lower.hasPrefix("0x") else { return nil }
        let digits = lower.dropFirst(2)
        guard digits.count == 32, digits.allSatisfy({ $0.isHexDigit }) else { return nil }
        return lower
    }

    /// A member commits the hash of its info (`submit_confirm_hash`). As on
    /// chain, no time is checked: a hash is accepted until the order is
    /// summarised (a late hasher may still reveal before 48 h).
    public mutating func submitHash(member name: String, hash text: String, at height: Int64) throws {
        guard status != .finished else { throw CommitteeError.orderFinished(id) }
        let i = try index(of: name)
        guard let hash = Self.normalizeHash(text) else { throw CommitteeError.badHash(text) }
        guard members[i].hash == nil else { throw CommitteeError.alreadySubmitHash(name) }
        guard !members.contains(where: { $0.hash == hash }) else { throw CommitteeError.duplicateHash(hash) }
        members[i].hash = hash
        members[i].hashedAt = height
        // Once every booked member has hashed, reveals may start at once.
        if status == .submittingHash && members.allSatisfy({ $0.hash != nil }) { status = .submittingRaw }
    }

    /// A member reveals its raw info (`submit_confirm_raw`); it must hash to the committed hash.
    public mutating func submitRaw(member name: String, info: MachineInfo, at height: Int64) throws {
        guard status != .finished else { throw CommitteeError.orderFinished(id) }
        let i = try index(of: name)
        let hashed = members.filter { $0.hash != nil }.count
        if status == .submittingHash && height < rawOpensAt {
            throw CommitteeError.rawNotYet(opensAt: rawOpensAt, now: height, hashed: hashed, booked: members.count)
        }
        guard height < rawClosesAt else { throw CommitteeError.rawWindowClosed(closedAt: rawClosesAt, now: height) }
        guard let committed = members[i].hash else { throw CommitteeError.notSubmitHash(name) }
        guard members[i].info == nil else { throw CommitteeError.alreadySubmitRaw(name) }
        guard info.machineID == machineID else { throw CommitteeError.wrongMachine(expected: machineID, got: info.machineID) }
        let got = info.hashHex
        guard got == committed else { throw CommitteeError.infoNotFitHash(member: name, committed: committed, got: got) }
        members[i].info = info
        members[i].revealedAt = height
        if status == .submittingHash { status = .submittingRaw }
        // Everyone who hashed has revealed: nothing more can come, summarise.
        if members.filter({ $0.info != nil }).count == hashed { status = .summarizing }
    }

    /// Whether `name` may reveal now (the window is open and it has hashed but not revealed).
    public func canReveal(_ name: String, at height: Int64) -> Bool {
        guard status == .submittingRaw || (status == .submittingHash && height >= rawOpensAt), height < rawClosesAt,
              let m = member(name) else { return false }
        return m.hash != nil && m.info == nil
    }

    /// Moves the order along at `height`: opens the raw window at 36 h and
    /// summarises once everyone who hashed has revealed, or at 48 h.
    /// Returns whether anything changed.
    @discardableResult
    public mutating func advance(to height: Int64) -> Bool {
        var changed = false
        if status == .submittingHash && height >= rawOpensAt {
            status = .submittingRaw
            changed = true
        }
        if status == .summarizing || (status == .submittingRaw && height >= rawClosesAt) {
            summary = Self.summarize(booked: members.map(\.name),
                                     revealed: members.compactMap { m in m.info.map { (m.name, $0) } }, at: height)
            status = .finished
            changed = true
        }
        return changed
    }

    /// The chain's `summary_confirmation`: refusals compare equal to each
    /// other and rand_str is ignored; all revealed infos identical → Confirmed
    /// (Refused if they refuse); two of three identical → the majority wins and
    /// the minority is an invalid vote; all different, or nothing revealed →
    /// NoConsensus. Booked members who never revealed are unruly.
    public static func summarize(booked: [String], revealed: [(String, MachineInfo)], at height: Int64) -> VerifySummary {
        let unruly = booked.filter { name in !revealed.contains { $0.0 == name } }.sorted()
        let voters = revealed.map(\.0).sorted()
        guard !revealed.isEmpty else {
            return VerifySummary(result: .noConsensus, valid: [], invalid: [], unruly: unruly, info: nil, at: height)
        }
        // Group identical (normalised) infos, largest group first.
        var groups: [(info: MachineInfo, members: [String])] = []
        for (name, info) in revealed {
            let form = info.summaryForm
            if let g = groups.firstIndex(where: { $0.info == form }) {
                groups[g].members.append(name)
            } else {
                groups.append((form, [name]))
            }
        }
        if groups.count == 1 {
            let info = groups[0].info
            return VerifySummary(result: info.isSupport ? .confirmed : .refused, valid: voters, invalid: [],
                                 unruly: unruly, info: info.isSupport ? info : nil, at: height)
        }
        if groups.count == revealed.count {
            return VerifySummary(result: .noConsensus, valid: [], invalid: voters, unruly: unruly, info: nil, at: height)
        }
        // Three reveals, two of them identical.
        groups.sort { $0.members.count > $1.members.count }
        let winner = groups[0]
        let losers = groups.dropFirst().flatMap(\.members).sorted()
        return VerifySummary(result: winner.info.isSupport ? .confirmed : .refused, valid: winner.members.sorted(),
                             invalid: losers, unruly: unruly, info: winner.info.isSupport ? winner.info : nil, at: height)
    }

    /// The order as shown to admins: an automatic member's held info stays
    /// private until it is revealed.
    public var redacted: VerifyOrder {
        var copy = self
        for i in copy.members.indices { copy.members[i].held = nil }
        return copy
    }
}
