import Foundation
import Logging
import ServiceLifecycle
import UnixSignals

/// The first SIGTERM or SIGINT starts a graceful shutdown (the group's own
/// `gracefulShutdownSignals`); one more while it runs ends the process at
/// once with status 1, for an operator who will not wait for a slave's
/// shutdown grace or a master's last commits. The library escalates only to
/// task cancellation, which would wait on the same grace.
///
/// List it last in the group: the group tells its services in reverse order,
/// so this one hears of the shutdown first, whatever began it (a signal, or
/// the ext-prover's stdin closing), and returns at once, leaving its listener.
public struct SecondSignalExit: Service, CustomStringConvertible {
    public var description: String { "second-signal exit" }
    let logger: Logger

    public init(logger: Logger) { self.logger = logger }

    public func run() async {
        do { try await gracefulShutdown() } catch { return }
        logger.info("shutting down (a second SIGTERM or SIGINT exits at once)")
        // Trapped only now: the signal that began the shutdown is not seen here.
        let signals = await UnixSignalsSequence(trapping: .sigterm, .sigint)
        let logger = self.logger
        Task.detached {
            for await signal in signals {
                logger.critical("\(signal) during shutdown: exiting at once, status 1")
                exit(1)
            }
        }
    }
}
