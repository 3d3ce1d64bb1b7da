import Foundation
import Shared
import XCTest

/// The `wdpost` command line checks its numbers before any arithmetic on
/// them: a bad one is a clean usage error, never a trap with a backtrace.
final class CLILimitsTests: XCTestCase {
    /// Runs `wdpost` with `args`; how it ended and what it wrote to stderr.
    func run(_ args: [String]) throws -> (reason: Process.TerminationReason, status: Int32, err: String) {
        let p = Process()
        p.executableURL = TestCluster.findBinary()
        p.arguments = args
        let err = Pipe()
        p.standardOutput = FileHandle.nullDevice
        p.standardError = err
        try p.run()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationReason, p.terminationStatus, String(decoding: e, as: UTF8.self))
    }

    func testOutOfRangeSubmitOptionsAreRefusedCleanly() throws {
        // No master is listening there: the options are refused before any connection.
        let cases: [([String], String)] = [
            (["--deadline-at", "99999999999999999"], "--deadline-at 99999999999999999"),
            (["--deadline-at=-1"], "--deadline-at -1"),
            (["--priority=-9223372036854775808"], "--priority"),
            (["--deadline=-5"], "--deadline -5"),
        ]
        for (options, expected) in cases {
            let result = try run(["submit", "--kind", "noop", "--master", "127.0.0.1:1", "--token-file", "/nonexistent"] + options)
            XCTAssertEqual(result.reason, .exit, "\(options): ended by signal \(result.status): \(result.err)")
            XCTAssertNotEqual(result.status, 0, "\(options)")
            XCTAssertTrue(result.err.contains(expected), "\(options): \(result.err)")
            XCTAssertFalse(result.err.contains("Fatal error"), result.err)
        }
    }
}
