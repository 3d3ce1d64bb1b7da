import Foundation

/// A token file the master makes for itself when the config names none.
enum TokenFile {
    /// Writes 32 random bytes as hex to `file`, readable by its owner only.
    /// Fails rather than replace a file that appeared meanwhile (another
    /// master starting beside the same config).
    static func create(_ file: String, context: String) throws {
        let token = SecureRandom.bytes(32).map { String(format: "%02x", $0) }.joined() + "\n"
        let fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == EEXIST { return }
            throw ConfigError("\(context): cannot create the token file: \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        let bytes = Array(token.utf8)
        let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == bytes.count, fsync(fd) == 0 else {
            throw ConfigError("\(context): cannot write the token file: \(String(cString: strerror(errno)))")
        }
    }
}
