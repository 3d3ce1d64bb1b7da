import Foundation
import Master
import Shared
import XCTest

/// What every `CommitteeStore` backend must do, run against a fresh store.
struct CommitteeStoreConformance {
    let store: JobStore & CommitteeStore

    static let allChecks: [(String, (CommitteeStoreConformance) throws -> Void)] = [
        ("roundTripsEveryField", { try $0.roundTripsEveryField() }),
        ("updatesAreVersioned", { try $0.updatesAreVersioned() }),
        ("openOrdersAndHistory", { try $0.openOrdersAndHistory() }),
        ("rollbackUndoesJobAndOrderTogether", { try $0.rollbackUndoesJobAndOrderTogether() }),
    ]

    func tx<T>(_ body: () throws -> T) throws -> T { try store.inTransaction(body) }

    func order(_ id: String, machine: String = "box-a", round: Int = 1, at: Int64 = 1_000) throws -> VerifyOrder {
        var rng = SplitMix64(seed: UInt64(at))
        return try VerifyOrder.book(id: id, machine: machine, machineID: "ab" + machine, round: round,
                                    committee: ["alice", "bob", "carol", "dave"], at: at, using: &rng)
    }

    func info(_ machineID: String, _ rand: String, support: Bool = true) -> MachineInfo {
        MachineInfo(machineID: machineID, gpuType: "H100", gpuNum: 8, cudaCore: 16896, gpuMem: 79, calcPoint: 123_456, sysDisk: 500,
                    dataDisk: 7000, cpuType: "AMD EPYC 9654 \"Genoa\" ü", cpuCoreNum: 192, cpuRate: 2400, memNum: 1500,
                    randStr: rand, isSupport: support)
    }

    func roundTripsEveryField() throws {
        let fresh = try order("o1")
        try tx { try store.insertOrder(fresh, now: 5) }
        XCTAssertEqual(try tx { try store.orders(machine: "box-a") }, [fresh], "a fresh booking reads back as written")

        var o = fresh
        let m0 = o.members[0].name, m1 = o.members[1].name, m2 = o.members[2].name
        o.members[0].probeJob = "Job00000001"
        o.members[0].probeSlot = 1
        o.members[0].randStr = "r0"
        o.members[0].note = "probe job X failed: \"quoted\", with commas"
        try o.submitHash(member: m0, hash: info(o.machineID, "r0").hashHex, at: 1_010)
        o.members[0].held = info(o.machineID, "r0")
        try o.submitHash(member: m1, hash: info(o.machineID, "r1").hashHex, at: 1_011)
        try o.submitHash(member: m2, hash: info(o.machineID, "r2", support: false).hashHex, at: 1_012)
        try o.submitRaw(member: m1, info: info(o.machineID, "r1"), at: 1_020)
        XCTAssertTrue(try tx { try store.updateOrder(o) })
        o.version += 1
        XCTAssertEqual(try tx { try store.orders(machine: "box-a") }, [o], "hashes, reveals, held info and notes read back")

        try o.submitRaw(member: m0, info: info(o.machineID, "r0"), at: 1_021)
        try o.submitRaw(member: m2, info: info(o.machineID, "r2", support: false), at: 1_022)
        o.advance(to: 1_022)
        XCTAssertEqual(o.summary?.result, .confirmed)
        XCTAssertTrue(try tx { try store.updateOrder(o) })
        o.version += 1
        let back = try tx { try store.orders(machine: nil) }
        XCTAssertEqual(back, [o], "the summary reads back: result, valid, invalid, unruly, agreed info, height")
        XCTAssertEqual(back.first?.summary?.invalid, [m2])
    }

    func updatesAreVersioned() throws {
        let o = try order("o1")
        try tx { try store.insertOrder(o, now: 5) }
        var first = o, second = o
        try first.submitHash(member: o.members[0].name, hash: info(o.machineID, "a").hashHex, at: 1_001)
        try second.submitHash(member: o.members[1].name, hash: info(o.machineID, "b").hashHex, at: 1_001)
        XCTAssertTrue(try tx { try store.updateOrder(first) })
        XCTAssertFalse(try tx { try store.updateOrder(second) }, "a save against a stale version is refused")
        let stored = try XCTUnwrap(try tx { try store.orders(machine: "box-a") }.first)
        XCTAssertEqual(stored.version, 1)
        XCTAssertNotNil(stored.members[0].hash)
        XCTAssertNil(stored.members[1].hash, "the refused save changed nothing")
    }

    func openOrdersAndHistory() throws {
        var first = try order("o1", at: 1_000)
        first.advance(to: first.rawClosesAt)
        XCTAssertEqual(first.summary?.result, .noConsensus)
        try tx { try store.insertOrder(first, now: 10) }
        let second = try order("o2", round: 2, at: first.rawClosesAt)
        let other = try order("o3", machine: "box-b", at: 2_000)
        try tx {
            try store.insertOrder(second, now: 20)
            try store.insertOrder(other, now: 15)
        }
        XCTAssertEqual(try tx { try store.openOrders() }.map(\.id), ["o3", "o2"], "open orders only, oldest first")
        XCTAssertEqual(try tx { try store.orders(machine: "box-a") }.map(\.id), ["o1", "o2"], "a machine's history, oldest first")
        XCTAssertEqual(try tx { try store.orders(machine: "box-a") }.first?.summary?.unruly, first.summary?.unruly)
        XCTAssertEqual(try tx { try store.orders(machine: nil) }.map(\.id), ["o1", "o3", "o2"])
        XCTAssertEqual(try tx { try store.orders(machine: "box-z") }, [])
    }

    /// A tick inserts a probe job and records it on the order in one transaction: both or neither.
    func rollbackUndoesJobAndOrderTogether() throws {
        var o = try order("o1")
        try tx { try store.insertOrder(o, now: 5) }
        try store.begin()
        let id = try store.insert([NewJob(kind: JobKind.dbcVerify, worker: "box-a")], maxTry: 3, now: 10)[0]
        o.members[0].probeJob = id
        XCTAssertTrue(try store.updateOrder(o))
        try store.rollback()
        XCTAssertNil(try tx { try store.get(id) })
        XCTAssertEqual(try tx { try store.orders(machine: "box-a") }.first?.members[0].probeJob, "")
    }
}

final class SQLiteCommitteeStoreTests: XCTestCase {
    func testConformance() throws {
        for (name, check) in CommitteeStoreConformance.allChecks {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-committee-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let store = try SQLiteStore(path: dir.appendingPathComponent("t.db").path)
            try store.migrate()
            XCTAssertNoThrow(try check(CommitteeStoreConformance(store: store)), name)
        }
    }
}
