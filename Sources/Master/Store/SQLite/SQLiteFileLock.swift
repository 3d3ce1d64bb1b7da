import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Shared

/// One master per SQLite file. Two masters on one file would each sweep and
/// claim as if alone, and nothing would keep them apart but luck, so a master
/// holds an exclusive `flock` on `<database>.lock` for as long as its store
/// connection lives; the kernel drops it when the process ends, however it
/// ends, so a crashed master never leaves a stale lock behind. A separate file
/// rather than the database itself: closing another descriptor of the
/// database would drop SQLite's own POSIX locks on it.
final class SQLiteFileLock {
    /// The lock file, symlinks of the database resolved (two names of one
    /// database share one lock).
    let path: String
    private let fd: Int32

    init(database: String) throws {
        let resolved = URL(fileURLWithPath: database).resolvingSymlinksInPath().path
        path = resolved + ".lock"
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw ConfigError("cannot open \(path), the lock that keeps a second master off \(database): \(String(cString: strerror(errno)))")
        }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let error = errno
            let holder = Self.holder(fd)
            close(fd)
            guard error == EWOULDBLOCK else {
                throw ConfigError("cannot lock \(path) (for \(database)): \(String(cString: strerror(error)))")
            }
            throw ConfigError("""
                SQLite database \(database) is in use by another master (\(holder.map { "pid \($0)" } ?? "pid unknown"), \
                holding \(path)): one SQLite file serves one master; to share jobs between masters, use MariaDB
                """)
        }
        // Who holds it, for the error a second master prints.
        let pid = "\(getpid())\n"
        _ = ftruncate(fd, 0)
        _ = pid.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit { close(fd) }

    /// The pid the holder wrote into the lock file, if it is there yet.
    private static func holder(_ fd: Int32) -> Int32? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int32(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
