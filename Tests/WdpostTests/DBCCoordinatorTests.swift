import Foundation
import Logging
@testable import Master
import Shared
import XCTest

/// The master's committee process at chosen heights, on a real SQLite store:
/// what it does for automatic members when probes succeed, fail or lie.
final class DBCCoordinatorTests: XCTestCase {
    var dir: URL!
    var store: SQLiteStore!
    var coordinator: DBCCoordinator!
    let hour = DBCRules.blocksPerHour

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-coord-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = try MasterConfigFixture.load(in: dir, extra: """
            [task]
            max_retry = 1
            [dbc]
            committee = ["alice", "bob", "carol"]
            manual = ["carol"]
            """)
        store = try SQLiteStore(path: dir.appendingPathComponent("t.db").path)
        try store.migrate()
        let logger = Logger(label: "test")
        coordinator = DBCCoordinator(config: config, executor: StoreExecutor(store: store, logger: logger), logger: logger, wake: WakeSignal())
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func tx<T>(_ body: () throws -> T) throws -> T {
        try store.begin()
        do {
            let v = try body()
            try store.commit()
            return v
        } catch {
            try store.rollback()
            throw error
        }
    }

    /// One tick at `height`; returns the stored order afterwards.
    @discardableResult
    func tick(_ height: Int64) throws -> VerifyOrder {
        try tx {
            var events = DBCCoordinator.Events()
            for order in try store.openOrders() {
                try coordinator.advance(order, at: height, jobs: store, committee: store, events: &events)
            }
        }
        return try XCTUnwrap(try tx { try store.orders(machine: "box") }.last)
    }

    func book(at height: Int64) throws -> VerifyOrder {
        let order = try coordinator.book(machine: "box", machineID: "abc123", round: 1, at: height)
        try tx { try store.insertOrder(order, now: 1) }
        return order
    }

    func member(_ order: VerifyOrder, _ name: String) -> BookedMember { order.member(name)! }

    /// Claims the probe job as the target slave and finishes it.
    func finishProbe(_ id: String, ok: Bool, info: MachineInfo? = nil, error: String = "") throws {
        try tx {
            let claimed = try store.claim(worker: "box", kinds: [JobKind.dbcVerify], miners: [], limit: 10, now: nowMicros())
            let job = try XCTUnwrap(claimed.first { $0.id == id }, "the probe job is claimable by the target slave")
            var output = Data()
            if let info {
                output = try JSONEncoder().encode(DBCProbeOutput(info: info, checks: [], backend: "cpu", backendDetail: "", benchmark: ""))
            }
            _ = try store.finish(JobResult(id: job.id, lease: job.lease, ok: ok, output: output, error: error), now: nowMicros(),
                                 retry: RetryPolicy(notBefore: 0))
        }
    }

    func info(rand: String) -> MachineInfo {
        MachineInfo(machineID: "abc123", gpuType: "H100", gpuNum: 1, cudaCore: 16896, gpuMem: 79, calcPoint: 100, sysDisk: 1,
                    dataDisk: 1, cpuType: "x", cpuCoreNum: 1, cpuRate: 1, memNum: 1, randStr: rand, isSupport: true)
    }

    func testAutomaticMemberProbesInItsSlotsAndRetriesAFailedProbeInTheNextSlot() throws {
        let booked: Int64 = 10_000
        let order = try book(at: booked)
        let auto = order.members.first { $0.name != "carol" }!
        let slot0 = auto.slots[0]

        // Before its first slot nothing is submitted for it.
        if slot0 > booked { XCTAssertEqual(member(try tick(slot0 - 1), auto.name).probeJob, "") }
        var o = try tick(slot0)
        let firstJob = member(o, auto.name).probeJob
        XCTAssertFalse(firstJob.isEmpty, "a probe in the member's first slot")
        XCTAssertEqual(member(o, "carol").probeJob, "", "nothing is run for a manual member")
        let job = try XCTUnwrap(try tx { try store.get(firstJob) })
        XCTAssertEqual(job.kind, JobKind.dbcVerify)
        XCTAssertEqual(job.pin, "box", "pinned to the machine under test")
        let input = try JSONDecoder().decode(DBCProbeInput.self, from: job.input)
        XCTAssertEqual(input.machineID, "abc123")
        XCTAssertEqual(input.randStr, member(o, auto.name).randStr)
        XCTAssertEqual(input.randStr.count, 16)
        XCTAssertTrue(try tx { try store.claim(worker: "elsewhere", kinds: [JobKind.dbcVerify], miners: [], limit: 10, now: nowMicros()) }.isEmpty,
                      "no other slave may take it")

        // The probe fails for good (max_try 1): noted, and not retried within the same slot.
        try finishProbe(firstJob, ok: false, error: "GPU fell off the bus")
        o = try tick(slot0 + 1)
        XCTAssertEqual(member(o, auto.name).probeJob, "")
        XCTAssertTrue(member(o, auto.name).note.contains("GPU fell off the bus"), member(o, auto.name).note)
        o = try tick(slot0 + 2)
        XCTAssertEqual(member(o, auto.name).probeJob, "")

        // Its next slot (3 slots = 12 h later) runs a fresh probe with a fresh rand_str.
        o = try tick(auto.slots[1])
        let secondJob = member(o, auto.name).probeJob
        XCTAssertFalse(secondJob.isEmpty)
        XCTAssertNotEqual(secondJob, firstJob)
        XCTAssertNotEqual(member(o, auto.name).randStr, input.randStr)
        XCTAssertEqual(member(o, auto.name).probeSlot, 1)

        // A result that answers another rand_str is not committed.
        try finishProbe(secondJob, ok: true, info: info(rand: "not-mine"))
        o = try tick(auto.slots[1] + 1)
        XCTAssertNil(member(o, auto.name).hash)
        XCTAssertTrue(member(o, auto.name).note.contains("rand_str"), member(o, auto.name).note)

        // Third slot: a good probe. Its hash is committed and the info held (not revealed: the others have not hashed).
        o = try tick(auto.slots[2])
        let thirdJob = member(o, auto.name).probeJob
        let good = info(rand: member(o, auto.name).randStr)
        try finishProbe(thirdJob, ok: true, info: good)
        o = try tick(auto.slots[2] + 1)
        XCTAssertEqual(member(o, auto.name).hash, good.hashHex)
        XCTAssertEqual(member(o, auto.name).held, good)
        XCTAssertNil(member(o, auto.name).info)
        XCTAssertEqual(member(o, auto.name).note, "")

        // At 36 h the window opens and the held info is revealed. Everyone who hashed has revealed, so the
        // order is summarised at once: one info alone is a consensus of one, as on chain.
        o = try tick(booked + 36 * hour)
        XCTAssertEqual(member(o, auto.name).info, good)
        XCTAssertNil(member(o, auto.name).held)
        XCTAssertEqual(o.summary?.result, .confirmed, "everyone who hashed has revealed")
        XCTAssertEqual(o.summary?.valid, [auto.name])
        XCTAssertEqual(o.summary?.unruly.count, 2)
    }

    func testNoConsensusBooksTheMachineAgain() throws {
        let booked: Int64 = 50_000
        _ = try book(at: booked)
        // No probe ever finishes (no slave): at 48 h nobody has revealed.
        for h in stride(from: booked, through: booked + 48 * hour, by: Int(2 * hour)) { try tick(h) }
        let orders = try tx { try store.orders(machine: "box") }
        XCTAssertEqual(orders.count, 2)
        XCTAssertEqual(orders[0].summary?.result, .noConsensus)
        XCTAssertEqual(orders[0].summary?.unruly, ["alice", "bob", "carol"])
        XCTAssertEqual(orders[1].round, 2)
        XCTAssertEqual(orders[1].bookedAt, booked + 48 * hour)
        XCTAssertEqual(Set(orders[1].members.map(\.name)), ["alice", "bob", "carol"])
        XCTAssertTrue(orders[1].isOpen)
        XCTAssertEqual(try tx { try store.openOrders() }.map(\.id), [orders[1].id])
        // The probes that never ran for the first order are gone, so no slave runs them for nothing.
        XCTAssertEqual(try tx { try store.list(all: true) }.filter { $0.state == .readyToRun }.count, 0)
        XCTAssertTrue(orders[0].members.filter { $0.name != "carol" }.allSatisfy { $0.note.contains("the order was summarised") },
                      "\(orders[0].members.map(\.note))")
    }

    func testRuleAProbeFinishingAfterTheSlotsStillHashesAndReveals() throws {
        let booked: Int64 = 30_000
        let order = try book(at: booked)
        let auto = order.members.first { $0.name != "carol" }!
        // A probe started in the member's last slot is still running when the slots end at 36 h…
        var o = try tick(auto.slots[2])
        let job = member(o, auto.name).probeJob
        XCTAssertFalse(job.isEmpty)
        o = try tick(booked + 36 * hour)
        XCTAssertEqual(member(o, auto.name).probeJob, job, "kept: the chain takes a hash at any time before the summary")
        // …and finishes at 37 h: its hash is committed and, the raw window being open, revealed.
        let good = info(rand: member(o, auto.name).randStr)
        try finishProbe(job, ok: true, info: good)
        o = try tick(booked + 37 * hour)
        XCTAssertEqual(member(o, auto.name).hash, good.hashHex)
        XCTAssertEqual(member(o, auto.name).info, good)
        XCTAssertEqual(o.summary?.result, .confirmed, "the only hasher revealed")
        XCTAssertEqual(o.summary?.valid, [auto.name])
    }

    func testRuleAllDifferentRevealsAreNoConsensusAndTheMachineIsBookedAgain() throws {
        let booked: Int64 = 70_000
        var order = try book(at: booked)
        for (k, m) in order.members.enumerated() {
            var mine = info(rand: "r\(k)")
            mine.calcPoint = UInt64(100 + k)
            try order.submitHash(member: m.name, hash: mine.hashHex, at: booked + 1)
            order.members[k].held = mine
        }
        for (k, m) in order.members.enumerated() { try order.submitRaw(member: m.name, info: order.members[k].held!, at: booked + 2) }
        XCTAssertEqual(order.status, .summarizing)
        let toSave = order
        XCTAssertTrue(try tx { try store.updateOrder(toSave) })
        try tick(booked + 2)
        let orders = try tx { try store.orders(machine: "box") }
        XCTAssertEqual(orders.count, 2)
        XCTAssertEqual(orders[0].summary?.result, .noConsensus)
        XCTAssertEqual(orders[0].summary?.invalid, ["alice", "bob", "carol"])
        XCTAssertEqual(orders[0].summary?.punished, [], "nobody is punished after NoConsensus when all revealed")
        XCTAssertEqual(orders[1].round, 2)
        XCTAssertEqual(orders[1].bookedAt, booked + 2)
        XCTAssertEqual(orders[1].status, .submittingHash)
        XCTAssertEqual(orders[1].members.count, 3)
    }

    func testAStaleSaveRollsTheTickBack() throws {
        let order = try book(at: 1_000)
        // Another master saved the order first.
        var other = order
        other.members[0].note = "other master"
        XCTAssertTrue(try tx { try store.updateOrder(other) })
        try store.begin()
        var events = DBCCoordinator.Events()
        // In an automatic member's slot the tick submits a probe job, then the save is refused.
        let slot = order.members.first { $0.name != "carol" }!.slots[0]
        XCTAssertThrowsError(try coordinator.advance(order, at: slot, jobs: store, committee: store, events: &events)) {
            XCTAssertTrue($0 is CommitteeConflict, "\($0)")
        }
        try store.rollback()
        XCTAssertEqual(try tx { try store.list(all: true) }.count, 0, "the probe job of the lost save is not kept")
    }
}
