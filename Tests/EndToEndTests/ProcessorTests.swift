import Foundation
import Shared
import XCTest

/// External processors: programs that get the job input on stdin and answer on stdout.
final class ProcessorTests: XCTestCase {
    func script(_ cluster: TestCluster, _ name: String, _ body: String) throws -> String {
        let url = try cluster.write(name, "#!/bin/sh\n" + body)
        chmod(url.path, 0o755)
        return url.path
    }

    /// Alive and not a zombie waiting for a reaper (in a container, PID 1 may never reap).
    static func isAlive(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(close, offsetBy: 2)]
        return state != "Z" && state != "X"
    }

    func testProcessorOutputExitStatusAndTimeoutKillsTheWholeGroup() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        let echo = try script(cluster, "echo.sh", """
            input=$(cat)
            case "$input" in *fail*) echo "prover exploded on $WDPOST_JOB_ID" >&2; exit 3;; esac
            printf '{"got":%s,"env":"%s"}' "$input" "$PROVER_MODE"
            """)
        let pidFile = cluster.dir.appendingPathComponent("grandchild.pid").path
        let slow = try script(cluster, "slow.sh", """
            sleep 60 &
            echo $! > \(pidFile)
            wait
            """)
        try cluster.startSlave("ext", concurrent: 3, extra: """
            kinds = []
            [[processors.ext]]
            bin = "\(echo)"
            concurrent = 2
            envs = { PROVER_MODE = "fast" }
            [[processors.slow]]
            bin = "\(slow)"
            timeout = "500ms"
            """)
        try await cluster.use {
            let ids = try await cluster.client().submit([
                NewJob(kind: "ext", input: Data(#"{"n":1}"#.utf8)),
                NewJob(kind: "ext", input: Data(#"{"fail":true}"#.utf8)),
                NewJob(kind: "slow"),
            ])
            let jobs = try await cluster.waitFor("processor jobs to finish") { $0.count == 3 && $0.allSatisfy { [.succeed, .failed].contains($0.state) } }
            let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
            XCTAssertEqual(byID[ids[0]]?.state, .succeed)
            XCTAssertEqual(byID[ids[0]]?.output.map { String(decoding: $0, as: UTF8.self) }, #"{"got":{"n":1},"env":"fast"}"#)
            XCTAssertEqual(byID[ids[1]]?.state, .failed)
            XCTAssertTrue(byID[ids[1]]!.error.contains("exit status 3") && byID[ids[1]]!.error.contains("prover exploded on \(ids[1])"), byID[ids[1]]!.error)
            XCTAssertEqual(byID[ids[2]]?.state, .failed)
            XCTAssertTrue(byID[ids[2]]!.error.contains("timed out"), byID[ids[2]]!.error)
            let grandchild = try XCTUnwrap(Int32(String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
            XCTAssertFalse(Self.isAlive(grandchild), "the processor's own children die with it")
        }
    }
}
