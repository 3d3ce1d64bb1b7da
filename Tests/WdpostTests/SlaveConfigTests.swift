import Foundation
import Shared
import XCTest

/// `slave.toml` keys checked against the machine at start: processor programs and sector directories.
final class SlaveConfigTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-slave-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try "s3cret\n".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func config(_ slave: String, _ rest: String = "") throws -> String {
        let url = dir.appendingPathComponent("slave.toml")
        try "[master]\ntoken_file = \"slave.token\"\n[slave]\n\(slave)\n\(rest)".write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func processor(_ bin: String) throws -> String {
        try config("kinds = []", "[[processors.prove]]\nbin = \"\(bin)\"")
    }

    func assertRejected(_ path: String, _ expected: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try SlaveConfig.load(path: path), file: file, line: line) { error in
            XCTAssertEqual("\(error)", expected, file: file, line: line)
        }
    }

    /// A processor whose program is missing or cannot be run stops start-up,
    /// naming the file, the key and the path, instead of failing every job.
    func testAProcessorProgramMustExistAndBeExecutable() throws {
        let toml = dir.appendingPathComponent("slave.toml").path
        let missing = dir.appendingPathComponent("no-such-prover").path
        assertRejected(try processor(missing), "\(toml): [[processors.prove]] bin: \(missing): No such file or directory")
        assertRejected(try processor("bin/prover"), "\(toml): [[processors.prove]] bin: \(dir.path)/bin/prover: No such file or directory")
        assertRejected(try processor(dir.path), "\(toml): [[processors.prove]] bin: \(dir.path): is a directory")
        let plain = dir.appendingPathComponent("plain.sh")
        try "#!/bin/sh\n".write(to: plain, atomically: true, encoding: .utf8)
        assertRejected(try processor(plain.path), "\(toml): [[processors.prove]] bin: \(plain.path): is not executable")
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/bin:/usr/bin"
        let name = "no-such-prover-\(UUID().uuidString.prefix(8))"
        assertRejected(try processor(name), "\(toml): [[processors.prove]] bin: \"\(name)\" is not an executable in PATH (\(path))")

        XCTAssertEqual(try SlaveConfig.load(path: processor("sh")).processors.first?.bin, "sh", "a bare name found in PATH")
        chmod(plain.path, 0o755)
        XCTAssertEqual(try SlaveConfig.load(path: processor(plain.path)).processors.first?.bin, plain.path)
    }

    /// `sector_paths`: none by default; each entry relative to the file, kept
    /// with its symlinks resolved, and an existing directory.
    func testSectorPathsAreExistingDirectoriesKeptAsRealPaths() throws {
        let toml = dir.appendingPathComponent("slave.toml").path
        XCTAssertEqual(try SlaveConfig.load(path: config("name = \"a\"")).sectorPaths, [])
        let sectors = dir.appendingPathComponent("sectors")
        try FileManager.default.createDirectory(at: sectors, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link").path, withDestinationPath: sectors.path)
        let real = sectors.resolvingSymlinksInPath().path
        XCTAssertEqual(try SlaveConfig.load(path: config("sector_paths = [\"sectors\", \"link\", \"\(sectors.path)/\"]")).sectorPaths,
                       [real, real, real])
        assertRejected(try config("sector_paths = [\"gone\"]"), "\(toml): [slave] sector_paths: \"gone\": No such file or directory")
        assertRejected(try config("sector_paths = [\"slave.token\"]"), "\(toml): [slave] sector_paths: \"slave.token\": not a directory")
        assertRejected(try config("sector_paths = [\"\"]"), "\(toml): [slave] sector_paths: \"\": expected a directory path")
    }
}
