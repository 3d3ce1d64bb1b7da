import Foundation
import Shared
import Slave
import XCTest

/// A made-up machine for the probe: GPUs, kernel roots and OS facts as the test says.
final class FakeKernels: ProbeKernels, @unchecked Sendable {
    var devices: [ProbeGPU]
    var gpuRoot: [UInt8] = Array(repeating: 7, count: 32)
    var cpuRoot: [UInt8] = Array(repeating: 7, count: 32)
    var benchmarkRuns = 0
    init(devices: [ProbeGPU]) { self.devices = devices }
    var backend: (name: String, detail: String) { devices.isEmpty ? ("cpu", "no CUDA library found") : ("cuda", "fake") }
    func gpus() throws -> [ProbeGPU] { devices }
    func syntheticRoot(n: UInt32, seed: String, cpuOnly: Bool) throws -> [UInt8] {
        if n == 32 { benchmarkRuns += 1 }
        return cpuOnly ? cpuRoot : gpuRoot
    }
}

struct FakeSystem: ProbeSystem {
    var model = "Intel(R) Xeon(R) Silver 4214R CPU @ 2.40GHz"
    func cpuModel() -> String { model }
    func cpuCores() -> Int { 46 }
    func cpuMHz() -> Int { 2400 }
    func memoryBytes() -> UInt64 { 440 << 30 + 123 }
    func filesystemBytes(_ path: String) -> UInt64? {
        path == "/" ? 500 << 30 : (FileManager.default.fileExists(atPath: path) ? 3905 << 30 : nil)
    }
}

final class DBCProbeTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-probe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    let rtx3080 = ProbeGPU(name: "NVIDIA GeForce RTX 3080", memoryBytes: 10 << 30, cudaCores: 8704)

    func probe(_ kernels: FakeKernels, dataPath: String? = nil) -> MachineProbe {
        MachineProbe(dataPath: dataPath ?? dir.path, kernels: kernels, system: FakeSystem(), benchmarkN: 32)
    }

    func check(_ output: DBCProbeOutput, _ name: String) -> ProbeCheck? { output.checks.first { $0.name == name } }

    func testHealthyGPUMachineIsSupportedWithDBCFigures() throws {
        let kernels = FakeKernels(devices: Array(repeating: rtx3080, count: 4))
        let output = try probe(kernels).probe(machineID: "c2ad03b0", randStr: "abcdefg2")
        let info = output.info
        XCTAssertEqual(output.checks.map(\.name), ["cpu", "memory", "disk", "gpu_visible", "gpu_memory", "kernel_agreement"])
        XCTAssertTrue(output.checks.allSatisfy(\.passed), "\(output.checks)")
        XCTAssertTrue(info.isSupport)
        XCTAssertEqual(info.machineID, "c2ad03b0")
        XCTAssertEqual(info.randStr, "abcdefg2")
        XCTAssertEqual(info.gpuType, "GeForceRTX3080", "DBC writes the GPU model without spaces or vendor")
        XCTAssertEqual(info.gpuNum, 4)
        XCTAssertEqual(info.cudaCore, 8704)
        XCTAssertEqual(info.gpuMem, 10)
        XCTAssertEqual(info.cpuType, "Intel(R) Xeon(R) Silver 4214R", "DBC drops \"CPU @ 2.40GHz\"")
        XCTAssertEqual(info.cpuCoreNum, 46)
        XCTAssertEqual(info.cpuRate, 2400)
        XCTAssertEqual(info.memNum, 440)
        XCTAssertEqual(info.sysDisk, 500)
        XCTAssertEqual(info.dataDisk, 3905)
        XCTAssertGreaterThan(info.calcPoint, 0)
        XCTAssertTrue(output.benchmark.contains("synthetic n=32 on cuda"), output.benchmark)
        XCTAssertTrue(check(output, "kernel_agreement")?.figure.contains("identical") ?? false)
    }

    func testCPUOnlyMachineReportsZeroGPUsAndIsNotSupported() throws {
        let output = try probe(FakeKernels(devices: [])).probe(machineID: "m", randStr: "r")
        XCTAssertEqual(output.info.gpuNum, 0)
        XCTAssertEqual(output.info.gpuType, "")
        XCTAssertEqual(output.info.cudaCore, 0)
        XCTAssertEqual(output.info.gpuMem, 0)
        XCTAssertFalse(output.info.isSupport)
        XCTAssertEqual(output.checks.filter { !$0.passed }.map(\.name), ["gpu_visible", "gpu_memory", "kernel_agreement"])
        XCTAssertTrue(check(output, "gpu_visible")?.figure.contains("no GPU visible") ?? false)
        XCTAssertTrue(output.checks.filter { ["cpu", "memory", "disk"].contains($0.name) }.allSatisfy(\.passed))
    }

    func testKernelDisagreementSmallGPUMemoryAndMissingDataDiskFail() throws {
        let kernels = FakeKernels(devices: [ProbeGPU(name: "Tiny", memoryBytes: 512 << 20, cudaCores: 128)])
        kernels.gpuRoot[0] ^= 1
        let output = try probe(kernels, dataPath: dir.appendingPathComponent("missing").path).probe(machineID: "m", randStr: "r")
        XCTAssertFalse(output.info.isSupport)
        XCTAssertEqual(output.checks.filter { !$0.passed }.map(\.name), ["disk", "gpu_memory", "kernel_agreement"])
        XCTAssertTrue(check(output, "kernel_agreement")?.figure.contains("DIFFER") ?? false)
        XCTAssertTrue(check(output, "disk")?.figure.contains("does not exist") ?? false, check(output, "disk")?.figure ?? "")
        XCTAssertEqual(output.info.dataDisk, 0)
    }

    func testMixedGPUTypesFailVisibility() throws {
        let kernels = FakeKernels(devices: [rtx3080, ProbeGPU(name: "NVIDIA GeForce RTX 3090", memoryBytes: 24 << 30, cudaCores: 10496)])
        let output = try probe(kernels).probe(machineID: "m", randStr: "r")
        XCTAssertFalse(check(output, "gpu_visible")?.passed ?? true)
        XCTAssertTrue(check(output, "gpu_visible")?.figure.contains("mixed") ?? false)
    }

    /// The three members probing one machine must report the same calc_point:
    /// it is measured once per process and reused.
    func testCalcPointIsMeasuredOncePerProcess() throws {
        let kernels = FakeKernels(devices: [rtx3080])
        let p = probe(kernels)
        let first = try p.probe(machineID: "m", randStr: "a")
        let second = try p.probe(machineID: "m", randStr: "b")
        XCTAssertEqual(kernels.benchmarkRuns, 3, "best of three, once")
        XCTAssertEqual(first.info.calcPoint, second.info.calcPoint)
        XCTAssertNotEqual(first.info.hashHex, second.info.hashHex, "only rand_str differs, and it changes the hash")
        XCTAssertEqual(first.info.summaryForm, second.info.summaryForm, "…but not the vote")
    }

    func testNames() {
        XCTAssertEqual(MachineProbe.cpuType(fromModel: "AMD EPYC 7543 32-Core Processor"), "AMD EPYC 7543 32-Core")
        XCTAssertEqual(MachineProbe.cpuType(fromModel: "  Intel(R)  Core(TM) i9-10900K CPU @ 3.70GHz "), "Intel(R) Core(TM) i9-10900K")
        XCTAssertEqual(MachineProbe.gpuType(fromName: "NVIDIA H100 80GB HBM3"), "H10080GBHBM3")
    }

    /// The real kernel library on this box: a machine without a CUDA library reports 0 GPUs, honestly.
    func testRealProbeOnThisMachine() async throws {
        let kernels = KernelLibrary()
        let gpus = try kernels.gpus()
        let output = try await MachineProbe(dataPath: dir.path, benchmarkN: 64).run(machineID: "real", randStr: "r")
        XCTAssertEqual(Int(output.info.gpuNum), gpus.count)
        XCTAssertGreaterThan(output.info.cpuCoreNum, 0)
        XCTAssertGreaterThan(output.info.memNum, 0)
        XCTAssertGreaterThan(output.info.sysDisk, 0)
        XCTAssertEqual(output.backend, gpus.isEmpty ? "cpu" : "cuda")
        if gpus.isEmpty {
            XCTAssertFalse(output.info.isSupport, "no GPU: not supported")
            XCTAssertEqual(output.info.gpuType, "")
        }
        XCTAssertTrue(output.checks.first { $0.name == "disk" }?.passed ?? false, "\(output.checks)")
    }
}
