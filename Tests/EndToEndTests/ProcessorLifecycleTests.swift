import Foundation
import Shared
import XCTest

extension TestCluster {
    /// A `/bin/sh` script in the cluster's directory, executable.
    func shellScript(_ name: String, _ body: String) throws -> String {
        let url = try write(name, "#!/bin/sh\n" + body)
        chmod(url.path, 0o755)
        return url.path
    }

    /// The pid a processor wrote to `path`, once it has.
    func awaitPid(in path: String, timeout: TimeInterval = 30) async throws -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: path, encoding: .utf8), text.hasSuffix("\n"),
               let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) { return pid }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        throw TestFailure("no pid in \(path) after \(timeout)s")
    }
}

/// How a processor starts and ends: signals, the slave's death, stdout held by a background child.
final class ProcessorLifecycleTests: XCTestCase {
    func outputs(_ cluster: TestCluster, _ jobs: [NewJob]) async throws -> [Job] {
        let ids = try await cluster.client().submit(jobs)
        let done = try await cluster.waitFor("processor jobs to finish") { jobs in
            ids.allSatisfy { id in jobs.contains { $0.id == id && [.succeed, .failed].contains($0.state) } }
        }
        return ids.map { id in done.first { $0.id == id }! }
    }

    /// Whether `pid` is gone within `timeout` (a zombie counts as gone: in a
    /// container nothing may reap it). The process's end is the event awaited.
    func awaitGone(_ pid: Int32, timeout: TimeInterval = 30) async throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !ProcessorTests.isAlive(pid) { return true }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
        return false
    }

    /// A processor starts with no signal blocked or ignored: its own traps and
    /// kills work (the slave ignores SIGTERM and its threads block signals).
    func testAProcessorStartsWithNoSignalBlockedOrIgnored() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        let signals = try cluster.shellScript("signals.sh", """
            # Read by the shell itself: a shell waiting for a command it forked
            # (grep) blocks every signal for a moment, and /proc would show that.
            while read -r key value; do
              case "$key" in SigBlk:|SigIgn:) echo "$key $value";; esac
            done < /proc/$$/status
            trap 'echo trapped USR1' USR1
            kill -USR1 $$
            trap 'echo trapped TERM' TERM
            kill -TERM $$
            sh -c 'kill -ALRM $$; echo not reached'
            echo "ALRM ended the child: status $?"
            """)
        try cluster.startSlave("sig", extra: "kinds = []\n[[processors.sig]]\nbin = \"\(signals)\"")
        try await cluster.use {
            let job = try await outputs(cluster, [NewJob(kind: "sig")])[0]
            XCTAssertEqual(job.state, .succeed, job.error)
            XCTAssertEqual(job.output.map { String(decoding: $0, as: UTF8.self) }, """
                SigBlk: 0000000000000000
                SigIgn: 0000000000000000
                trapped USR1
                trapped TERM
                ALRM ended the child: status 142

                """)
        }
    }

    /// A SIGKILLed slave takes its processor with it (PR_SET_PDEATHSIG).
    func testAProcessorDiesWithItsKilledSlave() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        let pidFile = cluster.dir.appendingPathComponent("processor.pid").path
        let sleeper = try cluster.shellScript("sleeper.sh", "echo $$ > \(pidFile)\nexec sleep 600\n")
        let slave = try cluster.startSlave("doomed", extra: "kinds = []\n[[processors.sleeper]]\nbin = \"\(sleeper)\"")
        try await cluster.use {
            _ = try await cluster.client().submit([NewJob(kind: "sleeper")])
            let pid = try await cluster.awaitPid(in: pidFile)
            XCTAssertTrue(ProcessorTests.isAlive(pid))
            slave.signal(SIGKILL)
            _ = await slave.waitForExit()
            let gone = try await awaitGone(pid)
            if !gone { kill(pid, SIGKILL) }
            XCTAssertTrue(gone, "the processor outlived its SIGKILLed slave")
        }
    }

    /// The output is stdout up to EOF, after the program exited: a background
    /// child still holding stdout is waited for. What is left in the group once
    /// stdout is closed (here a child holding only stderr) is killed, and does
    /// not keep the job running.
    func testTheOutputIsStdoutToEOFAndLeftoversAreKilled() async throws {
        let cluster = try TestCluster(task: ["max_retry": "1"])
        try await cluster.startMaster()
        let pidFile = cluster.dir.appendingPathComponent("leftover.pid").path
        let late = try cluster.shellScript("late.sh", """
            echo early
            (sleep 1; echo late) &
            exit 0
            """)
        let leftover = try cluster.shellScript("leftover.sh", """
            sleep 600 > /dev/null &
            echo $! > \(pidFile)
            echo done
            """)
        try cluster.startSlave("bg", concurrent: 2, extra: """
            kinds = []
            [[processors.late]]
            bin = "\(late)"
            [[processors.leftover]]
            bin = "\(leftover)"
            """)
        try await cluster.use {
            let jobs = try await outputs(cluster, [NewJob(kind: "late"), NewJob(kind: "leftover")])
            XCTAssertEqual(jobs[0].state, .succeed, jobs[0].error)
            XCTAssertEqual(jobs[0].output.map { String(decoding: $0, as: UTF8.self) }, "early\nlate\n")
            XCTAssertEqual(jobs[1].state, .succeed, jobs[1].error)
            XCTAssertEqual(jobs[1].output.map { String(decoding: $0, as: UTF8.self) }, "done\n")
            let pid = try await cluster.awaitPid(in: pidFile)
            let gone = try await awaitGone(pid)
            if !gone { kill(pid, SIGKILL) }
            XCTAssertTrue(gone, "the leftover holding stderr outlived its job")
        }
    }
}
