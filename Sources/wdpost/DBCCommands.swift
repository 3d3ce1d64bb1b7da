import ArgumentParser
import Foundation
import Shared
import Slave

struct DBC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dbc", abstract: "DeepBrainChain machine verification: hashes, orders, committee submissions.",
        subcommands: [DBCHash.self, DBCVerify.self, DBCStatusCommand.self, DBCSubmitHash.self, DBCSubmitRaw.self, DBCProbe.self,
                       DBCDoctorCommand.self])
}

/// Reads an info file (or stdin for "-").
func readInfo(_ path: String) throws -> MachineInfo {
    let data: Data
    if path == "-" {
        data = FileHandle.standardInput.readDataToEndOfFile()
    } else {
        guard let d = FileManager.default.contents(atPath: path) else { throw fail("--info: cannot read \(path)") }
        data = d
    }
    do { return try MachineInfo.decode(data) } catch { throw fail("\(path): \(error)") }
}

struct DBCHash: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "hash", abstract: "Print DBC's hash of a machine info file: 0x + 32 hex (BLAKE2b, 16-byte digest).")

    @Option(help: "Info file (JSON with machine_id, gpu_type, gpu_num, cuda_core, gpu_mem, calc_point, sys_disk, data_disk, cpu_type, cpu_core_num, cpu_rate, mem_num, rand_str, is_support); - for stdin")
    var info: String
    @Flag(name: .customLong("show-input"), help: "Also print the hashed text") var showInput = false

    func run() throws {
        let machine = try readInfo(info)
        if showInput { print(machine.hashInput) }
        print(machine.hashHex)
    }
}

struct DBCVerify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify", abstract: "Open a verification order: book 3 committee members at random for a machine.")

    @OptionGroup var admin: AdminOptions
    @Option(help: "The machine: the name of the slave that runs the probe") var machine: String
    @Option(name: .customLong("machine-id"), help: "DBC machine_id hashed into every info (default: SHA-256 of the name, hex)")
    var machineID: String?

    func run() async throws {
        let status = try await withAdmin(admin) { try await $0.dbcVerify(machine: machine, machineID: machineID) }
        print(DBCStatusText.render(status, machine: machine, now: nowMicros()), terminator: "")
    }
}

struct DBCStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status", abstract: "Show verification orders: one machine in full with its history, or the latest order of every machine.")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Machine name") var machine: String?
    @Flag(help: "JSON") var json = false

    func run() async throws {
        let status = try await withAdmin(admin) { try await $0.dbcStatus(machine: machine) }
        if json {
            print(String(decoding: try JobTable.jsonEncoder.encode(status), as: UTF8.self))
        } else {
            print(DBCStatusText.render(status, machine: machine, now: nowMicros()), terminator: "")
        }
    }
}

struct DBCSubmitHash: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit-hash", abstract: "A manual member commits the hash of its info (until the order is summarised; its probe belongs in its verify slots).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Machine name") var machine: String
    @Option(help: "Committee member (listed in [dbc] manual)") var member: String
    @Argument(help: "The hash, 0x + 32 hex (wdpost dbc hash --info FILE)") var hash: String

    func run() async throws {
        let status = try await withAdmin(admin) { try await $0.dbcSubmitHash(machine: machine, member: member, hash: hash) }
        print("hash accepted for \(member) on \(machine)")
        print(DBCStatusText.render(status, machine: machine, now: nowMicros()), terminator: "")
    }
}

struct DBCSubmitRaw: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "submit-raw", abstract: "A manual member reveals its info (36–48 h after booking, or once every member has hashed).")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Machine name") var machine: String
    @Option(help: "Committee member (listed in [dbc] manual)") var member: String
    @Option(help: "Info file whose hash the member committed; - for stdin") var info: String

    func run() async throws {
        let machineInfo = try readInfo(info)
        let status = try await withAdmin(admin) { try await $0.dbcSubmitRaw(machine: machine, member: member, info: machineInfo) }
        print("raw info accepted for \(member) on \(machine)")
        print(DBCStatusText.render(status, machine: machine, now: nowMicros()), terminator: "")
    }
}

struct DBCProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe", abstract: "Run the dbc-verify probe on this machine and print its checks, info and hash.")

    @Option(name: .customLong("machine-id"), help: "machine_id to report (default: SHA-256 of --machine, hex)") var machineID: String?
    @Option(help: "Machine name, for the default machine_id (default: this host's name)") var machine: String?
    @Option(name: .customLong("rand-str"), help: "Your random string (default: fresh random)") var randStr: String?
    @Option(name: .customLong("data-path"), help: "Data disk to check") var dataPath: String = "/data"
    @Option(name: .customLong("info-out"), help: "Write the info file here (for submit-raw)") var infoOut: String?
    @Flag(help: "Print the whole probe output as JSON") var json = false

    func run() async throws {
        let id = machineID ?? DBCMachineID.default(for: machine ?? ProcessInfo.processInfo.hostName)
        let output = try await MachineProbe(dataPath: dataPath).run(machineID: id, randStr: randStr ?? SecureRandom.bytes(8).hex)
        if let infoOut {
            do { try (output.info.json() + "\n").write(toFile: infoOut, atomically: true, encoding: .utf8) } catch {
                throw fail("--info-out \(infoOut): \(error)")
            }
        }
        if json {
            print(String(decoding: try JobTable.jsonEncoder.encode(output), as: UTF8.self))
            return
        }
        var rows = [["Check", "Verdict", "Figure"]]
        for c in output.checks { rows.append([c.name, c.passed ? "pass" : "FAIL", c.figure]) }
        print(TextTable.render(rows), terminator: "")
        print("benchmark: \(output.benchmark)")
        print(output.info.json())
        print("hash: \(output.info.hashHex)")
    }
}

/// The text of `wdpost dbc status`.
enum DBCStatusText {
    static let timeFormat: DateFormatter = {
        let f = DateFormatter()
        f.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        return f
    }()

    static func time(_ status: DBCStatus, _ height: Int64) -> String {
        timeFormat.string(from: Date(timeIntervalSince1970: Double(height * status.blockTime) / 1e6))
    }

    static func at(_ status: DBCStatus, _ height: Int64?) -> String {
        guard let height else { return "-" }
        return "\(height) (\(time(status, height)))"
    }

    static func names(_ list: [String]) -> String { list.isEmpty ? "-" : list.joined(separator: ", ") }

    static func render(_ status: DBCStatus, machine: String?, now: Int64) -> String {
        var out = ""
        if machine == nil {
            guard !status.orders.isEmpty else { return "no DBC orders\n" }
            var rows = [["Machine", "Order", "Round", "Status", "Result", "BookedAt", "Members", "Hashed", "Revealed"]]
            for o in status.orders {
                rows.append([o.machine, o.id, "\(o.round)", o.status.rawValue, o.summary?.result.rawValue ?? "-",
                             at(status, o.bookedAt), o.members.map(\.name).joined(separator: ","),
                             "\(o.members.filter { $0.hash != nil }.count)/\(o.members.count)",
                             "\(o.members.filter { $0.info != nil }.count)/\(o.members.count)"])
            }
            return TextTable.render(rows)
        }
        guard let latest = status.orders.last else { return "no DBC orders\n" }
        out += "Machine \(latest.machine)  machine_id \(latest.machineID)\n"
        out += "Block \(status.height) now (\(time(status, status.height))); block time \(DurationText.format(micros: status.blockTime)), 1 h = \(DBCRules.blocksPerHour) blocks\n"
        let earlier = status.orders.dropLast()
        if !earlier.isEmpty {
            out += "History:\n"
            for o in earlier {
                out += "  order \(o.id) round \(o.round): booked at block \(o.bookedAt), \(o.summary?.result.rawValue ?? o.status.rawValue)"
                if let s = o.summary { out += " at block \(s.at); valid \(names(s.valid)); invalid \(names(s.invalid)); unruly \(names(s.unruly))" }
                out += "\n"
            }
        }
        out += orderText(latest, status)
        return out
    }

    static func orderText(_ o: VerifyOrder, _ status: DBCStatus) -> String {
        var out = "Order \(o.id)  round \(o.round)  status \(o.status.rawValue)\n"
        out += "  booked at block \(at(status, o.bookedAt))\n"
        out += "  verify slots end at block \(at(status, o.slotsEndAt)); hashes are taken until the summary\n"
        out += "  raw infos from block \(at(status, o.rawOpensAt)) (or once every member has hashed) until block \(at(status, o.rawClosesAt))\n"
        var rows = [["Member", "Kind", "Hash", "HashedAt", "RevealedAt", "Probe", "Note"]]
        for m in o.members {
            let kind = status.automatic.contains(m.name) ? "automatic" : status.manual.contains(m.name) ? "manual" : "not in committee"
            var probe = "-"
            if !m.probeJob.isEmpty {
                let state = status.probes[m.probeJob]
                probe = "\(m.probeJob) \(state?.state.rawValue ?? "gone")"
            }
            rows.append([m.name, kind, m.hash ?? "-", m.hashedAt.map(String.init) ?? "-", m.revealedAt.map(String.init) ?? "-",
                         probe, m.note.isEmpty ? "-" : m.note])
        }
        out += TextTable.render(rows).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n") + "\n"
        out += "  Verify slots (\(DBCRules.slotBlocks) blocks = 4 h each):\n"
        for m in o.members {
            let slots = zip(DBCRules.slotIndices(seq: m.seq), m.slots).map { "#\($0.0) block \(at(status, $0.1))" }
            out += "    \(m.name): " + slots.joined(separator: ", ") + "\n"
        }
        if let s = o.summary {
            out += "Result: \(s.result.rawValue) at block \(at(status, s.at))\n"
            out += "  valid: \(names(s.valid))\n  invalid: \(names(s.invalid))\n  unruly: \(names(s.unruly))\n"
            out += "  punished: \(names(s.punished))\n"
            if let info = s.info {
                out += "  info: " + info.json().replacingOccurrences(of: "\n", with: "\n  ") + "\n"
            }
        } else {
            out += "Result: pending\n"
        }
        return out
    }
}
