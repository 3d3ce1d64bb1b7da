import Foundation
import Shared
import XCTest

/// The bounds on numbers and names from config files (durations, slave
/// names) and the arithmetic that must never trap on what they hold.
final class LimitsTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "s3cret".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        try "adm1n".write(to: dir.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testSaturatingArithmeticStopsAtTheEnds() {
        XCTAssertEqual(Int64.max.addingSaturating(1), .max)
        XCTAssertEqual(Int64.min.addingSaturating(-1), .min)
        XCTAssertEqual(Int64(5).addingSaturating(-7), -2)
        XCTAssertEqual(Int64.min.subtractingSaturating(1), .min)
        XCTAssertEqual(Int64.max.subtractingSaturating(-1), .max)
        XCTAssertEqual(Int64(3).subtractingSaturating(5), -2)
        XCTAssertEqual(Int64(10_000_000_000_000_000).multipliedSaturating(by: 1000), .max)
        XCTAssertEqual(Int64(-10_000_000_000_000_000).multipliedSaturating(by: 1000), .min)
        XCTAssertEqual(Int64.min.multipliedSaturating(by: -1), .max)
        XCTAssertEqual(Int64(-4).multipliedSaturating(by: 3), -12)
    }

    func testDurationsAreBoundedToAHundredYears() throws {
        XCTAssertEqual(try DurationText.micros("36525days"), DurationText.maxMicros)
        XCTAssertEqual(DurationText.maxMicros, 36_525 * 86_400_000_000)
        for long in ["36526days", "106751990days", "300000days", "876601h", "99999999999999999999999999999999999999s", "36525days1s"] {
            XCTAssertThrowsError(try DurationText.micros(long), long) { error in
                XCTAssertTrue((error as? DurationText.ParseError)?.tooLong == true, "\(long): \(error)")
                XCTAssertTrue("\(error)".contains("36525days (100 years)"), "\(error)")
            }
        }
        // Malformed stays malformed, however long its numbers.
        XCTAssertThrowsError(try DurationText.micros("99999999999999999999days1x")) { error in
            XCTAssertEqual((error as? DurationText.ParseError)?.tooLong, false)
        }
        XCTAssertThrowsError(try DurationText.micros("١s"), "only ASCII digits")
        // The largest duration added to now, in ns, stays far inside Int64.
        let (ns, overflow) = (nowMicros() + DurationText.maxMicros).multipliedReportingOverflow(by: 1000)
        XCTAssertFalse(overflow)
        XCTAssertGreaterThan(ns, 0)
    }

    func testAMasterWithATooLongRetryIntervalIsRefusedAtStartNamingFileKeyAndLimit() throws {
        let path = try write("master.toml", """
            [server]
            token_file = "slave.token"
            admin_token_file = "admin.token"
            [task]
            retry_job_interval = "106751990days"
            """)
        XCTAssertThrowsError(try MasterConfig.load(path: path)) { error in
            XCTAssertTrue(error is ConfigError)
            let text = "\(error)"
            XCTAssertTrue(text.contains(path) && text.contains("[task] retry_job_interval"), text)
            XCTAssertTrue(text.contains("at most 36525days (100 years)"), text)
        }
    }

    func slaveConfig(_ extra: String, name: String? = "s1") throws -> String {
        try write("slave.toml", """
            [master]
            token_file = "slave.token"
            \(extra)
            [slave]
            \(name.map { "name = \"\($0)\"" } ?? "")
            """)
    }

    func testASlaveWithATooLongReconnectIntervalIsRefusedAtStart() throws {
        let path = try slaveConfig("reconnect_interval = \"300000days\"")
        XCTAssertThrowsError(try SlaveConfig.load(path: path)) { error in
            XCTAssertTrue("\(error)".contains("[master] reconnect_interval: expected a duration of at most 36525days"), "\(error)")
        }
    }

    func testPeerNamesAreNormalisedAndBadOnesRefused() throws {
        XCTAssertEqual(Array(try PeerName.validated("cafe\u{301}", what: "name").utf8), Array("caf\u{E9}".utf8))
        XCTAssertEqual(try PeerName.validated("gpu-01.example", what: "name"), "gpu-01.example")
        XCTAssertEqual(try PeerName.validated(String(repeating: "é", count: 127) + "x", what: "name").utf8.count, 255)
        // 258 bytes as typed, 172 in NFC (U+212B ANGSTROM SIGN, 3 bytes, is U+00C5, 2).
        XCTAssertEqual(try PeerName.validated(String(repeating: "\u{212B}", count: 86), what: "name").utf8.count, 172)
        let refused: [(String, String)] = [
            ("", "must not be empty"),
            ("a\nb", "U+000A"),
            ("a\u{1B}[31m", "U+001B"),
            ("a\u{85}", "U+0085"),
            ("a\u{2028}", "U+2028"),
            ("\u{FEFF}a", "U+FEFF"),
            ("a\u{202E}b", "U+202E"),
            ("a\u{200B}b", "U+200B"),
            (String(repeating: "é", count: 128), "256 bytes of UTF-8, over the limit of 255"),
            // The limit holds after normalisation: U+0958 (3 bytes) is U+0915 U+093C (6) in NFC.
            (String(repeating: "\u{958}", count: 50), "300 bytes of UTF-8"),
        ]
        for (raw, expected) in refused {
            XCTAssertThrowsError(try PeerName.validated(raw, what: "slave name"), raw.debugDescription) { error in
                XCTAssertTrue("\(error)".hasPrefix("slave name: "), "\(error)")
                XCTAssertTrue("\(error)".contains(expected), "\(error) should say \(expected)")
            }
        }
    }

    func testASlaveRefusesABadNameAtStartAndNormalisesAGoodOne() throws {
        let bad = try slaveConfig("", name: "gpu\\u0007")
        XCTAssertThrowsError(try SlaveConfig.load(path: bad)) { error in
            XCTAssertTrue("\(error)".contains("[slave] name: ") && "\(error)".contains("U+0007"), "\(error)")
        }
        let good = try slaveConfig("", name: "cafe\\u0301")
        XCTAssertEqual(Array(try SlaveConfig.load(path: good).name.utf8), Array("caf\u{E9}".utf8))
    }

    func testTruncatedTextKeepsWholeCharactersAndSaysWhatWasCut() {
        XCTAssertEqual(InputLimits.truncated("short", maxBytes: 100), "short")
        let cut = InputLimits.truncated(String(repeating: "é", count: 100), maxBytes: 60)
        XCTAssertLessThanOrEqual(cut.utf8.count, 60)
        XCTAssertTrue(cut.hasPrefix("éé") && cut.hasSuffix("bytes cut)"), cut)
    }
}
