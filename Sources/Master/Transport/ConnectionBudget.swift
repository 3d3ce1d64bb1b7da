import Foundation

/// Open RPC connections across the server, in two budgets: those still in
/// their handshake (`server.max_unauthenticated`) and those authenticated
/// (`server.max_connections`). A peer without a token can fill only the first,
/// so it can delay slaves' handshakes but never take their places.
final class ConnectionBudget: @unchecked Sendable {
    private let lock = NSLock()
    private var unauthenticated = 0
    private var authenticated = 0
    let maxUnauthenticated: Int
    let maxAuthenticated: Int

    init(maxUnauthenticated: Int, maxAuthenticated: Int) {
        self.maxUnauthenticated = maxUnauthenticated
        self.maxAuthenticated = maxAuthenticated
    }

    /// A new connection, before its handshake.
    func tryOpen() -> Bool {
        lock.withLock {
            guard unauthenticated < maxUnauthenticated else { return false }
            unauthenticated += 1
            return true
        }
    }

    /// Its handshake succeeded: it moves to the authenticated budget, if there is room.
    func tryPromote() -> Bool {
        lock.withLock {
            guard authenticated < maxAuthenticated else { return false }
            unauthenticated -= 1
            authenticated += 1
            return true
        }
    }

    func close(authenticated wasAuthenticated: Bool) {
        lock.withLock {
            if wasAuthenticated { authenticated -= 1 } else { unauthenticated -= 1 }
        }
    }
}
