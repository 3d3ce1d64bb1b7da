import Foundation
import Shared

/// Plays damocles-manager starting its ext-prover: `wdpost master daemon -c
/// FILE` with the whole environment, stdin and stdout pipes, stderr to a log
/// file; every stdout byte is kept, so a test can check that nothing but
/// protocol lines ever appeared there.
final class DamoclesManager: @unchecked Sendable {
    let process = Process()
    let logURL: URL
    private let stdin = Pipe()
    private let stdout = Pipe()
    private let lock = NSLock()
    private var bytes: [UInt8] = []
    private var waiters: [(UInt64, CheckedContinuation<[String: Any]?, Never>)] = []

    init(binary: URL, config: URL, logURL: URL) throws {
        self.logURL = logURL
        FileManager.default.createFile(atPath: logURL.path, contents: nil)
        process.executableURL = binary
        process.arguments = ["master", "daemon", "-c", config.path]
        process.environment = ProcessInfo.processInfo.environment
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: logURL)
        stdout.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            if data.isEmpty { handle.readabilityHandler = nil; return }
            self?.append(Array(data))
        }
        try process.run()
    }

    var log: String { (try? String(contentsOf: logURL, encoding: .utf8)) ?? "" }
    /// Everything the master wrote to stdout so far.
    var stdoutBytes: [UInt8] { lock.withLock { bytes } }

    private func append(_ data: [UInt8]) {
        var ready: [(CheckedContinuation<[String: Any]?, Never>, [String: Any])] = []
        lock.withLock {
            bytes += data
            let answers = Self.answers(in: bytes)
            waiters.removeAll { id, cont in
                guard let answer = answers.first(where: { ($0["id"] as? NSNumber)?.uint64Value == id }) else { return false }
                ready.append((cont, answer))
                return true
            }
        }
        ready.forEach { $0.0.resume(returning: $0.1) }
    }

    /// The answer objects among the complete lines after the ready line.
    static func answers(in bytes: [UInt8]) -> [[String: Any]] {
        let lines = bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).dropLast().dropFirst()
        return lines.compactMap { (try? JSONSerialization.jsonObject(with: Data($0))) as? [String: Any] }
    }

    /// Requires `expected` as the very first stdout bytes within `timeout`,
    /// as damocles-manager does (ReadyTimeoutSecs, 5 s by default).
    func requireReady(_ expected: String = "window_post processor ready\n", timeout: TimeInterval = 5) async throws {
        let want = Array(expected.utf8)
        let deadline = Date().addingTimeInterval(timeout)
        while stdoutBytes.count < want.count {
            guard Date() < deadline, process.isRunning else {
                throw TestFailure("no ready line within \(timeout)s; stdout so far: \(String(decoding: stdoutBytes, as: UTF8.self).debugDescription)\nlog:\n\(log.suffix(3000))")
            }
            try await Task.sleep(nanoseconds: 10_000_000)
        }
        let first = Array(stdoutBytes.prefix(want.count))
        guard first == want else {
            throw TestFailure("the first stdout bytes are \(String(decoding: first, as: UTF8.self).debugDescription), not \(expected.debugDescription)")
        }
    }

    func send(id: UInt64, task: Data) {
        send(line: Data("{\"id\":\(id),\"task\":".utf8) + task + Data("}".utf8))
    }

    func send(line: Data) {
        stdin.fileHandleForWriting.write(line + Data("\n".utf8))
    }

    /// The answer with this id, or nil after `timeout`.
    func answer(_ id: UInt64, timeout: TimeInterval = 60) async -> [String: Any]? {
        await withCheckedContinuation { (cont: CheckedContinuation<[String: Any]?, Never>) in
            let found: [String: Any]? = lock.withLock {
                if let answer = Self.answers(in: bytes).first(where: { ($0["id"] as? NSNumber)?.uint64Value == id }) { return answer }
                waiters.append((id, cont))
                return nil
            }
            if let found { return cont.resume(returning: found) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout) { [self] in
                let mine = lock.withLock { () -> Bool in
                    guard let i = waiters.firstIndex(where: { $0.0 == id }) else { return false }
                    waiters.remove(at: i)
                    return true
                }
                if mine { cont.resume(returning: nil) }
            }
        }
    }

    /// The manager is gone: its end of our stdin closes.
    func closeStdin() { try? stdin.fileHandleForWriting.close() }

    func waitForExit(timeout: TimeInterval) async -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else { return nil }
            try? await Task.sleep(nanoseconds: 20_000_000)
        }
        return process.terminationStatus
    }

    func kill() {
        if process.isRunning { Glibc.kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }
}
