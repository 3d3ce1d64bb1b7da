import ArgumentParser
import Foundation
import Shared
import Slave

struct DBCDoctorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "doctor",
        abstract: "Check this host against DBC's compute-node install guide (or, with --slaves, every connected slave); exit 0 only when every check passes.",
        discussion: "Checks: \(DoctorCheck.names.joined(separator: ", ")). Reads only; changes nothing.")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Read /proc, /sys, /dev, /etc and /data under this directory instead of / (a made-up or mounted machine tree)")
    var root: String?
    @Option(help: "libvirtd's TCP address, HOST:PORT") var libvirt: String = "127.0.0.1:16509"
    @Option(name: .customLong("node-dat"), help: "The DBC node's dat/node.dat (without it node_dat is not checked)")
    var nodeDat: String?
    @Flag(help: "Run the doctor on every connected slave (pinned dbc-doctor jobs; needs -c master.toml or --master)")
    var slaves = false
    @Option(help: "With --slaves: how long to wait for every machine's report") var timeout: String = "60s"
    @Flag(help: "JSON: [{check, ok, detail, fix}], or with --slaves one object per machine") var json = false

    func run() async throws {
        guard let address = HostPort(libvirt) else { throw fail("--libvirt \(libvirt): expected HOST:PORT, e.g. 127.0.0.1:16509") }
        if slaves {
            if root != nil { throw fail("--root is for this host; a slave reads its own [dbc] doctor_root") }
            let micros: Int64
            do { micros = try DurationText.micros(timeout) } catch { throw fail("--timeout \(timeout): expected a duration such as 60s") }
            guard micros > 0 else { throw fail("--timeout \(timeout): must be above zero") }
            let input = DBCDoctorInput(libvirt: libvirt, nodeDat: nodeDat)
            let rows = try await withAdmin(admin) { try await DoctorFleet.run($0, input: input, timeoutMicros: micros) }
            print(json ? DoctorFleet.json(rows) : DoctorFleet.text(rows, timeout: timeout), terminator: "")
            if rows.isEmpty || !rows.allSatisfy(\.ok) { throw ExitCode.failure }
            return
        }
        if let root {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
                throw fail("--root \(root): not a directory")
            }
        }
        let doctor = NodeDoctor(tree: MachineTree(root: root ?? "/"), libvirt: address, nodeDat: nodeDat)
        let checks = doctor.run()
        if json {
            print(String(decoding: DoctorReport.json(checks), as: UTF8.self))
        } else {
            print(Self.text(checks), terminator: "")
        }
        if !NodeDoctor.passed(checks) { throw ExitCode.failure }
    }

    /// One row per check, then the guide's fix for each failed one.
    static func text(_ checks: [DoctorCheck]) -> String {
        var rows = [["Check", "Verdict", "Seen"]]
        for c in checks { rows.append([c.check, c.skipped ? "skip" : c.ok ? "pass" : "FAIL", c.detail]) }
        var out = TextTable.render(rows)
        let failed = checks.filter { !$0.ok }
        if failed.isEmpty {
            out += "ready: every check passed\n"
        } else {
            out += "\nThe install guide's fixes:\n"
            for c in failed { out += "  \(c.check): \(c.fix)\n" }
            out += "not ready: \(failed.count) of \(checks.count) checks failed (\(failed.map(\.check).joined(separator: ", ")))\n"
        }
        return out
    }
}
