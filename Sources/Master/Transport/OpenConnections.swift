import NIOConcurrencyHelpers
import NIOCore

/// The RPC connections open now, so that a stopping master closes them
/// before its store: a request that comes in during shutdown then meets a
/// closed connection (which the client retries elsewhere or later), never a
/// store that has gone.
final class OpenConnections: Sendable {
    private let channels = NIOLockedValueBox<[ObjectIdentifier: Channel]>([:])

    func add(_ channel: Channel) {
        let key = ObjectIdentifier(channel)
        channels.withLockedValue { $0[key] = channel }
        channel.closeFuture.whenComplete { [channels] _ in _ = channels.withLockedValue { $0.removeValue(forKey: key) } }
    }

    /// Closes every connection and returns once they are all closed; call
    /// it after closing the listening socket. Looks again after each round,
    /// for a connection accepted just before that socket closed.
    func closeAll() async {
        while case let open = channels.withLockedValue({ Array($0.values) }), !open.isEmpty {
            for channel in open {
                channel.close(promise: nil)
                // Callbacks run in order: the removal registered in `add` has run when this resumes.
                try? await channel.closeFuture.get()
            }
        }
    }
}
