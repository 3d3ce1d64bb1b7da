import Foundation
import NIOCore
import NIOPosix
import Shared

/// The RPC port: binds `[server] listen` and gives each connection its
/// pipeline (deadlines, frames, authentication, then `MasterConnection`).
enum RPCServer {
    /// Returns the bound server channel and the connections it has open.
    static func bind(_ service: MasterService, on group: EventLoopGroup) async throws -> (Channel, OpenConnections) {
        let config = service.config
        let budget = ConnectionBudget(maxUnauthenticated: config.server.maxUnauthenticated, maxAuthenticated: config.server.maxConnections)
        let connections = OpenConnections()
        FileLimit.raiseAndCheck(config: config, logger: service.logger)
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
                connections.add(channel)
                return channel.eventLoop.makeCompletedFuture {
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
        do {
            return (try await bootstrap.bind(host: listen.host, port: listen.port).get(), connections)
        } catch {
            throw ConfigError("cannot listen on \(listen): \(error)")
        }
    }
}
