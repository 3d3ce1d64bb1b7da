import NIOCore
import Shared
import XCTest

final class FrameTests: XCTestCase {
    func encode(_ frame: Frame) throws -> ByteBuffer {
        var out = ByteBuffer()
        try FrameEncoder().encode(data: frame, out: &out)
        return out
    }

    func testRoundTripAndPartialInput() throws {
        let frame = try Codec.frame(.pull, 42, PullRequest(max: 3, kinds: ["noop"], waitMs: 100))
        var bytes = try encode(frame)
        var partial = bytes.getSlice(at: 0, length: 7)!
        XCTAssertNil(try FrameDecoder.parse(&partial, maxBytes: 1 << 20), "an incomplete frame waits for more bytes")
        let decoded = try XCTUnwrap(try FrameDecoder.parse(&bytes, maxBytes: 1 << 20))
        XCTAssertEqual(bytes.readableBytes, 0)
        XCTAssertEqual(decoded.type, MessageType.pull)
        XCTAssertEqual(decoded.requestID, 42)
        let request = try Codec.decode(PullRequest.self, from: decoded.payload)
        XCTAssertEqual(request.kinds, ["noop"])
    }

    func testOversizedShortAndUnknownFramesAreErrors() {
        var huge = ByteBuffer(bytes: [0x80, 0, 0, 0, 1])
        XCTAssertThrowsError(try FrameDecoder.parse(&huge, maxBytes: 16 << 20)) {
            XCTAssertTrue("\($0)".contains("exceeds the limit"))
        }
        var short = ByteBuffer(bytes: [0, 0, 0, 2, 1, 1])
        XCTAssertThrowsError(try FrameDecoder.parse(&short, maxBytes: 1024))
        var unknown = ByteBuffer(bytes: [0, 0, 0, 5, 0xEE, 0, 0, 0, 1])
        XCTAssertThrowsError(try FrameDecoder.parse(&unknown, maxBytes: 1024)) {
            XCTAssertTrue("\($0)".contains("unknown message type"))
        }
    }

    func testMalformedPayloadIsAnError() {
        XCTAssertThrowsError(try Codec.decode(PullRequest.self, from: ByteBuffer(string: "{not json")))
    }

    /// Seeded fuzzing of the frame parser and every message decoder: a million
    /// inputs, half pure noise and half valid frames with bytes flipped, cut or
    /// grown. Errors are expected; a crash or a hang fails the suite.
    func testAMillionFuzzedInputsNeverCrashTheDecoders() throws {
        var rng = SplitMix64(seed: 0x5EED)
        let seeds: [[UInt8]] = try [
            Codec.frame(.auth, 1, Auth(version: 2, role: .slave, name: "s", capabilities: Capabilities(kinds: ["noop"]), nonce: [3, 4], mac: [1, 2])),
            Codec.frame(.pull, 2, PullRequest(max: 4, kinds: ["noop", "wdpost"], waitMs: 1000)),
            Codec.frame(.finish, 3, FinishRequest(results: [JobResult(id: "abc", lease: 7, ok: true, output: Data([1, 2, 3]))])),
            Codec.frame(.submit, 4, SubmitRequest(jobs: [NewJob(kind: "noop", input: Data("{}".utf8), partitions: [1])])),
            Codec.frame(.heartbeat, 5, HeartbeatRequest(jobs: [JobLease(id: "x", lease: 1)])),
        ].map { var b = try encode($0); return b.readBytes(length: b.readableBytes)! }
        var frames = 0
        for i in 0..<1_000_000 {
            var bytes: [UInt8]
            if i % 2 == 0 {
                bytes = (0..<Int(rng.next() % 48)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            } else {
                bytes = seeds[Int(rng.next() % UInt64(seeds.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let at = Int(rng.next() % UInt64(bytes.count))
                    switch rng.next() % 3 {
                    case 0: bytes[at] ^= UInt8(truncatingIfNeeded: rng.next() | 1)
                    case 1: bytes.removeSubrange(at...)
                    default: bytes.insert(UInt8(truncatingIfNeeded: rng.next()), at: at)
                    }
                    if bytes.isEmpty { break }
                }
            }
            var buffer = ByteBuffer(bytes: bytes)
            var steps = 0
            while buffer.readableBytes > 0 {
                steps += 1
                XCTAssertLessThan(steps, 1_000, "the parser must always make progress")
                guard let frame = try? FrameDecoder.parse(&buffer, maxBytes: 1 << 16) else { break }
                frames += 1
                Self.decodeAsItsType(frame)
            }
        }
        XCTAssertGreaterThan(frames, 10_000, "the mutations must reach the message decoders")
    }

    /// What the master and the client would do with the frame's payload.
    static func decodeAsItsType(_ frame: Frame) {
        switch frame.type {
        case .hello: _ = try? Codec.decode(Hello.self, from: frame.payload)
        case .auth: _ = try? Codec.decode(Auth.self, from: frame.payload)
        case .pull: _ = try? Codec.decode(PullRequest.self, from: frame.payload)
        case .heartbeat: _ = try? Codec.decode(HeartbeatRequest.self, from: frame.payload)
        case .finish: _ = try? Codec.decode(FinishRequest.self, from: frame.payload)
        case .release: _ = try? Codec.decode(ReleaseRequest.self, from: frame.payload)
        case .submit: _ = try? Codec.decode(SubmitRequest.self, from: frame.payload)
        case .list: _ = try? Codec.decode(ListRequest.self, from: frame.payload)
        case .show, .reset, .remove: _ = try? Codec.decode(IDList.self, from: frame.payload)
        case .removeAll: _ = try? Codec.decode(RemoveAllRequest.self, from: frame.payload)
        default: _ = try? Codec.decode(ErrorMessage.self, from: frame.payload)
        }
    }
}

struct SplitMix64 {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

