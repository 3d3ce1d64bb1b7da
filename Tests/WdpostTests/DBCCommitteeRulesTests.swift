import Foundation
import Shared
import XCTest

/// One test per rule of the chain's online-committee pallet (DBC.md §3), so a
/// rule that drifts names itself. Helpers are DBCCommitteeTests'.
extension DBCCommitteeTests {
    func testRuleSixSecondBlocksAndTheBlockConstants() throws {
        XCTAssertEqual(DBCRules.blocksPerHour, 600, "1 h of 6 s blocks")
        XCTAssertEqual(DBCRules.slotBlocks, 2_400, "a verify slot is 4 h")
        XCTAssertEqual(DBCRules.slotsEnd, 21_600, "36 h")
        XCTAssertEqual(DBCRules.rawStart, 21_600, "36 h")
        XCTAssertEqual(DBCRules.rawEnd, 28_800, "48 h")
        XCTAssertEqual(MasterConfig.DBC().blockTime, 6_000_000, "the default block_time is the chain's 6 s")
        XCTAssertEqual(BlockClock(blockTime: 6_000_000).height(atMicros: 3_600_000_000), 600)
    }

    func testRuleThreeSlotsPerMemberINPlusThreeIPlusSix() throws {
        let order = try book()
        var covered: [Int64] = []
        for (i, m) in order.members.enumerated() {
            XCTAssertEqual(m.slots.count, 3, "three slots each, not nine")
            XCTAssertEqual(m.slots, [i, i + 3, i + 6].map { booked + Int64($0) * 2_400 })
            covered += m.slots
        }
        XCTAssertEqual(covered.sorted(), (0..<9).map { booked + Int64($0) * 2_400 }, "the nine slots, each held by one member")
    }

    func testRuleAHashEqualToAnotherMembersIsRefusedAndChangesNothing() throws {
        var order = try book()
        let (a, b) = (order.members[0].name, order.members[1].name)
        try order.submitHash(member: a, hash: info("same").hashHex, at: booked)
        let before = order
        XCTAssertThrowsError(try order.submitHash(member: b, hash: info("same").hashHex, at: booked + 40 * hour)) {
            XCTAssertEqual($0 as? CommitteeError, .duplicateHash(info("same").hashHex))
        }
        XCTAssertEqual(order, before)
        try order.submitHash(member: b, hash: info("own").hashHex, at: booked + 1)
    }

    func testRuleTheChainChecksNoTimeOnAHash() throws {
        var order = try book()
        let (a, b, c) = (order.members[0].name, order.members[1].name, order.members[2].name)
        try order.submitHash(member: a, hash: info("a").hashHex, at: booked + 1)
        order.advance(to: booked + 36 * hour)
        XCTAssertEqual(order.status, .submittingRaw)
        // After the verify slots and the opening of the raw window a hash is still taken…
        try order.submitHash(member: b, hash: info("b").hashHex, at: booked + 40 * hour)
        XCTAssertEqual(order.member(b)?.hashedAt, booked + 40 * hour)
        // …and its member may reveal before 48 h.
        try order.submitRaw(member: a, info: info("a"), at: booked + 41 * hour)
        try order.submitRaw(member: b, info: info("b"), at: booked + 47 * hour)
        XCTAssertEqual(order.status, .summarizing, "everyone who hashed has revealed")
        order.advance(to: booked + 47 * hour)
        XCTAssertEqual(order.summary?.result, .confirmed)
        XCTAssertEqual(order.summary?.valid, [a, b].sorted())
        XCTAssertEqual(order.summary?.unruly, [c])
        // Once summarised, nothing more is taken.
        XCTAssertThrowsError(try order.submitHash(member: c, hash: info("c").hashHex, at: booked + 47 * hour)) {
            XCTAssertEqual($0 as? CommitteeError, .orderFinished("order1"))
        }
    }

    func testRuleRawAtOnceWhenAllThreeHashed() throws {
        var order = try book()
        try run(&order, [info("a"), info("b"), info("c")], hashAt: booked + 7, revealAt: nil)
        XCTAssertEqual(order.status, .submittingRaw)
        // The very block after the last hash.
        try order.submitRaw(member: order.members[0].name, info: info("a"), at: booked + 8)
        XCTAssertEqual(order.member(order.members[0].name)?.revealedAt, booked + 8)
    }

    func testRuleRawOtherwiseOnlyFrom36To48Hours() throws {
        var order = try book()
        try run(&order, [info("a"), info("b"), nil], hashAt: booked, revealAt: nil)
        let (a, b) = (order.members[0].name, order.members[1].name)
        XCTAssertThrowsError(try order.submitRaw(member: a, info: info("a"), at: booked + 21_600 - 1)) {
            XCTAssertEqual($0 as? CommitteeError, .rawNotYet(opensAt: booked + 21_600, now: booked + 21_599, hashed: 2, booked: 3))
        }
        XCTAssertFalse(order.canReveal(a, at: booked + 21_599))
        XCTAssertTrue(order.canReveal(a, at: booked + 21_600))
        try order.submitRaw(member: a, info: info("a"), at: booked + 21_600)
        XCTAssertFalse(order.canReveal(b, at: booked + 28_800))
        XCTAssertThrowsError(try order.submitRaw(member: b, info: info("b"), at: booked + 28_800)) {
            XCTAssertEqual($0 as? CommitteeError, .rawWindowClosed(closedAt: booked + 28_800, now: booked + 28_800))
        }
        XCTAssertNil(order.member(b)?.info)
    }

    func testRuleRefusalsAreIdenticalToEachOther() throws {
        // Two refusals with nothing in common but the refusal outvote a support.
        var order = try book()
        var odd = info("b", support: false, calcPoint: 3, gpuNum: 9)
        odd.cpuType = "something else"
        try run(&order, [info("a", support: false), odd, info("c")], hashAt: booked, revealAt: booked + 1)
        order.advance(to: booked + 1)
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .refused)
        XCTAssertEqual(s.valid, names(order, [0, 1]))
        XCTAssertEqual(s.invalid, names(order, [2]))
        XCTAssertEqual(info("x", support: false).summaryForm, odd.summaryForm)
    }

    func testRuleOneRevealConfirmsAloneWhenTheOtherTwoNeverRevealed() throws {
        // All three hashed, so reveals opened at once; only one ever reveals.
        var order = try book()
        try run(&order, [info("a"), info("b"), info("c")], hashAt: booked, revealAt: nil)
        let b = order.members[1].name
        try order.submitRaw(member: b, info: info("b"), at: booked + 2 * hour)
        XCTAssertFalse(order.advance(to: booked + 48 * hour - 1), "the others may still reveal")
        XCTAssertTrue(order.advance(to: booked + 48 * hour))
        let s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .confirmed)
        XCTAssertEqual(s.valid, [b])
        XCTAssertEqual(s.invalid, [])
        XCTAssertEqual(s.unruly, names(order, [0, 2]))
        XCTAssertEqual(s.info, info(""))
    }

    func testRuleAllDifferentIsNoConsensus() throws {
        for revealed in [2, 3] {
            var order = try book()
            let infos: [MachineInfo?] = [info("a", calcPoint: 1), info("b", calcPoint: 2), revealed == 3 ? info("c", calcPoint: 3) : nil]
            try run(&order, infos, hashAt: booked, revealAt: booked + 36 * hour)
            order.advance(to: booked + 36 * hour)
            let s = try XCTUnwrap(order.summary)
            XCTAssertEqual(s.result, .noConsensus, "\(revealed) reveals, all different")
            XCTAssertNil(s.info)
            XCTAssertEqual(s.valid, [])
        }
    }

    func testRuleUnrulyAndInvalidMembersAsTheChainCountsThem() throws {
        // Confirmed: the outvoted member is invalid and punished; a member that never revealed is unruly and punished.
        var order = try book()
        try run(&order, [info("a"), info("b"), info("c", calcPoint: 1)], hashAt: booked, revealAt: nil)
        try order.submitRaw(member: order.members[0].name, info: info("a"), at: booked + 1)
        try order.submitRaw(member: order.members[2].name, info: info("c", calcPoint: 1), at: booked + 1)
        order.advance(to: booked + 48 * hour)
        var s = try XCTUnwrap(order.summary)
        // Two reveals that differ: no consensus, so nobody's vote is counted invalid against a verdict.
        XCTAssertEqual(s.result, .noConsensus)
        XCTAssertEqual(s.unruly, names(order, [1]))
        XCTAssertEqual(s.punished, names(order, [1]), "after NoConsensus only the unruly are punished")

        order = try book()
        try run(&order, [info("a"), info("b"), info("c", calcPoint: 1)], hashAt: booked, revealAt: booked + 1)
        order.advance(to: booked + 1)
        s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .confirmed)
        XCTAssertEqual(s.invalid, names(order, [2]))
        XCTAssertEqual(s.punished, names(order, [2]), "an invalid vote against a verdict is punished")

        order = try book()
        try run(&order, [info("a", support: false), info("b"), nil], hashAt: booked, revealAt: nil)
        order.advance(to: booked + 36 * hour)
        try order.submitRaw(member: order.members[0].name, info: info("a", support: false), at: booked + 36 * hour)
        XCTAssertEqual(order.status, .submittingRaw, "b hashed and has not revealed")
        order.advance(to: booked + 48 * hour)
        s = try XCTUnwrap(order.summary)
        XCTAssertEqual(s.result, .refused, "the one refusal revealed is the verdict")
        XCTAssertEqual(s.unruly, names(order, [1, 2]), "booked and never revealed, whether it hashed or not")
        XCTAssertEqual(s.punished, names(order, [1, 2]))
    }
}
