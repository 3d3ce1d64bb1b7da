import Foundation
@testable import Master
import Shared
import XCTest

/// What every `ComputeChainStore` backend must do, run against a fresh store.
struct ComputeChainStoreConformance {
    let store: JobStore & ComputeChainStore

    static let allChecks: [(String, (ComputeChainStoreConformance) throws -> Void)] = [
        ("roundTripsEveryField", { try $0.roundTripsEveryField() }),
        ("insertIsOncePerTask", { try $0.insertIsOncePerTask() }),
        ("statesAndCounts", { try $0.statesAndCounts() }),
        ("rollbackUndoesJobAndTaskTogether", { try $0.rollbackUndoesJobAndTaskTogether() }),
    ]

    func tx<T>(_ body: () throws -> T) throws -> T { try store.inTransaction(body) }

    func task(_ id: String, worker: String = "cpc1w", height: Int64 = 10) -> ChainTask {
        ChainTask(taskID: id, worker: worker, blockHeight: height, blockHash: String(repeating: "ab", count: 32), jobID: "Job\(id.prefix(8))")
    }

    func roundTripsEveryField() throws {
        let fresh = task("t1")
        XCTAssertTrue(try tx { try store.insertChainTask(fresh, now: 5) })
        XCTAssertEqual(try tx { try store.chainTask(id: "t1") }, fresh)
        var t = fresh
        t.state = .sent
        t.resultHash = String(repeating: "cd", count: 32)
        t.nonce = 7
        t.txHash = String(repeating: "ef", count: 32)
        t.sentHeight = 11
        t.sends = 2
        t.rejections = 1
        t.confirmedHeight = 12
        t.error = "refused by the node: \"quoted\", ü"
        try tx { try store.updateChainTask(t, now: 6) }
        XCTAssertEqual(try tx { try store.chainTask(id: "t1") }, t, "every field reads back as written")
        XCTAssertNil(try tx { try store.chainTask(id: "nope") })
    }

    func insertIsOncePerTask() throws {
        XCTAssertTrue(try tx { try store.insertChainTask(task("t1"), now: 5) })
        var other = task("t1", height: 99)
        other.state = .failed
        XCTAssertFalse(try tx { try store.insertChainTask(other, now: 6) }, "a second insert of the same task changes nothing")
        XCTAssertEqual(try tx { try store.chainTask(id: "t1") }, task("t1"))
    }

    func statesAndCounts() throws {
        XCTAssertNil(try tx { try store.lastTaskedHeight() })
        for (i, (worker, state)) in [("a", ChainTask.State.computing), ("a", .sent), ("b", .sent), ("b", .confirmed)].enumerated() {
            var t = task("t\(i)", worker: worker, height: Int64(20 - i))
            t.state = state
            XCTAssertTrue(try tx { try store.insertChainTask(t, now: 1) })
        }
        XCTAssertEqual(try tx { try store.lastTaskedHeight() }, 20)
        let sent = try tx { try store.chainTasks(states: [.sent]) }
        XCTAssertEqual(sent.map(\.taskID), ["t2", "t1"], "oldest block first")
        XCTAssertEqual(try tx { try store.chainTasks(states: [.computing, .confirmed]) }.map(\.taskID), ["t3", "t0"])
        XCTAssertEqual(try tx { try store.chainTasks(states: []) }, [])
        let counts = try tx { try store.chainTaskCounts() }
        XCTAssertEqual(counts, [
            ChainTaskCount(worker: "a", state: .computing, count: 1, lastHeight: 20),
            ChainTaskCount(worker: "a", state: .sent, count: 1, lastHeight: 19),
            ChainTaskCount(worker: "b", state: .confirmed, count: 1, lastHeight: 17),
            ChainTaskCount(worker: "b", state: .sent, count: 1, lastHeight: 18),
        ])
    }

    func rollbackUndoesJobAndTaskTogether() throws {
        try store.begin()
        let id = try store.insert([NewJob(kind: JobKind.synthetic, input: Data("{}".utf8), uniqueKey: "computechain:t1")], maxTry: 3, now: 1)[0]
        XCTAssertTrue(try store.insertChainTask(task("t1"), now: 1))
        try store.rollback()
        XCTAssertNil(try tx { try store.get(id) })
        XCTAssertNil(try tx { try store.chainTask(id: "t1") })
    }
}

final class SQLiteComputeChainStoreTests: XCTestCase {
    func testConformance() throws {
        for (name, check) in ComputeChainStoreConformance.allChecks {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-cc-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: dir) }
            let store = try SQLiteStore(path: dir.appendingPathComponent("t.db").path)
            try store.migrate()
            XCTAssertNoThrow(try check(ComputeChainStoreConformance(store: store)), name)
        }
    }
}
