import Foundation
import Logging

/// swift-log's `StreamLogHandler` line format, written at a lower cost.
///
/// The master and each slave log two lines per job, and with
/// `StreamLogHandler` those lines were about a tenth of both processes' CPU:
/// every line formats its timestamp with `localtime` (which looks at the time
/// zone again, a `stat` of /etc/localtime each time) and goes out through
/// stdio's lock, `fwrite` and `fflush`. Here the timestamp is formatted once a
/// second and each line is one `write(2)`, still unbuffered, so nothing is
/// lost when a process is killed (`coalescing` groups the lines of one batch
/// into one write, made before the batch's answer goes out). The lines are
/// byte for byte what `StreamLogHandler` writes:
/// `TIME LEVEL LABEL: k=v … [SOURCE] MESSAGE`, except that control
/// characters in values and messages are escaped and very long ones cut
/// (`LogText`): one line per event, whatever a peer sent.
public struct LineLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    public var metadata: Logger.Metadata = [:] {
        didSet { prettyMetadata = Self.prettify(metadata) }
    }
    private var prettyMetadata: String?
    private let label: String
    private let fd: Int32

    /// `fd` is where lines go (standard error by default).
    public init(label: String, fd: Int32 = 2, metadataProvider: Logger.MetadataProvider? = LoggingSystem.metadataProvider) {
        self.label = label
        self.fd = fd
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line = Timestamp.shared.now()
        line.reserveCapacity(line.utf8.count + 160)
        line += " \(event.level)"
        if !label.isEmpty { line += " " }
        line += label
        line += ":"
        let provided = metadataProvider?.get() ?? [:]
        let own = event.metadata ?? [:]
        if provided.isEmpty && own.isEmpty && event.error == nil {
            if let prettyMetadata { line += " " + prettyMetadata }
        } else if metadata.isEmpty && provided.isEmpty && event.error == nil {
            // The common case (a line's own metadata only): no merged copy.
            Self.append(own, to: &line)
        } else {
            var merged = metadata
            merged.merge(provided) { _, new in new }
            merged.merge(own) { _, new in new }
            if let error = event.error {
                merged["error.message"] = "\(error)"
                merged["error.type"] = "\(String(reflecting: type(of: error)))"
            }
            Self.append(merged, to: &line)
        }
        line += " [\(event.source)] \(LogText.escaped(event.message.description))\n"
        if let pending = PendingLines.current, pending.fd == fd {
            pending.bytes += line.utf8
        } else {
            Self.write(line, to: fd)
        }
    }

    /// ` k=v k=v…` in key order, as `StreamLogHandler` writes metadata.
    static func append(_ metadata: Logger.Metadata, to line: inout String) {
        for (key, value) in metadata.sorted(by: { $0.key < $1.key }) {
            line += " "
            line += key
            line += "="
            line += LogText.escaped(value.description)
        }
    }

    static func prettify(_ metadata: Logger.Metadata) -> String? {
        guard !metadata.isEmpty else { return nil }
        var text = ""
        append(metadata, to: &text)
        return String(text.dropFirst())
    }

    /// Runs `body`; lines that this handler writes to `fd` on this thread
    /// meanwhile go out together in one `write` when it returns, instead of one
    /// each. For loops that log a line per job of a batch: the lines are still
    /// written before the caller goes on (answers the request), at a fraction
    /// of the system calls.
    public static func coalescing<T>(fd: Int32 = 2, _ body: () throws -> T) rethrows -> T {
        if PendingLines.current != nil { return try body() }
        let pending = PendingLines(fd: fd)
        PendingLines.current = pending
        defer {
            PendingLines.current = nil
            if !pending.bytes.isEmpty { write(pending.bytes, to: fd) }
        }
        return try body()
    }

    /// The whole line in one `write`, retried only for what is left.
    static func write(_ line: String, to fd: Int32) {
        var line = line
        line.withUTF8 { write($0, to: fd) }
    }

    static func write(_ bytes: [UInt8], to fd: Int32) {
        bytes.withUnsafeBufferPointer { write($0, to: fd) }
    }

    static func write(_ bytes: UnsafeBufferPointer<UInt8>, to fd: Int32) {
        var offset = 0
        while offset < bytes.count {
            let n = Foundation.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            if n > 0 {
                offset += n
            } else if n < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }

    /// The lines a `coalescing` call on this thread holds back (thread-local).
    final class PendingLines {
        let fd: Int32
        var bytes: [UInt8] = []

        init(fd: Int32) { self.fd = fd }

        private static let key: pthread_key_t = {
            var key = pthread_key_t()
            pthread_key_create(&key, nil)
            return key
        }()

        static var current: PendingLines? {
            get { pthread_getspecific(key).map { Unmanaged<PendingLines>.fromOpaque($0).takeUnretainedValue() } }
            set {
                if let old = pthread_getspecific(key) { Unmanaged<PendingLines>.fromOpaque(old).release() }
                pthread_setspecific(key, newValue.map { Unmanaged.passRetained($0).toOpaque() })
            }
        }
    }

    /// `%Y-%m-%dT%H:%M:%S%z` in local time, formatted again only when the second changes.
    final class Timestamp: @unchecked Sendable {
        static let shared = Timestamp()
        private let lock = NSLock()
        private var second: time_t = -1
        private var text = ""

        init() { tzset() }

        func now() -> String {
            let t = time(nil)
            lock.lock()
            defer { lock.unlock() }
            if t != second {
                var tm = tm()
                var copy = t
                localtime_r(&copy, &tm)
                var buffer = [Int8](repeating: 0, count: 64)
                strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &tm)
                text = String(cString: buffer)
                second = t
            }
            return text
        }
    }
}
