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
    var executor: StoreExecutor?
    var sweeper: Sweeper?

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
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, System.coreCount))
        self.group = group
        let counter = ConnectionCounter()
        let maxFrame = config.server.maxFrameBytes
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 1024)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameDecoder(maxBytes: maxFrame)),
                        MessageToByteHandler(FrameEncoder()),
                        MasterConnection(service: service, connections: counter),
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
        let sweeper = Sweeper(service: service)
        sweeper.start(on: group.next())
        self.sweeper = sweeper
        let bound = HostPort(host: listen.host, port: channel.localAddress?.port ?? listen.port)
        logger.info("listening on \(bound)")
        return bound
    }

    /// Stops accepting, lets queued store work commit, and closes.
    public func stop() async {
        sweeper?.stop()
        try? await channel?.close()
        executor?.shutdown()
        try? await group?.shutdownGracefully()
        // A start that failed has already said why in one line; add nothing.
        if channel != nil { logger.info("master stopped") }
    }
}
