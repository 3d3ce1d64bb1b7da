import Foundation
import Logging
@testable import Master
import Shared
import XCTest

/// Numbers, names and sizes from outside, at the master's door
/// (`MasterService`), on a real SQLite store: each bad one gets a clear
/// error and changes nothing, and none can trap the master.
final class MasterServiceLimitsTests: XCTestCase {
    var dir: URL!
    var service: MasterService!
    var executor: StoreExecutor!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let config = try MasterConfigFixture.load(in: dir)
        let store = try SQLiteStore(path: dir.appendingPathComponent("t.db").path)
        try store.migrate()
        let logger = Logger(label: "test")
        executor = StoreExecutor(store: store, logger: logger)
        service = MasterService(config: config, executor: executor, logger: logger)
    }

    override func tearDownWithError() throws {
        executor.shutdown()
        try? FileManager.default.removeItem(at: dir)
    }

    func submit(_ jobs: [NewJob]) async throws -> [String] { try await service.adminRPCs.submit(SubmitRequest(jobs: jobs)).ids }

    func jobCount() async throws -> Int { try await executor.run { try $0.list(all: true).count } }

    /// The error `body` throws, as text (a failure when it throws none).
    func refusal(_ body: () async throws -> Void, file: StaticString = #filePath, line: UInt = #line) async -> String {
        do {
            try await body()
            XCTFail("expected a refusal", file: file, line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    // MARK: item 1: numbers off the wire

    func testPullWithAHugeWaitIsAnsweredAndTheMasterLives() async throws {
        let ids = try await submit([NewJob(kind: "noop"), NewJob(kind: "noop")])
        let caps = Capabilities(kinds: ["noop"], concurrent: 1)
        // 10^16 ms: µs of it overflow Int64; so does any sum with now.
        for waitMs in [10_000_000_000_000_000, Int.max, Int.min] {
            let answer = try await service.slaveRPCs.pull(worker: "w", capabilities: caps,
                                                request: PullRequest(max: Int.max, kinds: ["noop"], waitMs: waitMs), mayClaim: { true })
            if waitMs == Int.min { XCTAssertEqual(answer.jobs.count, 0, "nothing left: a negative wait answers at once") }
            else { XCTAssertEqual(answer.jobs.count, 1) }
        }
        let running = try await executor.run { try $0.runningByWorker() }
        XCTAssertEqual(running, ["w": ids.count])
    }

    func testSubmitRefusesNumbersOutOfRangeAndInsertsNothing() async throws {
        let cases: [(NewJob, String)] = [
            (NewJob(kind: "noop", deadlineAt: -1), "deadline_at -1"),
            (NewJob(kind: "noop", deadlineAt: Int64.max - 1), "deadline_at"),
            (NewJob(kind: "noop", priority: Int.min), "priority"),
            (NewJob(kind: "noop", deadlineIdx: -2), "deadline index -2"),
            (NewJob(kind: "noop", partitions: [-1]), "partition -1"),
            (NewJob(kind: "noop", partitions: Array(repeating: 1, count: InputLimits.partitions + 1)), "partitions, over the limit of \(InputLimits.partitions)"),
        ]
        for (job, expected) in cases {
            let message = await refusal { _ = try await submit([NewJob(kind: "noop"), job]) }
            XCTAssertTrue(message.contains("job 2 of 2"), message)
            XCTAssertTrue(message.contains(expected), "\(message) should name \(expected)")
        }
        let count = try await jobCount()
        XCTAssertEqual(count, 0, "a refused batch inserts nothing")
    }

    // MARK: item 2: names equal as strings, different as bytes

    func testCanonicallyEqualSlaveNamesDoNotTrapTheSlaveListStatusOrMetrics() async throws {
        let precomposed = "caf\u{E9}", decomposed = "cafe\u{301}"
        _ = try await submit([NewJob(kind: "noop"), NewJob(kind: "noop"), NewJob(kind: "noop")])
        _ = try await executor.run { try $0.claim(worker: precomposed, kinds: ["noop"], miners: [], limit: 1, now: nowMicros()) }
        _ = try await executor.run { try $0.claim(worker: decomposed, kinds: ["noop"], miners: [], limit: 2, now: nowMicros()) }
        let keys = [NSObject(), NSObject()]
        for (key, name) in zip(keys, [precomposed, decomposed]) {
            service.slaves.add(ObjectIdentifier(key), .init(name: name, address: "127.0.0.1:1", capabilities: Capabilities(kinds: ["noop"]), lastSeen: nowMicros()))
        }

        let list = try await service.adminRPCs.slaveList()
        XCTAssertEqual(list.slaves.map(\.runningJobs), [3, 3], "the store's two groups are one name: their jobs add up")
        let (snapshot, counts) = StatusSnapshot.collect(service, from: try await StatusSnapshot.Aggregates.read(service))
        XCTAssertEqual(snapshot.slaves.map(\.runningJobs), [3, 3])
        XCTAssertEqual(snapshot.jobsByState["Running"], 3)
        XCTAssertNoThrow(try JSONEncoder().encode(snapshot))
        XCTAssertTrue(snapshot.html.contains("caf"))
        let metrics = service.metrics.render(jobCounts: counts, connectedSlaves: service.slaves.count)
        XCTAssertTrue(metrics.contains("wdpost_jobs{state=\"Running\",kind=\"noop\"} 3"), metrics)
        XCTAssertTrue(metrics.contains("wdpost_connected_slaves 2"))
    }

    func testAPinIsNormalisedAndCheckedLikeASlaveName() async throws {
        let id = try await submit([NewJob(kind: "noop", worker: "cafe\u{301}")])[0]
        let pin = try await executor.run { try $0.get(id)?.pin }
        XCTAssertEqual(pin.map { Array($0.utf8) }, Array("caf\u{E9}".utf8), "stored in NFC, as the slave's name is")
        let message = await refusal { _ = try await submit([NewJob(kind: "noop", worker: "evil\nfinish accepted")]) }
        XCTAssertTrue(message.contains("U+000A"), message)
        let long = await refusal { _ = try await submit([NewJob(kind: "noop", worker: String(repeating: "é", count: 128))]) }
        XCTAssertTrue(long.contains("256 bytes of UTF-8, over the limit of 255"), long)
    }

    // MARK: item 12: inputs no answer could carry

    func testAnInputThatCouldNeverBeDeliveredIsRefusedAtSubmit() async throws {
        let limit = InputLimits.inputBytes
        let message = await refusal { _ = try await submit([NewJob(kind: "blob", input: Data(count: limit + 1))]) }
        XCTAssertTrue(message.contains("input of \(limit + 1) bytes is over the limit of \(limit) bytes"), message)
        let fits = try await submit([NewJob(kind: "blob", input: Data(count: limit))])
        XCTAssertEqual(fits.count, 1)
        let frame = try Codec.encode(PullResponse(jobs: [Assignment(id: fits[0], kind: "blob", lease: Int64.max, tryNum: 3, input: Data(count: limit))]))
        XCTAssertLessThan(frame.readableBytes + Frame.headerBytes, Frame.defaultMaxBytes, "the largest input accepted fits one answer")
    }

    // MARK: item 13 and 22: show, reset and remove

    func testShowNamesEachJobOnceAndRefusesAnAnswerOverTheFrameLimit() async throws {
        let big = Data(repeating: 0x61, count: 2 << 20)
        let ids = try await submit(Array(repeating: NewJob(kind: "blob", input: big), count: 7))
        let once = try await service.adminRPCs.show(IDList(ids: Array(repeating: ids[0], count: 40)))
        XCTAssertEqual(once.jobs.map(\.id), [ids[0]], "40 mentions of one job are one job")

        let message = await refusal { _ = try await service.adminRPCs.show(IDList(ids: ids)) }
        XCTAssertTrue(message.contains("ask for fewer jobs"), message)
        XCTAssertTrue(message.contains("\(InputLimits.answerBytes) bytes"), message)
        let fewer = try await service.adminRPCs.show(IDList(ids: Array(ids.prefix(5))))
        XCTAssertEqual(fewer.jobs.count, 5)
        XCTAssertLessThan(try Codec.encode(fewer).readableBytes, Frame.defaultMaxBytes)
    }

    func testResetAndRemoveCountEachJobOnceAndBoundTheirIds() async throws {
        let ids = try await submit([NewJob(kind: "noop"), NewJob(kind: "noop")])
        let reset = try await service.adminRPCs.reset(IDList(ids: [ids[0], ids[0]])).count
        XCTAssertEqual(reset, 1, "reset X X resets one job")
        let many = (0...InputLimits.idsPerRequest).map { "id\($0)" }
        for request in [{ _ = try await self.service.adminRPCs.show(IDList(ids: many)) }, { _ = try await self.service.adminRPCs.reset(IDList(ids: many)) },
                        { _ = try await self.service.adminRPCs.remove(IDList(ids: many)) }] {
            let message = await refusal(request)
            XCTAssertTrue(message.contains("\(many.count) job ids, over the limit of \(InputLimits.idsPerRequest)"), message)
        }
        let removed = try await service.adminRPCs.remove(IDList(ids: [ids[1], ids[1], ids[0]])).count
        XCTAssertEqual(removed, 2)
    }

    // MARK: item 21: built-in kinds' inputs

    func testMalformedBuiltinInputsAreRefusedAtSubmitNamingTheJob() async throws {
        let good = NewJob(kind: JobKind.synthetic, input: Data(#"{"block_hash":"00","worker_address":"w","n":4}"#.utf8))
        let root = String(repeating: "ab", count: 32)
        let cases: [(NewJob, String)] = [
            (NewJob(kind: JobKind.synthetic, input: Data(#"{"block_hash":"00","worker_address":"w","n":0}"#.utf8)), "n must be in 1…16384, got 0"),
            (NewJob(kind: JobKind.synthetic, input: Data("{}".utf8)), "synthetic: malformed input"),
            (NewJob(kind: JobKind.wdpost, input: Data("{}".utf8)), "wdpost: malformed input"),
            (NewJob(kind: JobKind.wdpost, input: Data(#"{"randomness":"zz","sectors":[{"id":1,"path":"/s","root":"\#(root)"}]}"#.utf8)),
             "randomness must be 32 bytes of hex"),
            (NewJob(kind: JobKind.wdpost, input: Data(#"{"randomness":"\#(root)","sectors":[{"id":1,"path":"/s","root":"12"}]}"#.utf8)),
             "root of sector 1 must be 32 bytes of hex"),
        ]
        for (bad, expected) in cases {
            let message = await refusal { _ = try await submit([good, good, bad]) }
            XCTAssertTrue(message.contains("job 3 of 3 (kind \"\(bad.kind)\")"), message)
            XCTAssertTrue(message.contains(expected), "\(message) should say \(expected)")
        }
        let count = try await jobCount()
        XCTAssertEqual(count, 0)
        let ok = NewJob(kind: JobKind.wdpost, input: Data(#"{"randomness":"\#(root)","sectors":[{"id":1,"path":"/s","root":"\#(root)"}]}"#.utf8))
        let accepted = try await submit([good, ok])
        XCTAssertEqual(accepted.count, 2)
    }

    // MARK: item 22: keys and text at the door

    func testEmptyUniqueKeyIsNoKeyAndLongTextIsRefusedAtTheDoor() async throws {
        let a = try await submit([NewJob(kind: "noop", uniqueKey: "")])
        let b = try await submit([NewJob(kind: "noop", uniqueKey: "")])
        XCTAssertNotEqual(a, b, "an empty unique key is no key")
        let stored = try await executor.run { try $0.get(a[0])?.uniqueKey }
        XCTAssertNil(stored)

        let cases: [(NewJob, String)] = [
            (NewJob(kind: String(repeating: "k", count: 65)), "kind of 65 bytes is over the limit of 64 bytes"),
            (NewJob(kind: ""), "kind must not be empty"),
            (NewJob(kind: "no\u{1B}op"), "U+001B"),
            (NewJob(kind: "noop", minerID: String(repeating: "f", count: 129)), "miner id of 129 bytes is over the limit of 128 bytes"),
            (NewJob(kind: "noop", uniqueKey: String(repeating: "u", count: 256)), "unique key of 256 bytes is over the limit of 255 bytes"),
        ]
        for (job, expected) in cases {
            let message = await refusal { _ = try await submit([job]) }
            XCTAssertTrue(message.contains(expected), "\(message) should say \(expected)")
        }
        let count = try await jobCount()
        XCTAssertEqual(count, 2)
    }

    func testLongErrorTextsFromSlavesAreCut() async throws {
        _ = try await submit([NewJob(kind: "noop")])
        let job = try await service.slaveRPCs.pull(worker: "w", capabilities: Capabilities(kinds: ["noop"]),
                                         request: PullRequest(max: 1, kinds: ["noop"], waitMs: 0), mayClaim: { true }).jobs[0]
        let huge = String(repeating: "é", count: InputLimits.errorBytes)
        _ = try await service.slaveRPCs.finish(worker: "w", capabilities: Capabilities(kinds: ["noop"]),
                                     request: FinishRequest(results: [JobResult(id: job.id, lease: job.lease, ok: false, error: huge)]))
        let error = try await executor.run { try $0.get(job.id)?.error } ?? ""
        XCTAssertLessThanOrEqual(error.utf8.count, InputLimits.errorBytes)
        XCTAssertTrue(error.hasPrefix("éé"))
        XCTAssertTrue(error.hasSuffix("bytes cut)"), String(error.suffix(60)))
    }
}
