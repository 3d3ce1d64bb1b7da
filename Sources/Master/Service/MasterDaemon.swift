import Foundation
import Logging
import NIOCore
import NIOPosix
import Shared

/// `wdpost master daemon`: store, executor, RPC server and sweeps, until SIGTERM/SIGINT.
public final class MasterDaemon: @unchecked Sendable {
    let config: MasterConfig
    let logger: Logger
    var group: MultiThreadedEventLoopGroup?
    var channel: Channel?
    var httpChannel: Channel?
    var executor: StoreExecutor?
    var sweeper: MaintenanceScheduler?
    var dbc: DBCCoordinator?
    /// What requests run on, once started (the damocles front-end uses it).
    public private(set) var service: MasterService?
    /// Whether the metrics address is also printed on stdout (off when
    /// stdout carries the damocles protocol).
    public var announceOnStdout = true
    var computechain: ComputeChainDriver?

    public init(config: MasterConfig, logger: Logger) {
        self.config = config
        self.logger = logger
    }

    /// Starts serving; returns the address actually bound (port 0 picks a free one).
    public func start() async throws -> HostPort {
        let backend = try StoreBackend.open(config.db)
        logger.info("store ready: \(backend.target)")
        let executor = StoreExecutor(pool: backend.pool, target: backend.target, logger: logger,
                                     initial: backend.first, open: backend.open)
        executor.start()
        self.executor = executor
        let service = MasterService(config: config, executor: executor, logger: logger)
        self.service = service
        if config.computechain.enabled {
            do {
                service.computechain = try ComputeChainDriver(config: config, executor: executor, logger: logger, wake: service.wake)
            } catch {
                executor.shutdown()
                throw error
            }
        }
        // The process-wide loops: with Swift concurrency running on them too
        // (see the entry point), request handlers stay on the thread that read them.
        let group = MultiThreadedEventLoopGroup.singleton
        self.group = group
        let budget = ConnectionBudget(maxUnauthenticated: config.server.maxUnauthenticated, maxAuthenticated: config.server.maxConnections)
        FileLimit.raiseAndCheck(config: config, logger: logger)
        let frameTimeout = TimeAmount.microseconds(config.server.frameTimeout)
        let idleTimeout = TimeAmount.microseconds(config.server.idleTimeout)
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            // Out of descriptors (EMFILE), accept fails at once and the socket
            // stays readable: without a pause the loop spins a core at 100%.
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(AcceptPause(pause: .milliseconds(250)) { error in
                        FileLimit.acceptFailed(error, logger: service.logger)
                    })
                }
            }
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let guardian = ConnectionGuard(frameTimeout: frameTimeout, idleTimeout: idleTimeout, logger: service.logger)
                    let limit = FrameLimit(Frame.preAuthMaxBytes)
                    let authenticator = FrameAuthenticator()
                    try channel.pipeline.syncOperations.addHandlers([
                        guardian,
                        ByteToMessageHandler(FrameDecoder(limit: limit)),
                        MessageToByteHandler(FrameEncoder()),
                        authenticator,
                        MasterConnection(service: service, connections: budget, authenticator: authenticator, frameLimit: limit),
                    ])
                }
            }
        let listen = config.server.listen
        let channel: Channel
        do {
            channel = try await bootstrap.bind(host: listen.host, port: listen.port).get()
        } catch {
            throw ConfigError("cannot listen on \(listen): \(error)")
        }
        self.channel = channel
        let sweeper = try MaintenanceScheduler.forMaster(service, on: group.next())
        sweeper.start()
        self.sweeper = sweeper
        service.dbc.start(on: group.next())
        self.dbc = service.dbc
        service.computechain?.start()
        computechain = service.computechain
        let bound = HostPort(host: listen.host, port: channel.localAddress?.port ?? listen.port)
        logger.info("listening on \(bound)")
        if let metrics = config.metricsListen {
            do {
                let http = try await HTTPServer.start(on: group, address: metrics, service: service)
                httpChannel = http
                let port = http.localAddress?.port ?? metrics.port
                // Announced on stdout like the RPC port, for scripts and tests that pick port 0.
                if announceOnStdout { print("wdpost metrics and status page on http://\(metrics.host):\(port)/") }
                logger.info("metrics and status page on http://\(metrics.host):\(port)/")
            } catch {
                throw ConfigError("cannot listen on [metrics] listen = \(metrics): \(error)")
            }
        }
        return bound
    }

    /// Stops accepting, lets queued store work commit, and closes.
    public func stop() async {
        sweeper?.stop()
        try? await httpChannel?.close()
        dbc?.stop()
        computechain?.stop()
        try? await channel?.close()
        executor?.shutdown()
        // The singleton group lives as long as the process.
        // A start that failed has already said why in one line; add nothing.
        if channel != nil { logger.info("master stopped") }
    }
}
