import Foundation
import Logging
import Shared
import XCTest

/// The log lines the daemons write: StreamLogHandler's format, one write each.
final class LineLogHandlerTests: XCTestCase {
    func lines(_ body: (inout Logger) -> Void) throws -> [String] {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        var handler = LineLogHandler(label: "wdpost-test", fd: fds[1], metadataProvider: nil)
        handler.logLevel = .debug
        var logger = Logger(label: "wdpost-test") { _ in handler }
        body(&logger)
        close(fds[1])
        return readAll(fds[0]).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    /// Everything written to the pipe whose write end is closed; closes `fd`.
    func readAll(_ fd: Int32) -> String {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fd, &buffer, buffer.count)
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
        }
        close(fd)
        return String(decoding: data, as: UTF8.self)
    }

    func testLinesHaveStreamLogHandlersFormat() throws {
        struct Boom: Error, CustomStringConvertible { var description: String { "boom" } }
        let out = try lines { logger in
            logger.info("job claimed", metadata: ["worker": "s1", "job": "J1"])
            logger[metadataKey: "worker"] = "s2"
            logger.warning("attempt failed: x\ny", metadata: ["job": "J2"])
            logger.trace("not at this level")
            logger.debug("no metadata of its own")
            logger.error("failed", error: Boom())
        }
        XCTAssertEqual(out.count, 5, "four lines and the final newline: \(out)")
        let stamp = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"#
        let expected = [
            #"^\#(stamp) info wdpost-test: job=J1 worker=s1 \[WdpostTests\] job claimed$"#,
            #"^\#(stamp) warning wdpost-test: job=J2 worker=s2 \[WdpostTests\] attempt failed: x\\ny$"#,
            #"^\#(stamp) debug wdpost-test: worker=s2 \[WdpostTests\] no metadata of its own$"#,
            #"^\#(stamp) error wdpost-test: error.message=boom error.type=.*Boom worker=s2 \[WdpostTests\] failed$"#,
            #"^$"#,
        ]
        for (line, pattern) in zip(out, expected) {
            XCTAssertNotNil(line.range(of: pattern, options: .regularExpression), "\(line) does not match \(pattern)")
        }
    }

    /// A peer's text cannot forge a line: a newline in a name or message is
    /// escaped, and a 4 MiB value is cut to a few KiB.
    func testPeerTextStaysOnOneLineAndIsCut() throws {
        let forged = "s1\n2026-12-04T00:00:00+0000 info wdpost-master: job=X worker=s1 [Master] finish accepted"
        let out = try lines { logger in
            logger.warning("connection refused: \(forged)", metadata: ["worker": "\(forged)\r\u{1b}[2J\u{2028}"])
            logger.info("big", metadata: ["name": "\(String(repeating: "n", count: 4 << 20))"])
        }
        XCTAssertEqual(out.count, 3, "two lines and the final newline: \(out.map { $0.prefix(200) })")
        XCTAssertTrue(out[0].contains(#"s1\n2026-12-04T00:00:00+0000 info"#), out[0])
        XCTAssertTrue(out[0].contains(#"\r\u{1b}[2J\u{2028}"#), out[0])
        XCTAssertLessThan(out[1].utf8.count, 2 * LogText.maxFieldBytes)
        XCTAssertTrue(out[1].contains("…[4194304 bytes, cut]"), String(out[1].suffix(100)))
    }

    func testCoalescedLinesGoOutInOneWriteWhenTheBlockEnds() throws {
        var fds: [Int32] = [0, 0]
        XCTAssertEqual(pipe(&fds), 0)
        let handler = LineLogHandler(label: "wdpost-test", fd: fds[1], metadataProvider: nil)
        let logger = Logger(label: "wdpost-test") { _ in handler }
        let returned = LineLogHandler.coalescing(fd: fds[1]) { () -> Int in
            logger.info("job claimed", metadata: ["job": "J1", "worker": "s1"])
            LineLogHandler.coalescing(fd: fds[1]) { logger.info("job claimed", metadata: ["job": "J2"]) }
            var ready = pollfd(fd: fds[0], events: Int16(POLLIN), revents: 0)
            XCTAssertEqual(poll(&ready, 1, 0), 0, "nothing is written before the outermost block ends")
            return 7
        }
        XCTAssertEqual(returned, 7)
        logger.info("after the block")
        close(fds[1])
        let out = readAll(fds[0]).split(separator: "\n").map(String.init)
        let stamp = #"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d{4}"#
        let expected = [
            #"^\#(stamp) info wdpost-test: job=J1 worker=s1 \[WdpostTests\] job claimed$"#,
            #"^\#(stamp) info wdpost-test: job=J2 \[WdpostTests\] job claimed$"#,
            #"^\#(stamp) info wdpost-test: \[WdpostTests\] after the block$"#,
        ]
        XCTAssertEqual(out.count, expected.count, "\(out)")
        for (line, pattern) in zip(out, expected) {
            XCTAssertNotNil(line.range(of: pattern, options: .regularExpression), "\(line) does not match \(pattern)")
        }
    }
}
