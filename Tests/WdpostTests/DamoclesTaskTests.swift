import Foundation
@testable import Master
import Shared
import XCTest

final class DamoclesTaskTests: XCTestCase {
    static let commR = Array(1...32)
    static let seed = Array(100...130) + [3]

    static func taskJSON(miner: Any = 1037, proofType: String = "StackedDrgWindow32GiBV1_2", seed: [Int] = seed,
                         replicas: [[String: Any]]? = nil) -> Data {
        let replicas = replicas ?? [["sector_id": 12, "comm_r": commR, "cache_dir": "/mnt/store1/cache/s-t01037-12",
                                     "sealed_file": "/mnt/store1/sealed/s-t01037-12"]]
        let task: [String: Any] = ["miner_id": miner, "proof_type": proofType, "replicas": replicas, "seed": seed]
        return try! JSONSerialization.data(withJSONObject: task)
    }

    func testReadsDamoclesTask() throws {
        let task = try DamoclesTask(json: Self.taskJSON())
        XCTAssertEqual(task.minerID, 1037)
        XCTAssertEqual(task.kind, "window_post")
        XCTAssertEqual(task.sectorSize, "32GiB")
        XCTAssertEqual(task.replicas.map(\.sectorID), [12])
        XCTAssertEqual(task.replicas[0].commR, Self.commR.map(UInt8.init))
        XCTAssertEqual(task.seed[31], 3)
        let winning = try DamoclesTask(json: Self.taskJSON(proofType: "StackedDrgWinning64GiBV1"))
        XCTAssertEqual(winning.kind, "winning_post")
        XCTAssertEqual(winning.sectorSize, "64GiB")
        for size in PoStProofType.sizes {
            for v in ["V1", "V1_2"] { XCTAssertNotNil(PoStProofType(name: "StackedDrgWindow\(size)\(v)")) }
        }
        XCTAssertNil(PoStProofType(name: "StackedDrgWinning32GiBV1_2"))
    }

    func testUniqueKeyIgnoresSpellingButNotContent() throws {
        let a = try DamoclesTask(json: Self.taskJSON())
        let spaced = Data("""
            { "seed": \(Self.seed), "replicas": [ {"sealed_file": "/mnt/store1/sealed/s-t01037-12", "cache_dir": "/mnt/store1/cache/s-t01037-12",
              "comm_r": \(Self.commR), "sector_id": 12} ], "proof_type": "StackedDrgWindow32GiBV1_2", "miner_id": 1037 }
            """.utf8)
        XCTAssertEqual(try DamoclesTask(json: spaced).uniqueKey, a.uniqueKey)
        XCTAssertTrue(a.uniqueKey.hasPrefix("window_post:"))
        XCTAssertEqual(a.uniqueKey.count, "window_post:".count + 64)
        XCTAssertNotEqual(try DamoclesTask(json: Self.taskJSON(miner: 1038)).uniqueKey, a.uniqueKey)
        XCTAssertNotEqual(try DamoclesTask(json: Self.taskJSON(seed: Array(100...130) + [4])).uniqueKey, a.uniqueKey)
    }

    func testRefusesWhatNoProverCouldUse() {
        func refused(_ data: Data, _ mention: String, line: UInt = #line) {
            XCTAssertThrowsError(try DamoclesTask(json: data), line: line) { error in
                XCTAssertTrue("\(error)".contains(mention), "\"\(error)\" should mention \(mention)", line: line)
            }
        }
        refused(Self.taskJSON(seed: Array(100...131)), "not masked")
        refused(Self.taskJSON(miner: "f01037"), "miner_id")
        refused(Self.taskJSON(miner: -1), "miner_id")
        refused(Self.taskJSON(proofType: "StackedDrgWindow16GiBV1"), "RegisteredPoStProof")
        refused(Self.taskJSON(seed: Array(0..<31)), "seed")
        refused(Self.taskJSON(seed: Array(0..<31) + [256]), "seed")
        refused(Self.taskJSON(replicas: []), "replicas")
        refused(Self.taskJSON(replicas: [["sector_id": 1, "comm_r": Array(1...31), "cache_dir": "/c", "sealed_file": "/s"]]), "replicas[0].comm_r")
        refused(Self.taskJSON(replicas: [["sector_id": 1, "comm_r": Self.commR, "cache_dir": "c", "sealed_file": "/s"]]), "replicas[0].cache_dir")
        refused(Self.taskJSON(replicas: [["sector_id": 1, "comm_r": Self.commR, "cache_dir": "/c"]]), "replicas[0].sealed_file")
        refused(Data("[1]".utf8), "object")
    }

    func testSubmitTakesMinerSizeAndSectorsFromTheTask() throws {
        let job = try SubmitCheck.checked(NewJob(kind: "window_post", input: Self.taskJSON(replicas: [
            ["sector_id": 1, "comm_r": Self.commR, "cache_dir": "/c/1", "sealed_file": "/s/1"],
            ["sector_id": 1, "comm_r": Self.commR, "cache_dir": "/c/1", "sealed_file": "/s/1"],
        ])))
        XCTAssertEqual(job.minerID, "1037")
        XCTAssertEqual(job.sectorSize, "32GiB")
        XCTAssertEqual(job.sectors, 2, "replicas may name a sector twice; each is proven")
        XCTAssertThrowsError(try SubmitCheck.checked(NewJob(kind: "winning_post", input: Self.taskJSON())))
        XCTAssertThrowsError(try SubmitCheck.checked(NewJob(kind: "window_post", input: Self.taskJSON(seed: Array(100...131)))))
        var other = NewJob(kind: "noop")
        other.sectorSize = "32GiB"
        XCTAssertNil(try SubmitCheck.checked(other).sectorSize, "never taken from a client")
    }

    func testRequestAndAnswerLines() throws {
        let line = Array(#"{"id": 7, "task": {"b": [1, {"c": "}\""}], "a": 2}, "z": null}"#.utf8)
        let request = try ExtProverRequest(line: line)
        XCTAssertEqual(request.id, 7)
        XCTAssertEqual(String(decoding: request.taskJSON, as: UTF8.self), #"{"b": [1, {"c": "}\""}], "a": 2}"#, "as received")
        XCTAssertThrowsError(try ExtProverRequest(line: Array("nonsense".utf8)))
        XCTAssertThrowsError(try ExtProverRequest(line: Array(#"{"id": 3}"#.utf8))) { error in
            guard case ExtProverRequest.ParseError.noTask(id: 3) = error else { return XCTFail("\(error)") }
        }
        XCTAssertEqual(String(decoding: ExtProverAnswer.output(id: 7, Array(#"{"proofs":["AA=="],"faults":[]}"#.utf8)), as: UTF8.self),
                       #"{"id":7,"err_msg":null,"output":{"proofs":["AA=="],"faults":[]}}"# + "\n")
        let error = try JSONSerialization.jsonObject(with: Data(ExtProverAnswer.error(id: 8, "bad \"quote\"\nline"))) as! [String: Any]
        XCTAssertEqual(error["id"] as? Int, 8)
        XCTAssertEqual(error["err_msg"] as? String, "bad \"quote\"\nline")
        XCTAssertTrue(error["output"] is NSNull)
        XCTAssertEqual(ExtProverAnswer.oneLine(Data("{\n  \"proofs\": []\n}\n".utf8)).map { String(decoding: $0, as: UTF8.self) }, "{  \"proofs\": []}")
        XCTAssertNil(ExtProverAnswer.oneLine(Data("not json".utf8)))
    }

    func testMinerSpellings() {
        XCTAssertEqual(ClaimRestriction.spellings(["f01037"]), ["1037", "f01037", "t01037"])
        XCTAssertEqual(ClaimRestriction.spellings(["1037", "t01037", "other"]), ["1037", "f01037", "t01037", "other"])
        XCTAssertEqual(ClaimRestriction.spellings(["f0"]), ["f0"])
    }

    func testCompletionWaitersDoNotMissAnEndBeforeTheWait() async {
        let waiters = CompletionWaiters()
        let early = waiters.register("a")
        waiters.notify(["a"])
        await waiters.wait(early)  // returns at once: notified between register and wait
        let late = waiters.register("b")
        let done = Task { await waiters.wait(late) }
        while waiters.waitedIDs != ["b"] { await Task.yield() }
        waiters.notify(["b"])
        await done.value
        XCTAssertEqual(waiters.waitedIDs, [])
    }
}
