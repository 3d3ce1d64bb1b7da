import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Shared

/// `wdpost master daemon`: opens the store, binds the RPC (and metrics) port,
/// starts the sweeps and producers, and hands them back as the services of
/// one `ServiceGroup`, which stops them in the reverse order on SIGTERM/SIGINT:
/// producers, metrics, sweeps, then the RPC socket and every connection, and
/// the store last, once nothing can reach it any more.
public enum MasterDaemon {
    public struct Started: Sendable {
        /// What requests run on (the damocles front end uses it).
        public let service: MasterService
        /// The RPC address actually bound (port 0 picks a free one).
        public let bound: HostPort
        /// In start order: the store, the RPC server, sweeps, metrics, DBC, ComputeChain.
        public let services: [DaemonPart]
    }

    /// Sets everything up; a failure undoes what was done and says why in one line.
    /// `announceOnStdout`: whether the metrics address is also printed on stdout
    /// (off when stdout carries the damocles protocol).
    public static func start(config: MasterConfig, logger: Logger, announceOnStdout: Bool) async throws -> Started {
        let backend = try StoreBackend.open(config.db)
        logger.info("store ready: \(backend.target)")
        let executor = StoreExecutor(pool: backend.pool, target: backend.target, logger: logger,
                                     initial: backend.first, open: backend.open)
        executor.start()
        let store = DaemonPart("store") {
            executor.shutdown()
            logger.info("store closed")
        }
        var parts = [store]
        do {
            let service = MasterService(config: config, executor: executor, logger: logger)
            if config.computechain.enabled {
                service.computechain = try ComputeChainDriver(config: config, executor: executor, logger: logger, wake: service.wake)
            }
            let group = MultiThreadedEventLoopGroup.singleton
            let (channel, connections) = try await RPCServer.bind(service, on: group)
            parts.append(DaemonPart("rpc server") {
                try? await channel.close()
                await connections.closeAll()
                logger.info("stopped accepting; connections closed")
            })
            let sweeper = try MaintenanceScheduler.forMaster(service, on: group.next())
            sweeper.start()
            parts.append(DaemonPart("maintenance") {
                sweeper.stop()
                await sweeper.stopped()
            })
            let bound = HostPort(host: config.server.listen.host, port: channel.localAddress?.port ?? config.server.listen.port)
            logger.info("listening on \(bound)")
            if let metrics = config.metricsListen {
                let http: Channel
                do { http = try await HTTPServer.start(on: group, address: metrics, service: service) } catch {
                    throw ConfigError("cannot listen on [metrics] listen = \(metrics): \(error)")
                }
                parts.append(DaemonPart("metrics server") { try? await http.close() })
                let port = http.localAddress?.port ?? metrics.port
                // Announced on stdout like the RPC port, for scripts and tests that pick port 0.
                if announceOnStdout { print("wdpost metrics and status page on http://\(metrics.host):\(port)/") }
                logger.info("metrics and status page on http://\(metrics.host):\(port)/")
            }
            let dbc = service.dbc
            dbc.start(on: group.next())
            parts.append(DaemonPart("dbc") { dbc.stop() })
            if let computechain = service.computechain {
                computechain.start()
                parts.append(DaemonPart("computechain") { computechain.stop() })
            }
            return Started(service: service, bound: bound, services: parts)
        } catch {
            for part in parts.reversed() { await part.stopNow() }
            throw error
        }
    }
}
