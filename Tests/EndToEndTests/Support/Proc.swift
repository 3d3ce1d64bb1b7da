import Foundation
import Shared

/// A real `wdpost` process started by a test: stdout is watched line by line
/// (the master announces its port there), stderr goes to a log file.
final class Proc: @unchecked Sendable {
    let process = Process()
    let logURL: URL
    private let lock = NSLock()
    private var stdoutText = ""
    private var lineWaiters: [(String, CheckedContinuation<String, Error>)] = []

    init(binary: URL, arguments: [String], logURL: URL, environment: [String: String] = [:]) throws {
        self.logURL = logURL
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = binary
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        process.environment = env
        // Not the test runner's stdin: a master whose stdin and stdout are
        // both pipes serves damocles-manager's protocol ([damocles] ext_prover = "auto").
        process.standardInput = FileHandle.nullDevice
        let out = Pipe()
        process.standardOutput = out
        process.standardError = try FileHandle(forWritingTo: logURL)
        out.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            self?.append(String(decoding: data, as: UTF8.self))
        }
        try process.run()
    }

    private func append(_ text: String) {
        lock.lock()
        stdoutText += text
        var ready: [(CheckedContinuation<String, Error>, String)] = []
        lineWaiters.removeAll { needle, cont in
            guard let line = Self.line(containing: needle, in: stdoutText) else { return false }
            ready.append((cont, line))
            return true
        }
        lock.unlock()
        ready.forEach { $0.0.resume(returning: $0.1) }
    }

    static func line(containing needle: String, in text: String) -> String? {
        text.split(separator: "\n").first { $0.contains(needle) }.map(String.init)
    }

    /// Waits for a stdout line containing `needle` (an event the process emits, not a sleep).
    func waitForLine(containing needle: String, timeout: TimeInterval = 30) async throws -> String {
        let found: String? = await withCheckedContinuation { (outer: CheckedContinuation<String?, Never>) in
            let once = Once()
            Task {
                let line = try? await withCheckedThrowingContinuation { (cont: CheckedContinuation<String, Error>) in
                    self.lock.lock()
                    if let line = Self.line(containing: needle, in: self.stdoutText) {
                        self.lock.unlock()
                        cont.resume(returning: line)
                    } else {
                        self.lineWaiters.append((needle, cont))
                        self.lock.unlock()
                    }
                }
                if once.claim() { outer.resume(returning: line) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if once.claim() { outer.resume(returning: nil) }
            }
        }
        guard let found else {
            throw TestFailure("no line containing \"\(needle)\" within \(timeout)s; log:\n\(log.suffix(3000))")
        }
        return found
    }

    /// Waits for the process's log (stderr) to contain `needle`, checking every 50 ms.
    func waitForLog(containing needle: String, timeout: TimeInterval = 30) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while !log.contains(needle) {
            guard Date() < deadline else { throw TestFailure("log never contained \"\(needle)\":\n\(log.suffix(2000))") }
            try await Task.sleep(nanoseconds: 50_000_000)
        }
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
    var pid: Int32 { process.processIdentifier }
    var isRunning: Bool { process.isRunning }

    func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the process to exit by itself; its exit status, or nil after `timeout`.
    func waitForExit(timeout: TimeInterval = 30) async -> Int32? {
        await withCheckedContinuation { (cont: CheckedContinuation<Int32?, Never>) in
            let once = Once()
            DispatchQueue.global().async {
                self.process.waitUntilExit()
                if once.claim() { cont.resume(returning: self.process.terminationStatus) }
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                if once.claim() { cont.resume(returning: nil) }
            }
        }
    }

    /// Sends `sig` and waits for the process to exit; returns its exit status.
    @discardableResult
    func stop(_ sig: Int32 = SIGTERM, timeout: TimeInterval = 30) async -> Int32 {
        if process.isRunning { signal(sig) }
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(nanoseconds: 10_000_000)
        }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        return process.terminationStatus
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
