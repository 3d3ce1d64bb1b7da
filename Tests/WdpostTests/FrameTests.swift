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

    /// A seeded stream of random bytes through the parser: errors are fine,
    /// crashes and endless loops are not.
    func testRandomBytesNeverCrashTheParser() {
        var rng = SplitMix64(seed: 0x5EED)
        for _ in 0..<20_000 {
            let n = Int(rng.next() % 64)
            var buffer = ByteBuffer(bytes: (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) })
            while buffer.readableBytes > 0 {
                guard let frame = try? FrameDecoder.parse(&buffer, maxBytes: 1024) else { break }
                _ = try? Codec.decode(FinishRequest.self, from: frame.payload)
            }
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

