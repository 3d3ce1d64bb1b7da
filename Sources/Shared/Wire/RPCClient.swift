import Foundation
import NIOCore
import NIOPosix

/// The client side of the RPC, used by slaves and by admin commands: connects,
/// runs the mutual handshake (it proves its token, and the master must prove
/// the same token back), then sends requests and matches answers by request
/// id (several may be in flight on one connection); every frame after the
/// handshake is tagged and checked by `FrameAuthenticator`.
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

    /// The master's `server.max_frame_bytes`, as it said at the handshake:
    /// no request larger than this is sent.
    public var maxFrameBytes: Int { handler.masterMaxFrameBytes }

    public static func connect(to address: HostPort, as identity: Identity, group: EventLoopGroup,
                               maxFrameBytes: Int = Frame.defaultMaxBytes, timeout: TimeAmount = .seconds(10)) async throws -> RPCClient {
        // The handshake promise exists before the connection does, so a refused
        // or timed-out connect can fail it (a promise must never be dropped).
        let loop = group.next()
        let limit = FrameLimit(Frame.preAuthMaxBytes)
        let authenticator = FrameAuthenticator()
        let handler = ClientHandler(identity: identity, handshakeDone: loop.makePromise(), authenticator: authenticator,
                                    frameLimit: limit, ownMaxFrameBytes: maxFrameBytes)
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(ChannelOptions.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameDecoder(limit: limit)),
                        MessageToByteHandler(FrameEncoder()),
                        authenticator,
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
        let size = Frame.headerBytes + frame.payload.readableBytes + FrameAuthenticator.tagBytes
        guard size <= maxFrameBytes else {
            throw ErrorMessage("\(type) request of \(size) bytes exceeds the master's frame limit of \(maxFrameBytes) bytes (server.max_frame_bytes): send less at once")
        }
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
    /// What the master said as it closed the connection, when it said anything.
    public var reason: String?
    public init(reason: String? = nil) { self.reason = reason }
    public var description: String {
        reason.map { "the master closed the connection: \($0)" } ?? "connection to the master lost"
    }
}

final class ClientHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    let identity: RPCClient.Identity
    let handshakeDone: EventLoopPromise<Void>
    let authenticator: FrameAuthenticator
    let frameLimit: FrameLimit
    let ownMaxFrameBytes: Int
    private(set) var masterMaxFrameBytes = Frame.defaultMaxBytes
    private var transcript: HandshakeTranscript?
    private var authenticated = false
    private var pending: [UInt32: EventLoopPromise<Frame>] = [:]
    /// The master's last words (an error frame with request id 0), given to
    /// every request the close then fails.
    private var closingReason: String?

    init(identity: RPCClient.Identity, handshakeDone: EventLoopPromise<Void>, authenticator: FrameAuthenticator,
         frameLimit: FrameLimit, ownMaxFrameBytes: Int) {
        self.identity = identity
        self.handshakeDone = handshakeDone
        self.authenticator = authenticator
        self.frameLimit = frameLimit
        self.ownMaxFrameBytes = ownMaxFrameBytes
    }

    func register(_ id: UInt32, _ promise: EventLoopPromise<Frame>, on channel: Channel) {
        channel.eventLoop.execute {
            guard channel.isActive else { return promise.fail(ConnectionLost(reason: self.closingReason)) }
            self.pending[id] = promise
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if !authenticated { return handshake(context, frame) }
        if frame.requestID == 0 && frame.type == .error {
            // The master is closing this connection; the close fails what is pending, with this reason.
            closingReason = (try? Codec.decode(ErrorMessage.self, from: frame.payload))?.message ?? "closed without a reason"
            return
        }
        pending.removeValue(forKey: frame.requestID)?.succeed(frame)
    }

    private func handshake(_ context: ChannelHandlerContext, _ frame: Frame) {
        switch frame.type {
        case .hello:
            guard transcript == nil, let hello = try? Codec.decode(Hello.self, from: frame.payload) else {
                return fail(context, RPCClient.Refused(message: "the master sent a malformed hello"))
            }
            guard hello.version == protocolVersion else {
                return fail(context, RPCClient.Refused(message: "protocol version mismatch: the master speaks \(hello.version), this wdpost speaks \(protocolVersion); run the same wdpost release on both"))
            }
            let (auth, transcript) = Auth.answering(hello, role: identity.role, name: identity.name,
                                                    capabilities: identity.capabilities, token: identity.token)
            self.transcript = transcript
            context.writeAndFlush(wrapOutboundOut(try! Codec.frame(.auth, 0, auth)), promise: nil)
        case .welcome:
            guard let transcript, let welcome = try? Codec.decode(Welcome.self, from: frame.payload) else {
                return fail(context, RPCClient.Refused(message: "the master sent a malformed welcome"))
            }
            guard Digest.constantTimeEqual(transcript.masterProof(token: identity.token, master: welcome.master), welcome.mac) else {
                // Not fatal: a stranger holding the port while our master restarts
                // goes away, and the real master is then reached by retrying.
                return fail(context, RPCClient.Refused(
                    message: "the peer did not prove that it holds the \(identity.role.rawValue) token: it is not our master (someone else on its address?); nothing was taken from it",
                    fatal: false))
            }
            let keys = transcript.sessionKeys(token: identity.token)
            authenticator.activate(send: keys.clientToMaster, receive: keys.masterToClient)
            masterMaxFrameBytes = min(max(welcome.maxFrameBytes, 1024), Frame.maxAllowedBytes)
            frameLimit.maxBytes = max(ownMaxFrameBytes, masterMaxFrameBytes)
            authenticated = true
            handshakeDone.succeed(())
        case .error:
            let error = (try? Codec.decode(ErrorMessage.self, from: frame.payload)) ?? ErrorMessage("refused")
            fail(context, RPCClient.Refused(message: "master refused the connection: \(error.message)", fatal: error.fatal ?? false))
        default:
            fail(context, RPCClient.Refused(message: "unexpected \(frame.type) during the handshake"))
        }
    }

    private func fail(_ context: ChannelHandlerContext, _ error: Error) {
        handshakeDone.fail(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        handshakeDone.fail(ConnectionLost(reason: closingReason))
        let waiting = pending
        pending.removeAll()
        waiting.values.forEach { $0.fail(ConnectionLost(reason: closingReason)) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        // A frame that fails its tag, or one over the limit: nothing more from this master is believed.
        if closingReason == nil { closingReason = "\(error)" }
        context.close(promise: nil)
    }
}
