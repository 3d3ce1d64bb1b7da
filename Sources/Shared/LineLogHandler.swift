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
/// lost when a process is killed. The lines are byte for byte what
/// `StreamLogHandler` writes: `TIME LEVEL LABEL: k=v … [SOURCE] MESSAGE`.
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
        var pretty = prettyMetadata
        let provided = metadataProvider?.get() ?? [:]
        if !provided.isEmpty || !(event.metadata ?? [:]).isEmpty || event.error != nil {
            var merged = metadata
            merged.merge(provided) { _, new in new }
            merged.merge(event.metadata ?? [:]) { _, new in new }
            if let error = event.error {
                merged["error.message"] = "\(error)"
                merged["error.type"] = "\(String(reflecting: type(of: error)))"
            }
            pretty = Self.prettify(merged)
        }
        var line = Timestamp.shared.now()
        line += " \(event.level)"
        if !label.isEmpty { line += " " }
        line += label
        line += ":"
        if let pretty { line += " " + pretty }
        line += " [\(event.source)] \(event.message)\n"
        Self.write(line, to: fd)
    }

    static func prettify(_ metadata: Logger.Metadata) -> String? {
        metadata.isEmpty ? nil : metadata.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: " ")
    }

    /// The whole line in one `write`, retried only for what is left.
    static func write(_ line: String, to fd: Int32) {
        var line = line
        line.withUTF8 { bytes in
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
