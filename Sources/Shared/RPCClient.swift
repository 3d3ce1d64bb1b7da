import Foundation
import NIOCore
import NIOPosix

/// The client side of the RPC, used by slaves and by admin commands: connects,
/// proves its token with the HMAC handshake, then sends requests and matches
/// answers by request id (several may be in flight on one connection).
public final class RPCClient: @unchecked Sendable {
    public let channel: Channel
    private let handler: ClientHandler
    private let lock = NSLock()
    private var nextID: UInt32 = 1

    public struct Identity: Sendable {
        public var role: Role
        public var name: String
        public var token: [UInt8]
        public var capabilities: Capabilities?
        public init(role: Role, name: String, token: [UInt8], capabilities: Capabilities? = nil) {
            self.role = role; self.name = name; self.token = token; self.capabilities = capabilities
        }
    }

    /// Raised when the master refuses the handshake. `fatal`: retrying will
    /// not help (wrong token, other protocol version); otherwise the master
    /// was busy (connection limit) and a later attempt may succeed.
    public struct Refused: Error, CustomStringConvertible {
        public let message: String
        public var fatal = true
        public var description: String { message }
    }

    init(channel: Channel, handler: ClientHandler) {
        self.channel = channel
        self.handler = handler
    }

    public static func connect(to address: HostPort, as identity: Identity, group: EventLoopGroup,
                               maxFrameBytes: Int = Frame.defaultMaxBytes, timeout: TimeAmount = .seconds(10)) async throws -> RPCClient {
        // The handshake promise exists before the connection does, so a refused
        // or timed-out connect can fail it (a promise must never be dropped).
        let loop = group.next()
        let handler = ClientHandler(identity: identity, handshakeDone: loop.makePromise())
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameDecoder(maxBytes: maxFrameBytes)),
                        MessageToByteHandler(FrameEncoder()),
                        handler,
                    ])
                }
            }
            .connect(host: address.host, port: address.port).get()
        } catch {
            handler.handshakeDone.fail(error)
            throw error
        }
        do {
            try await handler.handshakeDone.futureResult.get()
        } catch {
            try? await channel.close()
            throw error
        }
        return RPCClient(channel: channel, handler: handler)
    }

    public func call<Req: Encodable, Resp: Decodable>(_ type: MessageType, _ request: Req, as: Resp.Type = Resp.self) async throws -> Resp {
        let id = lock.withLock { () -> UInt32 in
            defer { nextID &+= 1 }
            return nextID
        }
        let frame = try Codec.frame(type, id, request)
        let promise = channel.eventLoop.makePromise(of: Frame.self)
        handler.register(id, promise, on: channel)
        channel.writeAndFlush(frame).whenFailure { promise.fail($0) }
        let answer = try await promise.futureResult.get()
        if answer.type == .error {
            throw try Codec.decode(ErrorMessage.self, from: answer.payload)
        }
        return try Codec.decode(Resp.self, from: answer.payload)
    }

    public var isActive: Bool { channel.isActive }
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    public func close() async {
        try? await channel.close()
    }
}

public struct ConnectionLost: Error, CustomStringConvertible {
    public var description: String { "connection to the master lost" }
}

final class ClientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    let identity: RPCClient.Identity
    let handshakeDone: EventLoopPromise<Void>
    private var authenticated = false
    private var pending: [UInt32: EventLoopPromise<Frame>] = [:]

    init(identity: RPCClient.Identity, handshakeDone: EventLoopPromise<Void>) {
        self.identity = identity
        self.handshakeDone = handshakeDone
    }

    func register(_ id: UInt32, _ promise: EventLoopPromise<Frame>, on channel: Channel) {
        channel.eventLoop.execute {
            guard channel.isActive else { return promise.fail(ConnectionLost()) }
            self.pending[id] = promise
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if !authenticated {
            switch frame.type {
            case .hello:
                guard let hello = try? Codec.decode(Hello.self, from: frame.payload) else {
                    return fail(context, RPCClient.Refused(message: "the master sent a malformed hello"))
                }
                let auth = Auth(version: protocolVersion, role: identity.role, name: identity.name, capabilities: identity.capabilities,
                                mac: Auth.mac(token: identity.token, nonce: hello.nonce, name: identity.name))
                context.writeAndFlush(wrapOutboundOut(try! Codec.frame(.auth, 0, auth)), promise: nil)
            case .welcome:
                authenticated = true
                handshakeDone.succeed(())
            case .error:
                let error = (try? Codec.decode(ErrorMessage.self, from: frame.payload)) ?? ErrorMessage("refused")
                fail(context, RPCClient.Refused(message: "master refused the connection: \(error.message)", fatal: error.fatal ?? false))
            default:
                fail(context, RPCClient.Refused(message: "unexpected \(frame.type) during the handshake"))
            }
            return
        }
        if frame.requestID == 0 && frame.type == .error {
            // The master is closing this connection; the close will fail what is pending.
            return
        }
        pending.removeValue(forKey: frame.requestID)?.succeed(frame)
    }

    private func fail(_ context: ChannelHandlerContext, _ error: Error) {
        handshakeDone.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeDone.fail(ConnectionLost())
        let waiting = pending
        pending.removeAll()
        waiting.values.forEach { $0.fail(ConnectionLost()) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }
}
