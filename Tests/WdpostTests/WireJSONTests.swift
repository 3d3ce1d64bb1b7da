import Foundation
import NIOCore
import Shared
import XCTest

/// The hand-written JSON of the per-job messages against Foundation's
/// coders: each side must read what the other writes, to the same values, so a
/// master and slaves of different builds still understand each other.
final class WireJSONTests: XCTestCase {
    /// Canonical bytes of a message (Foundation, sorted keys), to compare values.
    func canonical<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(value)
    }

    func assertBothWays<T: Codable & WireJSON>(_ value: T, file: StaticString = #filePath, line: UInt = #line) throws {
        let fast = Data(JSONWriter.encode(value))
        let viaFoundation = try JSONDecoder().decode(T.self, from: fast)
        XCTAssertEqual(try canonical(viaFoundation), try canonical(value), "Foundation reads what the writer wrote", file: file, line: line)
        let foundation = try JSONEncoder().encode(value)
        let viaFast = try Codec.decode(T.self, from: ByteBuffer(bytes: foundation))
        XCTAssertEqual(try canonical(viaFast), try canonical(value), "the reader reads what Foundation wrote", file: file, line: line)
        // And the path every message takes: Codec.encode uses the writer.
        XCTAssertEqual(try canonical(try Codec.decode(T.self, from: try Codec.encode(value))), try canonical(value), file: file, line: line)
    }

    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        mutating func int(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func int64() -> Int64 { Int64(bitPattern: next() << 11 | next() & 0x7FF) }
        /// Text with the characters JSON must escape, non-ASCII and astral ones.
        mutating func string() -> String {
            let pieces = ["a", "Z", "0", "\"", "\\", "/", "\n", "\r", "\t", "\u{01}", "\u{1F}", "é", "中", "😀", " ", "{", "]", ","]
            return (0..<int(12)).map { _ in pieces[int(pieces.count)] }.joined()
        }
        mutating func data() -> Data { Data((0..<int(40)).map { _ in UInt8(truncatingIfNeeded: next()) }) }
        mutating func assignment() -> Assignment {
            Assignment(id: string(), kind: string(), lease: int64(), tryNum: int(1000) - 5, input: data())
        }
        mutating func newJob() -> NewJob {
            NewJob(kind: string(), input: data(), minerID: string(), deadlineIdx: int(100) - 1,
                   partitions: (0..<int(5)).map { _ in int(64) }, priority: int(200) - 100,
                   deadlineAt: int(2) == 0 ? int64() : nil, uniqueKey: int(2) == 0 ? string() : nil,
                   worker: int(2) == 0 ? string() : nil)
        }
        mutating func job() -> Job {
            Job(id: string(), kind: string(), state: JobState.allCases[int(4)], minerID: string(), deadlineIdx: int(100) - 1,
                partitions: (0..<int(5)).map { _ in int(64) }, priority: int(200) - 100,
                deadlineAt: int(2) == 0 ? int64() : nil, uniqueKey: int(2) == 0 ? string() : nil, input: data(),
                output: int(2) == 0 ? data() : nil, tryNum: int(10), maxTry: int(10), lease: int64(), worker: string(),
                notBefore: int64(), createdAt: int64(), startedAt: int64(), heartbeatAt: int64(), finishedAt: int64(),
                error: string(), pin: string())
        }
        mutating func cursor() -> ListCursor? {
            int(2) == 0 ? ListCursor(archive: int(2) == 0, createdAt: int64(), seq: int64()) : nil
        }
        mutating func pull() -> PullRequest {
            PullRequest(max: int(100), kinds: (0..<int(4)).map { _ in string() }, waitMs: int(100_000))
        }
    }

    func testEveryMessageRoundTripsThroughBothCoders() throws {
        var r = Random(state: 0x5EED)
        for _ in 0..<300 {
            try assertBothWays(r.pull())
            try assertBothWays(r.assignment())
            try assertBothWays(PullResponse(jobs: (0..<r.int(5)).map { _ in r.assignment() }))
            try assertBothWays(JobLease(id: r.string(), lease: r.int64()))
            try assertBothWays(HeartbeatRequest(jobs: (0..<r.int(5)).map { _ in JobLease(id: r.string(), lease: r.int64()) }))
            try assertBothWays(HeartbeatResponse(abort: (0..<r.int(5)).map { _ in r.string() }))
            let results = (0..<r.int(5)).map { _ in JobResult(id: r.string(), lease: r.int64(), ok: r.int(2) == 0, output: r.data(), error: r.string()) }
            try assertBothWays(FinishRequest(results: results, pull: r.int(2) == 0 ? r.pull() : nil))
            let statuses = (0..<r.int(5)).map { _ in r.int(2) == 0 ? FinishStatus.accepted : .stale }
            try assertBothWays(FinishResponse(statuses: statuses, jobs: r.int(2) == 0 ? (0..<r.int(4)).map { _ in r.assignment() } : nil))
            try assertBothWays(RentNotice(rented: r.int(2) == 0, nodeID: r.string()))
            try assertBothWays(r.newJob())
            try assertBothWays(SubmitRequest(jobs: (0..<r.int(5)).map { _ in r.newJob() }))
            try assertBothWays(IDList(ids: (0..<r.int(5)).map { _ in r.string() }))
            try assertBothWays(r.job())
            try assertBothWays(JobList(jobs: (0..<r.int(4)).map { _ in r.job() }, next: r.cursor()))
            try assertBothWays(ListRequest(all: r.int(2) == 0, after: r.cursor(), limit: r.int(2) == 0 ? r.int(20_000) : nil,
                                           brief: r.int(3) == 0 ? nil : r.int(2) == 0))
        }
    }

    func decode<T: WireJSON & Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try Codec.decode(type, from: ByteBuffer(string: text))
    }

    func testTheReaderTakesAnyValidSpelling() throws {
        // Whitespace, any key order, unknown keys, null for an absent optional, every escape.
        let request = try decode(FinishRequest.self, """
             { "pull" : null , "future": {"nested": [1, 2.5e3, true, null, "x"]},
               "results": [ {"error": "a\\"b\\\\c\\/d\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00", "ok": false,
                             "output": "AAEC", "lease": -9223372036854775808, "id": "j1"} ] }
            """)
        XCTAssertNil(request.pull)
        XCTAssertEqual(request.results.count, 1)
        XCTAssertEqual(request.results[0].error, "a\"b\\c/d\u{08}\u{0C}\n\r\té😀")
        XCTAssertEqual(request.results[0].output, Data([0, 1, 2]))
        XCTAssertEqual(request.results[0].lease, Int64.min)
        XCTAssertEqual(try decode(PullRequest.self, #"{"max":3.0,"kinds":[],"waitMs":1e3}"#).waitMs, 1000,
                       "integral numbers in any notation, as Foundation takes them")
    }

    func testTheReaderRefusesWhatIsNotValid() throws {
        let cases = [
            "", " ", "{", "}", "[]", "null", #"{"max":1,"kinds":[],"waitMs":1} x"#, #"{"max":1,"kinds":[],"waitMs":1,}"#,
            #"{"max":1,"kinds":[]}"#, #"{"max":"1","kinds":[],"waitMs":1}"#, #"{"max":1.5,"kinds":[],"waitMs":1}"#,
            #"{"max":01,"kinds":[],"waitMs":1}"#, #"{"max":1,"kinds":[1],"waitMs":1}"#, #"{"max":1,"kinds":["a],"waitMs":1}"#,
            #"{"max":1,"kinds":["\ud800"],"waitMs":1}"#, #"{"max":1,"kinds":["\x"],"waitMs":1}"#, "{\"max\":1,\"kinds\":[\"\n\"],\"waitMs\":1}",
            #"{"max":-,"kinds":[],"waitMs":1}"#, #"{"max":1e,"kinds":[],"waitMs":1}"#, #"{max:1,"kinds":[],"waitMs":1}"#,
            #"{"max":99999999999999999999999,"kinds":[],"waitMs":1}"#, #"{"max":tru,"kinds":[],"waitMs":1}"#,
            String(repeating: "[", count: 100_000),
        ]
        for text in cases {
            XCTAssertThrowsError(try decode(PullRequest.self, text), "accepted: \(text.prefix(60))")
        }
        XCTAssertThrowsError(try decode(JobResult.self, #"{"id":"a","lease":1,"ok":true,"output":"not base64!","error":""}"#))
        XCTAssertThrowsError(try decode(FinishResponse.self, #"{"statuses":["maybe"]}"#))
        let job = #""kind":"noop","input":"","deadlineIdx":-1,"priority":0"#
        XCTAssertNoThrow(try decode(NewJob.self, "{\(job),\"minerID\":\"\",\"partitions\":[1,2]}"))
        XCTAssertThrowsError(try decode(NewJob.self, "{\(job),\"partitions\":[]}"), "minerID missing")
        XCTAssertThrowsError(try decode(NewJob.self, "{\(job),\"minerID\":\"\",\"partitions\":[\"1\"]}"))
        XCTAssertThrowsError(try decode(NewJob.self, "{\(job),\"minerID\":\"\",\"partitions\":[],\"deadlineAt\":\"soon\"}"))
        let row = try String(decoding: JSONEncoder().encode(Job(id: "J1", kind: "noop", maxTry: 3, createdAt: 1)), as: UTF8.self)
        XCTAssertNoThrow(try decode(Job.self, row))
        XCTAssertThrowsError(try decode(Job.self, row.replacingOccurrences(of: #""ReadyToRun""#, with: #""Sleeping""#)), "unknown state")
        XCTAssertThrowsError(try decode(Job.self, row.replacingOccurrences(of: #""pin":"""#, with: #""pinned":"""#)), "pin missing")
        XCTAssertThrowsError(try decode(JobList.self, #"{"jobs":[],"next":{"archive":true,"createdAt":1}}"#), "cursor without seq")
    }
}
