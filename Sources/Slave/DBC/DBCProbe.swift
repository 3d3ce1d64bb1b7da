import CKernels
import Foundation
import Shared

/// One GPU as the kernel library reports it.
public struct ProbeGPU: Sendable, Equatable {
    public var name: String
    public var memoryBytes: UInt64
    public var cudaCores: Int
    public init(name: String, memoryBytes: UInt64, cudaCores: Int) {
        self.name = name; self.memoryBytes = memoryBytes; self.cudaCores = cudaCores
    }
}

/// What the probe needs from the kernel library, behind a protocol so the
/// probe's figures and verdicts can be tested with a made-up machine.
/// Every call of one probe happens on one thread (the CPU/GPU switch is per thread).
public protocol ProbeKernels {
    /// "cuda" or "cpu", and why.
    var backend: (name: String, detail: String) { get }
    func gpus() throws -> [ProbeGPU]
    /// Root of the synthetic kernel for n×n on the default backend (GPU when loaded) or forced onto the CPU.
    func syntheticRoot(n: UInt32, seed: String, cpuOnly: Bool) throws -> [UInt8]
}

/// The real kernel library (`Sources/CKernels`).
public struct KernelLibrary: ProbeKernels {
    public init() {}

    public var backend: (name: String, detail: String) {
        (String(cString: wd_backend_name()), String(cString: wd_backend_detail()))
    }

    static func lastError() -> String { String(cString: wd_last_error()) }

    public func gpus() throws -> [ProbeGPU] {
        let count = Int(wd_device_count())
        return try (0..<count).map { index in
            var device = wd_device_t()
            guard wd_device_info(Int32(index), &device) == 0 else {
                throw JobFailure("GPU \(index): \(Self.lastError())")
            }
            let name = withUnsafeBytes(of: device.name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            return ProbeGPU(name: name, memoryBytes: device.memory_bytes, cudaCores: Int(device.cuda_cores))
        }
    }

    public func syntheticRoot(n: UInt32, seed: String, cpuOnly: Bool) throws -> [UInt8] {
        wd_thread_force_cpu(cpuOnly ? 1 : 0)
        defer { wd_thread_force_cpu(0) }
        var root = [UInt8](repeating: 0, count: 32)
        guard wd_synthetic_compute("dbc-probe", seed, n, 0, &root, nil) == 0 else {
            throw JobFailure("synthetic kernel (n=\(n), \(cpuOnly ? "cpu" : String(cString: wd_backend_name()))): \(Self.lastError())")
        }
        return root
    }
}

/// Facts read from the operating system, behind a protocol for the same reason.
public protocol ProbeSystem {
    /// /proc/cpuinfo's model name.
    func cpuModel() -> String
    func cpuCores() -> Int
    /// Rated MHz (cpufreq max, else the model name's "@ x.xxGHz", else /proc/cpuinfo).
    func cpuMHz() -> Int
    func memoryBytes() -> UInt64
    /// Size of the filesystem holding `path`, or nil if it cannot be read.
    func filesystemBytes(_ path: String) -> UInt64?
}

public struct LinuxSystem: ProbeSystem {
    public init() {}

    func cpuinfo() -> [(String, String)] {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return [] }
        return text.split(separator: "\n").compactMap { line in
            guard let colon = line.firstIndex(of: ":") else { return nil }
            return (line[..<colon].trimmingCharacters(in: .whitespaces), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
    }

    public func cpuModel() -> String {
        cpuinfo().first { $0.0 == "model name" }?.1 ?? cpuinfo().first { $0.0 == "Processor" || $0.0 == "cpu model" }?.1 ?? ""
    }

    public func cpuCores() -> Int { Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    public func cpuMHz() -> Int {
        if let text = try? String(contentsOfFile: "/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq", encoding: .utf8),
           let khz = Int(text.trimmingCharacters(in: .whitespacesAndNewlines)), khz > 0 {
            return khz / 1000
        }
        if let ghz = MachineProbe.ratedGHz(in: cpuModel()) { return Int((ghz * 1000).rounded()) }
        if let mhz = cpuinfo().first(where: { $0.0 == "cpu MHz" }).flatMap({ Double($0.1) }) { return Int(mhz.rounded()) }
        return 0
    }

    public func memoryBytes() -> UInt64 {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
              let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
              let kb = UInt64(line.split(separator: " ").dropFirst().first ?? "") else {
            return UInt64(ProcessInfo.processInfo.physicalMemory)
        }
        return kb * 1024
    }

    public func filesystemBytes(_ path: String) -> UInt64? {
        var s = statvfs()
        guard statvfs(path, &s) == 0 else { return nil }
        return UInt64(s.f_blocks) * UInt64(s.f_frsize)
    }
}

/// The `dbc-verify` probe: runs on the machine under test and reports the
/// chain's machine info plus the self-checks behind `is_support`.
public final class MachineProbe: @unchecked Sendable {
    public let dataPath: String
    let kernels: ProbeKernels
    let system: ProbeSystem
    /// Matrix size of the calc_point benchmark and of the CPU/GPU agreement check.
    let benchmarkN: UInt32
    let agreementN: UInt32 = 64
    private let lock = NSLock()
    private var benchmark: (backend: String, calcPoint: UInt64, text: String)?

    public init(dataPath: String, kernels: ProbeKernels = KernelLibrary(), system: ProbeSystem = LinuxSystem(), benchmarkN: UInt32 = 256) {
        self.dataPath = dataPath
        self.kernels = kernels
        self.system = system
        self.benchmarkN = benchmarkN
    }

    static let gib: UInt64 = 1 << 30

    /// "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz" → "Intel(R) Xeon(R) Silver 4214R", as DBC writes cpu_type.
    public static func cpuType(fromModel model: String) -> String {
        var text = model
        if let at = text.range(of: "@") { text = String(text[..<at.lowerBound]) }
        var words = text.split(whereSeparator: \.isWhitespace).map(String.init)
        if words.last == "CPU" || words.last == "Processor" { words.removeLast() }
        return words.joined(separator: " ")
    }

    static func ratedGHz(in model: String) -> Double? {
        guard let at = model.range(of: "@") else { return nil }
        let rest = model[at.upperBound...].trimmingCharacters(in: .whitespaces)
        guard rest.hasSuffix("GHz") else { return nil }
        return Double(rest.dropLast(3).trimmingCharacters(in: .whitespaces))
    }

    /// "NVIDIA GeForce RTX 3080" → "GeForceRTX3080", as DBC writes gpu_type.
    public static func gpuType(fromName name: String) -> String {
        var text = name
        if text.hasPrefix("NVIDIA ") { text.removeFirst("NVIDIA ".count) }
        return text.filter { !$0.isWhitespace }
    }

    /// Runs the probe on a thread of its own (the kernel library's CPU/GPU
    /// switch is per thread, and the probe blocks for a moment).
    public func run(machineID: String, randStr: String) async throws -> DBCProbeOutput {
        try await withCheckedThrowingContinuation { (cont: CheckedContinuation<DBCProbeOutput, Error>) in
            let thread = Thread { cont.resume(with: Result { try self.probe(machineID: machineID, randStr: randStr) }) }
            thread.name = "wdpost-dbc-probe"
            thread.start()
        }
    }

    /// The probe itself, on the calling thread.
    public func probe(machineID: String, randStr: String) throws -> DBCProbeOutput {
        var checks: [ProbeCheck] = []
        let backend = kernels.backend

        // CPU
        let model = system.cpuModel()
        let cores = system.cpuCores()
        let mhz = system.cpuMHz()
        let known = Digest.sha256(Array("abc".utf8)).hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        checks.append(ProbeCheck(name: "cpu", figure: "\(cores) cores at \(mhz) MHz, \(model.isEmpty ? "model unknown" : model), SHA-256 known answer \(known ? "ok" : "WRONG")",
                                 passed: cores >= 1 && mhz > 0 && !model.isEmpty && known))

        // Memory
        let memory = system.memoryBytes()
        let touched = Self.touchMemory(bytes: 16 << 20)
        checks.append(ProbeCheck(name: "memory", figure: "\(memory / Self.gib) GB total; 16 MiB written and read back \(touched ? "ok" : "WRONG")",
                                 passed: memory >= Self.gib && touched))

        // Disks
        let sys = system.filesystemBytes("/")
        let data = system.filesystemBytes(dataPath)
        let io = Self.diskRoundTrip(dataPath)
        let sysText = sys.map { "system \($0 / Self.gib) GB" } ?? "system disk unreadable"
        let dataText = data.map { "data \($0 / Self.gib) GB at \(dataPath)" } ?? "data path \(dataPath): not readable"
        checks.append(ProbeCheck(name: "disk", figure: "\(sysText), \(dataText); \(io ?? "1 MiB written, read back and removed ok")",
                                 passed: (sys ?? 0) > 0 && (data ?? 0) > 0 && io == nil))

        // GPUs
        var gpus: [ProbeGPU] = []
        var gpuError = ""
        do { gpus = try kernels.gpus() } catch { gpuError = "\(error)" }
        let names = Set(gpus.map(\.name))
        let visibleFigure: String
        if !gpuError.isEmpty {
            visibleFigure = "device query failed: \(gpuError)"
        } else if gpus.isEmpty {
            visibleFigure = "no GPU visible (backend \(backend.name): \(backend.detail))"
        } else {
            visibleFigure = "\(gpus.count) × \(names.sorted().joined(separator: " + "))\(names.count > 1 ? " (mixed types)" : "") (backend \(backend.name))"
        }
        checks.append(ProbeCheck(name: "gpu_visible", figure: visibleFigure, passed: gpuError.isEmpty && !gpus.isEmpty && names.count == 1))

        let smallest = gpus.map(\.memoryBytes).min() ?? 0
        checks.append(ProbeCheck(name: "gpu_memory",
                                 figure: gpus.isEmpty ? "no GPU" : gpus.map { "\($0.memoryBytes / Self.gib) GB" }.joined(separator: ", ") + " (at least 1 GB each required)",
                                 passed: !gpus.isEmpty && smallest >= Self.gib))

        // CPU/GPU kernel agreement.
        if gpus.isEmpty {
            checks.append(ProbeCheck(name: "kernel_agreement", figure: "no GPU to compare with the CPU", passed: false))
        } else {
            do {
                let gpuRoot = try kernels.syntheticRoot(n: agreementN, seed: machineID, cpuOnly: false)
                let cpuRoot = try kernels.syntheticRoot(n: agreementN, seed: machineID, cpuOnly: true)
                let same = gpuRoot == cpuRoot
                checks.append(ProbeCheck(name: "kernel_agreement",
                                         figure: "synthetic n=\(agreementN): \(backend.name) root \(gpuRoot.hex.prefix(16))…, cpu root \(cpuRoot.hex.prefix(16))… \(same ? "identical" : "DIFFER")",
                                         passed: same))
            } catch {
                checks.append(ProbeCheck(name: "kernel_agreement", figure: "\(error)", passed: false))
            }
        }

        let bench = try calcPoint(seed: machineID)
        let first = gpus.first
        let info = MachineInfo(
            machineID: machineID, gpuType: first.map { Self.gpuType(fromName: $0.name) } ?? "", gpuNum: UInt32(gpus.count),
            cudaCore: UInt32(first?.cudaCores ?? 0), gpuMem: (first?.memoryBytes ?? 0) / Self.gib, calcPoint: bench.calcPoint,
            sysDisk: (sys ?? 0) / Self.gib, dataDisk: (data ?? 0) / Self.gib, cpuType: Self.cpuType(fromModel: model),
            cpuCoreNum: UInt32(max(0, cores)), cpuRate: UInt64(max(0, mhz)), memNum: memory / Self.gib,
            randStr: randStr, isSupport: checks.allSatisfy(\.passed))
        return DBCProbeOutput(info: info, checks: checks, backend: backend.name, backendDetail: backend.detail, benchmark: bench.text)
    }

    /// calc_point: the synthetic kernel's throughput on the default backend in
    /// GOP/s (2n³ int8 multiply-adds per run), best of three runs, ×100.
    /// Measured once per process and reused: a timing differs run to run, and
    /// the three members probing this machine must report the same figure
    /// (the chain's calc_point is a figure of the hardware, the same for every member).
    func calcPoint(seed: String) throws -> (calcPoint: UInt64, text: String) {
        let backendName = kernels.backend.name
        lock.lock()
        if let cached = benchmark, cached.backend == backendName {
            lock.unlock()
            return (cached.calcPoint, cached.text + " (measured once per slave process)")
        }
        lock.unlock()
        let n = benchmarkN
        var best = Double.infinity
        for _ in 0..<3 {
            let start = DispatchTime.now().uptimeNanoseconds
            _ = try kernels.syntheticRoot(n: n, seed: seed, cpuOnly: false)
            best = min(best, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let gops = 2 * pow(Double(n), 3) / max(best, 1e-9) / 1e9
        let point = UInt64((gops * 100).rounded(.down))
        let text = String(format: "synthetic n=%u on %@: best of 3 runs %.2f ms, %.2f GOP/s", n, backendName, best * 1000, gops)
        lock.lock()
        benchmark = (backendName, point, text)
        lock.unlock()
        return (point, text)
    }

    static func touchMemory(bytes: Int) -> Bool {
        let words = bytes / 8
        let buffer = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        defer { buffer.deallocate() }
        for i in 0..<words { buffer[i] = UInt64(i) &* 0x9E37_79B9_7F4A_7C15 }
        for i in 0..<words where buffer[i] != UInt64(i) &* 0x9E37_79B9_7F4A_7C15 { return false }
        return true
    }

    /// Writes, syncs, reads back and removes 1 MiB under `dir`; nil when that worked, else what failed.
    static func diskRoundTrip(_ dir: String) -> String? {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) else { return "\(dir) does not exist" }
        guard isDir.boolValue else { return "\(dir) is not a directory" }
        let path = (dir as NSString).appendingPathComponent(".wdpost-probe-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let bytes = SecureRandom.bytes(1 << 20)
        defer { unlink(path) }
        let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o600)
        guard fd >= 0 else { return "cannot write in \(dir): \(String(cString: strerror(errno)))" }
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        let synced = fsync(fd)
        close(fd)
        guard written == bytes.count, synced == 0 else { return "write to \(dir) failed" }
        guard let back = FileManager.default.contents(atPath: path), Array(back) == bytes else { return "read back from \(dir) differs" }
        return nil
    }
}

/// The `dbc-verify` kind: input `{"machine_id", "rand_str", …}`, output `DBCProbeOutput`.
public struct DBCProbeRunner: Runner {
    let probe: MachineProbe

    public init(probe: MachineProbe) { self.probe = probe }

    public func run(_ job: Assignment) async throws -> Data {
        let input: DBCProbeInput
        do { input = try JSONDecoder().decode(DBCProbeInput.self, from: job.input) } catch {
            throw JobFailure("dbc-verify: input is not {\"machine_id\": HEX, \"rand_str\": TEXT}")
        }
        guard !input.machineID.isEmpty else { throw JobFailure("dbc-verify: machine_id is empty") }
        let output = try await probe.run(machineID: input.machineID, randStr: input.randStr)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(output)
    }
}
