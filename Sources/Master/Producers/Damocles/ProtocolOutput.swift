import Foundation

/// The protocol's stdout: whole lines, one `write(2)` loop each under a lock,
/// so concurrent answers never interleave. Nothing else in ext-prover mode
/// writes to stdout.
final class ProtocolOutput: @unchecked Sendable {
    private let fd: Int32
    private let lock = NSLock()
    private var broken = false

    init(fd: Int32 = 1) { self.fd = fd }

    /// Writes `line` (ending in "\n"); false once the reader has gone (EPIPE).
    @discardableResult
    func send(_ line: [UInt8]) -> Bool {
        lock.withLock {
            guard !broken else { return false }
            var offset = 0
            while offset < line.count {
                let n = line.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n > 0 { offset += n; continue }
                if n < 0 && errno == EINTR { continue }
                broken = true
                return false
            }
            return true
        }
    }
}

/// Reads stdin line by line on a thread of its own (a blocking read must not
/// hold an event loop or a Swift concurrency thread), handing each line on
/// and calling `onEOF` once when the parent closes its end.
final class ProtocolInput: @unchecked Sendable {
    private let fd: Int32
    /// A line longer than this is dropped whole (and logged by `onLine`'s caller).
    let maxLine: Int

    init(fd: Int32 = 0, maxLine: Int) {
        self.fd = fd
        self.maxLine = maxLine
    }

    /// `onLine` gets each line without its "\n", or nil for a line over `maxLine`.
    func start(onLine: @escaping ([UInt8]?) -> Void, onEOF: @escaping () -> Void) {
        let thread = Thread { [fd, maxLine] in
            var pending: [UInt8] = []
            var dropping = false
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else { break }
                var start = 0
                for i in 0..<n where buffer[i] == UInt8(ascii: "\n") {
                    if !dropping {
                        pending += buffer[start..<i]
                        onLine(pending.count > maxLine ? nil : pending)
                    }
                    pending.removeAll(keepingCapacity: true)
                    dropping = false
                    start = i + 1
                }
                if !dropping { pending += buffer[start..<n] }
                if pending.count > maxLine && !dropping {
                    onLine(nil)
                    pending.removeAll()
                    dropping = true
                }
            }
            // A last line without its "\n" still counts: the parent closed after writing it.
            if !dropping && !pending.isEmpty { onLine(pending) }
            onEOF()
        }
        thread.name = "wdpost-ext-prover-stdin"
        thread.start()
    }
}
