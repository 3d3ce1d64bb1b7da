import Foundation
import XCTest

/// scripts/setup.sh against fake dpkg-query, id and apt-get on PATH: it finds
/// exactly the missing packages, installs them as root, and otherwise prints
/// the one line to run.
final class SetupScriptTests: XCTestCase {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs scripts/setup.sh with `args`, `installed` packages, as `uid`.
    func setup(_ args: [String], installed: [String], uid: Int, environment: [String: String] = [:]) throws -> (status: Int32, out: String, err: String, apt: String) {
        let fake = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-setup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: fake, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: fake) }
        let aptLog = fake.appendingPathComponent("apt.log")
        let tools = [
            "dpkg-query": """
                for p in \(installed.joined(separator: " ")); do
                    [ "$p" = "${@: -1}" ] && { printf 'install ok installed'; exit 0; }
                done
                echo "dpkg-query: no packages found matching ${@: -1}" >&2; exit 1
                """,
            "id": "echo \(uid)",
            "apt-get": "echo \"$*\" >> '\(aptLog.path)'",
            "swift": "exit 0",
        ]
        for (name, body) in tools {
            let url = fake.appendingPathComponent(name)
            try "#!/bin/bash\n\(body)\n".write(to: url, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = [root.appendingPathComponent("scripts/setup.sh").path] + args
        p.environment = environment.merging(["PATH": "\(fake.path):/usr/bin:/bin"]) { $1 }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let apt = (try? String(contentsOf: aptLog, encoding: .utf8)) ?? ""
        return (p.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self), apt)
    }

    static let build = ["libsqlite3-dev", "libssl-dev", "libmariadb-dev"]
    static let test = ["sqlite3", "procps", "mariadb-server", "chromium", "faketime", "python3", "python3-pip"]

    func testNothingMissingDoesNothing() throws {
        let r = try setup(["--test"], installed: Self.build + Self.test, uid: 1000)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.out, "")
        XCTAssertEqual(r.apt, "")
    }

    func testNotRootPrintsTheLineToRunAndFails() throws {
        let r = try setup([], installed: ["libssl-dev"], uid: 1000)
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.out, "sudo apt-get install libsqlite3-dev libmariadb-dev\n", "the build's packages only: \(r.err)")
        XCTAssertTrue(r.err.contains("missing packages: libsqlite3-dev libmariadb-dev"), r.err)
        XCTAssertEqual(r.apt, "", "nothing is installed without root")
    }

    func testRootInstallsExactlyWhatIsMissing() throws {
        let r = try setup(["--test"], installed: Self.build + ["sqlite3", "procps", "mariadb-server"], uid: 0)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(r.apt, "update -q\ninstall -y -q --no-install-recommends chromium faketime python3 python3-pip\n")
    }

    func testTestsWithoutALocalMariaDBDoNotNeedItsServer() throws {
        let installed = Self.build + Self.test.filter { $0 != "mariadb-server" }
        let r = try setup(["--test"], installed: installed, uid: 1000, environment: ["WDPOST_SKIP_MYSQL": "1"])
        XCTAssertEqual(r.status, 0, r.err)
        let without = try setup(["--test"], installed: installed, uid: 1000)
        XCTAssertEqual(without.out, "sudo apt-get install mariadb-server\n")
    }
}
