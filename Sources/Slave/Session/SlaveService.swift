import Logging
import ServiceLifecycle
import Shared

/// The slave as a service of its `ServiceGroup`: its runners and its
/// session with the master (`SlaveDaemon`), from outside, through that
/// actor's public face. On the group's shutdown (SIGTERM/SIGINT) it stops
/// pulling, lets running jobs finish within the shutdown grace, hands the
/// rest back to the master and reports the results (`SlaveDaemon.stop()`);
/// a master that refuses this slave for good ends it with that error.
public struct SlaveService: Service, CustomStringConvertible {
    public var description: String { "slave \(name)" }
    let name: String
    let daemon: SlaveDaemon
    let runners: [String: Runner]
    let logger: Logger

    public init(config: SlaveConfig, runners: [String: Runner], logger: Logger) {
        name = config.name
        daemon = SlaveDaemon(config: config, logger: logger, runners: runners)
        self.runners = runners
        self.logger = logger
    }

    public func run() async throws {
        let daemon = self.daemon, runners = self.runners
        Runners.observe(runners) { Task { await daemon.runnersChanged() } }
        Runners.start(runners)
        let refused: Error? = await withTaskGroup(of: Ended.self) { group in
            group.addTask {
                do { try await daemon.run() } catch { return .refused(error) }
                return .session
            }
            group.addTask {
                // Cancelled: the session was refused; there is nothing to hand back.
                do { try await gracefulShutdown() } catch { return .stopped }
                Runners.windDown(runners)
                await daemon.stop()
                return .stopped
            }
            while let ended = await group.next() {
                switch ended {
                case .refused(let error):
                    group.cancelAll()
                    return error
                case .stopped:
                    // `stop()` has returned: cut a reconnect wait in `run()` short.
                    group.cancelAll()
                case .session:
                    // `run()` returns by itself only once `stop()` has begun: let it end, uncancelled.
                    continue
                }
            }
            return nil
        }
        await Runners.stop(runners)
        // Only once both `run()` and `stop()` have returned (see `close()`).
        await daemon.close()
        if let refused { throw refused }
    }

    private enum Ended: Sendable {
        case session, stopped
        case refused(Error)
    }
}
