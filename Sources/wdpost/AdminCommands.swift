import ArgumentParser
import Foundation
import Shared

struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Submit jobs; prints the new ids, one per line.")

    @OptionGroup var admin: AdminOptions
    @Option(help: "Job kind: noop, synthetic, wdpost, dbc-verify, or a processor's kind") var kind: String
    @Option(help: "Job input: JSON text, or @FILE to read it from a file") var input: String?
    @Option(help: "How many identical jobs") var count: Int = 1
    @Option(help: "Miner id (WindowPoSt)") var miner: String = ""
    @Option(help: "Deadline index (WindowPoSt)") var deadline: Int = -1
    @Option(help: "Partitions, e.g. 1,2") var partitions: String = ""
    @Option(help: "Higher runs first among jobs with the same deadline") var priority: Int = 0
    @Option(name: .customLong("deadline-at"), help: "Must be proven by this Unix time (s); earliest runs first") var deadlineAt: Int64?
    @Option(name: .customLong("unique-key"), help: "A second submit with the same key returns the existing job (\"\": no key)") var uniqueKey: String?
    @Option(help: "Pin: only the slave of this name may run the job") var worker: String?

    /// Numbers are checked before any arithmetic on them (`--deadline-at` in
    /// seconds becomes µs); the master checks everything again at its door.
    func validate() throws {
        guard (0...InputLimits.deadlineAtMaxSeconds).contains(deadlineAt ?? 0) else {
            throw ValidationError("--deadline-at \(deadlineAt ?? 0): expected a Unix time in seconds, 0…\(InputLimits.deadlineAtMaxSeconds) (the end of 9999)")
        }
        guard (-InputLimits.priorityMax...InputLimits.priorityMax).contains(priority) else {
            throw ValidationError("--priority \(priority): expected -\(InputLimits.priorityMax)…\(InputLimits.priorityMax)")
        }
        guard (-1...InputLimits.partitionMax).contains(deadline) else {
            throw ValidationError("--deadline \(deadline): expected -1…\(InputLimits.partitionMax)")
        }
    }

    func run() async throws {
        guard count >= 1 else { throw fail("--count must be at least 1") }
        // An empty key is no key, as the master treats it.
        let uniqueKey = uniqueKey?.isEmpty == false ? uniqueKey : nil
        guard uniqueKey == nil || count == 1 else { throw fail("--unique-key names one job; use --count 1") }
        let parts = PartitionList.parse(partitions)
        guard partitions.isEmpty || parts.count == partitions.split(separator: ",").count else {
            throw fail("--partitions \(partitions): expected numbers separated by commas")
        }
        let data = try readInput()
        let job = NewJob(kind: kind, input: data, minerID: miner, deadlineIdx: deadline, partitions: parts,
                         priority: priority, deadlineAt: deadlineAt.map { $0 * 1_000_000 }, uniqueKey: uniqueKey,
                         worker: worker)
        let ids = try await withAdmin(admin) { try await $0.submit(Array(repeating: job, count: count)) }
        print(ids.joined(separator: "\n"))
    }

    func readInput() throws -> Data {
        guard let input else { return Data() }
        let data: Data
        if input.hasPrefix("@") {
            let path = String(input.dropFirst())
            guard let d = FileManager.default.contents(atPath: path) else { throw fail("--input: cannot read \(path)") }
            data = d
        } else {
            data = Data(input.utf8)
        }
        guard (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil else {
            throw fail("--input is not valid JSON")
        }
        return data
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs: unfinished and failed by default, everything with --all.")

    @OptionGroup var admin: AdminOptions
    @Flag(help: "Every job, succeeded and archived ones too") var all = false
    @Flag(help: "Full errors and more columns") var detail = false
    @Flag(help: "JSON, one array of jobs") var json = false

    func run() async throws {
        // The table shows neither input nor output: pages without them are small and quick.
        let jobs = try await withAdmin(admin) { try await $0.list(all: all, brief: !json) }
        if json {
            print(try JobTable.json(jobs))
        } else {
            print(JobTable.render(jobs, detail: detail, now: nowMicros()), terminator: "")
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show one job in full, as JSON, with local times.")

    @OptionGroup var admin: AdminOptions
    @Flag(help: "Timestamps as stored (µs since 1970) instead of local times") var json = false
    @Argument(help: "Job id") var id: String

    func run() async throws {
        let jobs = try await withAdmin(admin) { try await $0.show([id]) }
        print(try JobTable.json(jobs[0], readableTimes: !json))
    }
}

struct Reset: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Put jobs back to ReadyToRun with Try 0 (all ids must exist).")

    @OptionGroup var admin: AdminOptions
    @Argument(help: "Job ids") var ids: [String]

    func run() async throws {
        guard !ids.isEmpty else { throw fail("name at least one job id") }
        let n = try await withAdmin(admin) { try await $0.reset(ids) }
        print("reset \(n) job(s)")
    }
}

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Delete jobs (all ids must exist); a running slave aborts on its next heartbeat.")

    @OptionGroup var admin: AdminOptions
    @Argument(help: "Job ids") var ids: [String]

    func run() async throws {
        guard !ids.isEmpty else { throw fail("name at least one job id") }
        let n = try await withAdmin(admin) { try await $0.remove(ids) }
        print("removed \(n) job(s)")
    }
}

struct RemoveAll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "remove-all", abstract: "Delete every job (not the archive).")

    @OptionGroup var admin: AdminOptions
    @Flag(name: .customLong("really-do-it"), help: "Required: confirms deleting every job") var really = false

    func run() async throws {
        guard really else { throw fail("remove-all deletes every job; add --really-do-it if you mean it") }
        let n = try await withAdmin(admin) { try await $0.removeAll() }
        print("removed \(n) job(s)")
    }
}

struct Slaves: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Slaves connected to this master.")

    @OptionGroup var admin: AdminOptions
    @Flag(help: "JSON") var json = false

    func run() async throws {
        let slaves = try await withAdmin(admin) { try await $0.slaves() }
        if json {
            print(String(decoding: try JobTable.jsonEncoder.encode(slaves), as: UTF8.self))
            return
        }
        let now = nowMicros()
        var rows = [["Name", "Address", "Running", "Concurrent", "Kinds", "LastSeen", "State"]]
        for s in slaves {
            rows.append([s.name, s.address, "\(s.runningJobs)", "\(s.concurrent)", s.kinds.joined(separator: ","),
                         DurationText.format(micros: now.subtractingSaturating(s.lastSeen)) + " ago", s.rented == true ? "rented" : "working"])
        }
        print(TextTable.render(rows), terminator: "")
    }
}
