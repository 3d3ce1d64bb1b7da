import Foundation
import Logging
import NIOCore
import Shared

/// The process's file descriptor limit against what the config lets in.
enum FileLimit {
    /// Raises the soft limit to the hard one (as systemd's default 1024 soft
    /// limit is far below `max_connections`' default), then warns when the
    /// connection budgets, the store's pool and a margin still do not fit.
    static func raiseAndCheck(config: MasterConfig, logger: Logger) {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        let needed = config.server.maxConnections + config.server.maxUnauthenticated + config.db.maxConnections + 64
        if limit.rlim_cur != rlim_t.max, UInt64(needed) > UInt64(limit.rlim_cur) {
            logger.warning("the file descriptor limit (\(limit.rlim_cur)) is below what server.max_connections (\(config.server.maxConnections)) + server.max_unauthenticated (\(config.server.maxUnauthenticated)) + db.max_connections (\(config.db.maxConnections)) + 64 need (\(needed)): raise LimitNOFILE (systemd) or ulimit -n, or lower max_connections")
        }
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var lastWarning: UInt64 = 0

    /// Accept failed (descriptors used up, most often): warned at most once a minute.
    static func acceptFailed(_ error: IOError, logger: Logger) {
        let now = DispatchTime.now().uptimeNanoseconds
        let due = lock.withLock { () -> Bool in
            guard lastWarning == 0 || now - lastWarning > 60_000_000_000 else { return false }
            lastWarning = now
            return true
        }
        if due { logger.warning("accepting connections failed (\(error)); pausing accepts for 250 ms at a time until it works again") }
    }
}
