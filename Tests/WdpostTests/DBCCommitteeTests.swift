import Foundation
import Shared
import XCTest

/// The seeded generator of FrameTests, so bookings in tests are reproducible.
extension SplitMix64: RandomNumberGenerator {}

/// The committee rules as a pure type: heights are injected, so the 48 hours
/// of an order take no time at all.
final class DBCCommitteeTests: XCTestCase {
    let hour = DBCRules.blocksPerHour
    let booked: Int64 = 1_000_000
    let machineID = "c2ad03b01cb72857978f7e18527afddb671c8354c72c46523405334be23c3701"

    func book(committee: [String] = ["alice", "bob", "carol", "dave", "erin"], seed: UInt64 = 7) throws -> VerifyOrder {
        var rng = SplitMix64(seed: seed)
        return try VerifyOrder.book(id: "order1", machine: "gpu-box-1", machineID: machineID, round: 1,
                                    committee: committee, at: booked, using: &rng)
    }

    func info(_ rand: String, support: Bool = true, calcPoint: UInt64 = 59890, gpuNum: UInt32 = 4) -> MachineInfo {
        MachineInfo(machineID: machineID, gpuType: "GeForceRTX3080", gpuNum: gpuNum, cudaCore: 8704, gpuMem: 10, calcPoint: calcPoint,
                    sysDisk: 500, dataDisk: 3905, cpuType: "Intel(R) Xeon(R) Silver 4214R", cpuCoreNum: 46, cpuRate: 2400,
                    memNum: 440, randStr: rand, isSupport: support)
    }

    /// Each booked member hashes its info at `at`, then reveals at `revealAt` (nil: hashes only).
    func run(_ order: inout VerifyOrder, _ infos: [MachineInfo?], hashAt: Int64, revealAt: Int64?) throws {
        for (m, info) in zip(order.members, infos) {
            guard let info else { continue }
            try order.submitHash(member: m.name, hash: info.hashHex, at: hashAt)
        }
        guard let revealAt else { return }
        for (m, info) in zip(order.members, infos) {
            guard let info else { continue }
            try order.submitRaw(member: m.name, info: info, at: revealAt)
        }
    }

    func names(_ order: VerifyOrder, _ indices: [Int]) -> [String] { indices.map { order.members[$0].name }.sorted() }

    // MARK: booking and slots

    func testBookingPicksThreeDistinctMembersWithTheirSlots() throws {
        var seen = Set<String>()
        for seed in 0..<40 as Range<UInt64> {
            let order = try book(seed: seed)
            XCTAssertEqual(order.members.count, 3)
            XCTAssertEqual(Set(order.members.map(\.name)).count, 3, "distinct members")
            seen.formUnion(order.members.map(\.name))
            for (i, m) in order.members.enumerated() {
                XCTAssertEqual(m.seq, i)
                XCTAssertEqual(DBCRules.slotIndices(seq: i), [i, i + 3, i + 6])
                // Slot k starts k × 4 h after booking.
                XCTAssertEqual(m.slots, [i, i + 3, i + 6].map { booked + Int64($0) * 4 * hour })
            }
            XCTAssertEqual(order.status, .submittingHash)
        }
        XCTAssertEqual(seen, ["alice", "bob", "carol", "dave", "erin"], "every member gets booked sometimes")
        XCTAssertThrowsError(try book(committee: ["alice", "bob", "alice"])) {
            XCTAssertEqual($0 as? CommitteeError, .notEnoughCommittee(2))
        }
        let order = try book()
        XCTAssertEqual(order.slotsEndAt, booked + 36 * hour)
        XCTAssertEqual(order.rawOpensAt, booked + 36 * hour)
        XCTAssertEqual(order.rawClosesAt, booked + 48 * hour)
    }

    // MARK: summaries

    func testAllAgreeConfirmed() throws {
        var order = try book()
        // Infos differing only in rand_str are the same vote.
        try run(&order, [info("a1"), info("b2"), info("c3")], hashAt: booked + 5, revealAt: booked + 10)
        XCTAssertEqual(order.status, .summarizing, "everyone who hashed has revealed")
        XCTAssertTrue(order.advance(to: booked + 10))
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(order.status, .finished)
        XCTAssertEqual(s.result, .confirmed)
        XCTAssertEqual(s.valid, names(order, [0, 1, 2]))
        XCTAssertEqual(s.invalid, [])
        XCTAssertEqual(s.unruly, [])
        XCTAssertEqual(s.info, info(""), "the agreed info, without rand_str")
        XCTAssertEqual(s.at, booked + 10)
    }

    func testAllRefuseRefusedAndRefusalsCompareEqual() throws {
        var order = try book()
        // Refusals carry nothing but the refusal: different figures still agree.
        try run(&order, [info("a", support: false), info("b", support: false, calcPoint: 1), info("c", support: false, gpuNum: 0)],
                hashAt: booked, revealAt: booked + 1)
        order.advance(to: booked + 1)
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .refused)
        XCTAssertEqual(s.valid, names(order, [0, 1, 2]))
        XCTAssertEqual(s.invalid, [])
        XCTAssertNil(s.info)
    }

    func testTwoToOneWithSupportConfirmedMinorityInvalid() throws {
        var order = try book()
        try run(&order, [info("a"), info("b", calcPoint: 12_345), info("c")], hashAt: booked, revealAt: booked + 1)
        order.advance(to: booked + 1)
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .confirmed)
        XCTAssertEqual(s.valid, names(order, [0, 2]))
        XCTAssertEqual(s.invalid, names(order, [1]))
        XCTAssertEqual(s.unruly, [])
        XCTAssertEqual(s.info?.calcPoint, 59890)
    }

    func testTwoToOneWithRefusalRefusedSupporterInvalid() throws {
        var order = try book()
        try run(&order, [info("a", support: false), info("b"), info("c", support: false, calcPoint: 1)], hashAt: booked, revealAt: booked + 1)
        order.advance(to: booked + 1)
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .refused)
        XCTAssertEqual(s.valid, names(order, [0, 2]))
        XCTAssertEqual(s.invalid, names(order, [1]))
        XCTAssertNil(s.info)
    }

    func testOneOneOneNoConsensusAllInvalid() throws {
        var order = try book()
        try run(&order, [info("a", calcPoint: 1), info("b", calcPoint: 2), info("c", support: false)], hashAt: booked, revealAt: booked + 1)
        order.advance(to: booked + 1)
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .noConsensus)
        XCTAssertEqual(s.valid, [])
        XCTAssertEqual(s.invalid, names(order, [0, 1, 2]))
        XCTAssertEqual(s.unruly, [])
    }

    func testSingleRevealConfirmsAndTheOthersAreUnruly() throws {
        var order = try book()
        try run(&order, [nil, info("b"), nil], hashAt: booked + 3 * hour, revealAt: nil)
        XCTAssertEqual(order.status, .submittingHash, "not everyone hashed: reveals wait for 36 h")
        let lone = order.members[1].name
        XCTAssertThrowsError(try order.submitRaw(member: lone, info: info("b"), at: booked + 36 * hour - 1)) {
            XCTAssertEqual($0 as? CommitteeError, .rawNotYet(opensAt: booked + 36 * hour, now: booked + 36 * hour - 1, hashed: 1, booked: 3))
        }
        XCTAssertTrue(order.advance(to: booked + 36 * hour))
        XCTAssertEqual(order.status, .submittingRaw)
        try order.submitRaw(member: lone, info: info("b"), at: booked + 40 * hour)
        XCTAssertEqual(order.status, .summarizing, "everyone who hashed has revealed")
        order.advance(to: booked + 40 * hour)
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .confirmed, "the chain confirms on one info when it is the only one")
        XCTAssertEqual(s.valid, [lone])
        XCTAssertEqual(s.unruly, names(order, [0, 2]))
    }

    func testTwoDifferentRevealsNoConsensus() throws {
        var order = try book()
        try run(&order, [info("a"), info("b", calcPoint: 7), nil], hashAt: booked, revealAt: booked + 36 * hour)
        order.advance(to: booked + 36 * hour)
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .noConsensus)
        XCTAssertEqual(s.invalid, names(order, [0, 1]))
        XCTAssertEqual(s.unruly, names(order, [2]))
    }

    func testNoneRevealedNoConsensusAfterFortyEightHours() throws {
        var order = try book()
        try run(&order, [info("a"), info("b"), info("c")], hashAt: booked + 1, revealAt: nil)
        XCTAssertEqual(order.status, .submittingRaw, "every member hashed: reveals may start at once")
        XCTAssertFalse(order.advance(to: booked + 48 * hour - 1), "nothing happens before 48 h")
        XCTAssertNil(order.summary)
        XCTAssertTrue(order.advance(to: booked + 48 * hour))
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .noConsensus)
        XCTAssertEqual(s.unruly, names(order, [0, 1, 2]))
        XCTAssertEqual(s.invalid, [])
        XCTAssertEqual(order.status, .finished)
        XCTAssertThrowsError(try order.submitRaw(member: order.members[0].name, info: info("a"), at: booked + 48 * hour)) {
            XCTAssertEqual($0 as? CommitteeError, .orderFinished("order1"))
        }
    }

    func testNothingHashedAtAllNoConsensus() throws {
        var order = try book()
        order.advance(to: booked + 36 * hour)
        XCTAssertEqual(order.status, .submittingRaw)
        order.advance(to: booked + 50 * hour)
        XCTAssertEqual(order.summary?.result, .noConsensus)
        XCTAssertEqual(order.summary?.unruly, names(order, [0, 1, 2]))
    }

    // MARK: refused submissions

    func testRevealThatDoesNotMatchItsHashIsRefused() throws {
        var order = try book()
        try run(&order, [info("a"), info("b"), info("c")], hashAt: booked, revealAt: nil)
        let m = order.members[0].name
        var tampered = info("a")
        tampered.calcPoint += 1
        XCTAssertThrowsError(try order.submitRaw(member: m, info: tampered, at: booked + 1)) {
            XCTAssertEqual($0 as? CommitteeError, .infoNotFitHash(member: m, committed: info("a").hashHex, got: tampered.hashHex))
        }
        // Another member's info does not fit either (its rand_str differs).
        XCTAssertThrowsError(try order.submitRaw(member: m, info: info("b"), at: booked + 1))
        XCTAssertNil(order.member(m)?.info, "nothing recorded")
        var other = info("a")
        other.machineID = "00"
        XCTAssertThrowsError(try order.submitRaw(member: m, info: other, at: booked + 1)) {
            XCTAssertEqual($0 as? CommitteeError, .wrongMachine(expected: machineID, got: "00"))
        }
        try order.submitRaw(member: m, info: info("a"), at: booked + 1)
        XCTAssertThrowsError(try order.submitRaw(member: m, info: info("a"), at: booked + 2)) {
            XCTAssertEqual($0 as? CommitteeError, .alreadySubmitRaw(m))
        }
    }

    func testHashSentTwiceIsRefused() throws {
        var order = try book()
        let (a, b) = (order.members[0].name, order.members[1].name)
        let hash = info("a").hashHex
        try order.submitHash(member: a, hash: hash, at: booked)
        XCTAssertThrowsError(try order.submitHash(member: a, hash: info("other").hashHex, at: booked + 1)) {
            XCTAssertEqual($0 as? CommitteeError, .alreadySubmitHash(a))
        }
        // The same hash from another member: all hashes must differ.
        XCTAssertThrowsError(try order.submitHash(member: b, hash: hash.uppercased().replacingOccurrences(of: "0X", with: "0x"), at: booked + 1)) {
            XCTAssertEqual($0 as? CommitteeError, .duplicateHash(hash))
        }
        XCTAssertThrowsError(try order.submitHash(member: b, hash: "0x1234", at: booked)) {
            XCTAssertEqual($0 as? CommitteeError, .badHash("0x1234"))
        }
        XCTAssertThrowsError(try order.submitHash(member: "mallory", hash: info("m").hashHex, at: booked)) {
            XCTAssertEqual($0 as? CommitteeError, .notInBookList(member: "mallory", booked: order.members.map(\.name)))
        }
        XCTAssertEqual(order.members.filter { $0.hash != nil }.count, 1)
    }

    func testRevealBeforeItsWindowIsRefused() throws {
        var order = try book()
        try run(&order, [info("a"), info("b"), nil], hashAt: booked + 1, revealAt: nil)
        let a = order.members[0].name
        XCTAssertThrowsError(try order.submitRaw(member: a, info: info("a"), at: booked + 2 * hour)) {
            XCTAssertEqual($0 as? CommitteeError, .rawNotYet(opensAt: booked + 36 * hour, now: booked + 2 * hour, hashed: 2, booked: 3))
        }
        // A member that never hashed has nothing to reveal, even in the window.
        let c = order.members[2].name
        XCTAssertThrowsError(try order.submitRaw(member: c, info: info("c"), at: booked + 37 * hour)) {
            XCTAssertEqual($0 as? CommitteeError, .notSubmitHash(c))
        }
        // Once the last member hashes, the window opens at once.
        try order.submitHash(member: c, hash: info("c").hashHex, at: booked + 3 * hour)
        XCTAssertTrue(order.canReveal(a, at: booked + 3 * hour))
        try order.submitRaw(member: a, info: info("a"), at: booked + 3 * hour)
        // …and closes at 48 h.
        XCTAssertThrowsError(try order.submitRaw(member: c, info: info("c"), at: booked + 48 * hour)) {
            XCTAssertEqual($0 as? CommitteeError, .rawWindowClosed(closedAt: booked + 48 * hour, now: booked + 48 * hour))
        }
        order.advance(to: booked + 48 * hour)
        XCTAssertEqual(order.summary?.result, .confirmed)
        XCTAssertEqual(order.summary?.valid, [a])
        XCTAssertEqual(order.summary?.unruly, names(order, [1, 2]))
    }

    func testRedactedHidesHeldInfo() throws {
        var order = try book()
        order.members[0].held = info("secret")
        XCTAssertNil(order.redacted.members[0].held)
        XCTAssertEqual(BlockClock(blockTime: 6_000_000).height(atMicros: 12_000_001), 2)
        // 48 chain hours at a 2 ms block time are under a minute of wall time.
        XCTAssertEqual(BlockClock(blockTime: 2_000).micros(of: DBCRules.rawEnd), 57_600_000)
    }
}
