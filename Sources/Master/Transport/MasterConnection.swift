import Foundation
import Logging
import NIOCore
import Shared

/// One client connection on the master: handshake first, then requests.
/// A bad frame or payload closes only this connection, with an error frame.
final class MasterConnection: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = Frame
    typealias OutboundOut = Frame

    enum Peer {
        case awaitingAuth(nonce: [UInt8])
        case slave(name: String, capabilities: Capabilities)
        case admin(name: String)
    }

    let service: MasterService
    let connections: ConnectionBudget
    /// Tags frames once the handshake is done (it sits before this handler).
    let authenticator: FrameAuthenticator
    /// The frame decoder's limit: small until the peer has authenticated.
    let frameLimit: FrameLimit
    private var peer: Peer = .awaitingAuth(nonce: [])
    private var address = "?"
    private var authTimeout: Scheduled<Void>?
    private var counted = false
    private var promoted = false
    /// Set when the slave says it is leaving; read by its parked pulls off the event loop.
    private let draining = Flag()
    /// Set while the slave says its DBC machine is rented: it is handed nothing meanwhile.
    private let rented = Flag()
    var logger: Logger { service.logger }

    init(service: MasterService, connections: ConnectionBudget, authenticator: FrameAuthenticator, frameLimit: FrameLimit) {
        self.service = service
        self.connections = connections
        self.authenticator = authenticator
        self.frameLimit = frameLimit
    }

    func channelActive(context: ChannelHandlerContext) {
        address = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        guard connections.tryOpen() else {
            let limit = connections.maxUnauthenticated
            logger.warning("connection refused: server.max_unauthenticated (\(limit)) handshakes in progress", metadata: ["peer": "\(address)"])
            refuse(context, requestID: 0, "too many connections in their handshake: the master's limit (server.max_unauthenticated = \(limit)) is reached; try again")
            return
        }
        counted = true
        let nonce = SecureRandom.bytes(HandshakeTranscript.nonceBytes)
        peer = .awaitingAuth(nonce: nonce)
        send(context, try! Codec.frame(.hello, 0, Hello(version: protocolVersion, nonce: nonce)))
        // A client that never authenticates must not hold a connection slot.
        authTimeout = context.eventLoop.scheduleTask(in: .seconds(10)) { [weak self] in
            guard let self, case .awaitingAuth = self.peer else { return }
            self.refuse(context, requestID: 0, "handshake not completed within 10s")
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        authTimeout?.cancel()
        if counted { connections.close(authenticated: promoted) }
        if case let .slave(name, _) = peer {
            service.slaves.remove(ObjectIdentifier(self))
            logger.info("slave disconnected", metadata: ["worker": "\(name)", "peer": "\(address)"])
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        refuse(context, requestID: 0, "\(error)")
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if [.hello, .auth, .welcome].contains(frame.type), !isAwaitingAuth {
            return reply(context, frame.requestID, error: "\(frame.type): this connection has already authenticated")
        }
        switch peer {
        case let .awaitingAuth(nonce):
            handshake(context, frame, nonce: nonce)
        case let .slave(name, capabilities):
            guard frame.type.isSlave else {
                let why = frame.type.isAdmin ? "; a slave token cannot run admin commands" : ""
                return reply(context, frame.requestID, error: "\(frame.type) is not a slave request\(why)")
            }
            service.slaves.touch(ObjectIdentifier(self), now: nowMicros())
            dispatchSlave(context, frame, name: name, capabilities: capabilities)
        case let .admin(name):
            guard frame.type.isAdmin else {
                return reply(context, frame.requestID, error: "\(frame.type) is not an admin request")
            }
            dispatchAdmin(context, frame, name: name)
        }
    }

    private var isAwaitingAuth: Bool {
        if case .awaitingAuth = peer { return true }
        return false
    }

    private func handshake(_ context: ChannelHandlerContext, _ frame: Frame, nonce: [UInt8]) {
        guard frame.type == .auth else {
            return refuse(context, requestID: frame.requestID, "expected an auth message first, got \(frame.type)")
        }
        let auth: Auth
        switch HandshakeCheck.decode(frame.payload) {
        case let .refused(message, fatal): return refuse(context, requestID: frame.requestID, fatal: fatal, message)
        case let .auth(decoded): auth = decoded
        }
        let token = auth.role == .admin ? service.config.server.adminToken : service.config.server.slaveToken
        let transcript = HandshakeTranscript(masterNonce: nonce, clientNonce: auth.nonce ?? [], role: auth.role,
                                             name: auth.name, capabilities: auth.capabilities)
        guard Digest.constantTimeEqual(transcript.clientProof(token: token), auth.mac) else {
            return refuse(context, requestID: frame.requestID, fatal: true, "authentication failed: wrong \(auth.role.rawValue) token")
        }
        // Normalised here, where names enter, so that the registry, the
        // stores' byte-wise GROUP BY and every table agree on one spelling.
        let name: String
        do {
            name = try PeerName.validated(auth.name, what: "\(auth.role.rawValue) name")
        } catch {
            return refuse(context, requestID: frame.requestID, fatal: true, "\(error)")
        }
        guard connections.tryPromote() else {
            let limit = connections.maxAuthenticated
            return refuse(context, requestID: frame.requestID,
                          "too many connections: the master's limit (server.max_connections = \(limit)) is reached; try again")
        }
        promoted = true
        authTimeout?.cancel()
        switch auth.role {
        case .admin:
            peer = .admin(name: name)
        case .slave:
            let caps = auth.capabilities ?? Capabilities()
            peer = .slave(name: name, capabilities: caps)
            service.slaves.add(ObjectIdentifier(self), .init(name: name, address: address, capabilities: caps, lastSeen: nowMicros()))
            logger.info("slave connected", metadata: ["worker": "\(name)", "peer": "\(address)", "kinds": "\(caps.kinds.joined(separator: ","))", "concurrent": "\(caps.concurrent)"])
            // No wake-up here: the new slave's own first pull claims what is
            // waiting, and waking every parked pull per connect cost a fleet
            // of N slaves N² store operations at start-up.
        }
        let master = service.config.name
        let welcome = Welcome(master: master, mac: transcript.masterProof(token: token, master: master),
                              maxFrameBytes: service.config.server.maxFrameBytes)
        // The welcome goes out untagged; every frame after it, both ways, is tagged.
        send(context, try! Codec.frame(.welcome, frame.requestID, welcome))
        let keys = transcript.sessionKeys(token: token)
        authenticator.activate(send: keys.masterToClient, receive: keys.clientToMaster)
        frameLimit.maxBytes = service.config.server.maxFrameBytes
    }

    private func dispatchSlave(_ context: ChannelHandlerContext, _ frame: Frame, name: String, capabilities: Capabilities) {
        let service = self.service
        let rpcs = service.slaveRPCs
        let channel = context.channel
        let draining = self.draining, rented = self.rented
        // Checked before each claim: no job for a connection that is gone, leaving or rented out.
        let mayClaim = { channel.isActive && !draining.isSet && !rented.isSet }
        switch frame.type {
        case .pull:
            answer(context, frame, PullRequest.self) { request in
                let response = try await rpcs.pull(worker: name, capabilities: capabilities, request: request,
                                                      mayClaim: mayClaim)
                if !channel.isActive { await rpcs.giveBack(response.jobs, worker: name) }
                return response
            }
        case .heartbeat: answer(context, frame, HeartbeatRequest.self) { try await rpcs.heartbeat(worker: name, request: $0) }
        case .rent:
            answer(context, frame, RentNotice.self) { [key = ObjectIdentifier(self)] request in
                rented.set(request.rented)
                return try await rpcs.rent(key, worker: name, request: request)
            }
        case .finish:
            answer(context, frame, FinishRequest.self) { request in
                let response = try await rpcs.finish(worker: name, capabilities: capabilities, request: request,
                                                        mayClaim: mayClaim)
                if !channel.isActive { await rpcs.giveBack(response.jobs ?? [], worker: name) }
                return response
            }
        case .release:
            answer(context, frame, ReleaseRequest.self) { request in
                if request.final {
                    draining.set()
                    // A pull of this slave parked at the master returns (empty) now.
                    service.wake.signal()
                }
                return try await rpcs.release(worker: name, request: request)
            }
        default: reply(context, frame.requestID, error: "unexpected \(frame.type)")
        }
    }

    private func dispatchAdmin(_ context: ChannelHandlerContext, _ frame: Frame, name: String) {
        let service = self.service
        let rpcs = service.adminRPCs
        switch frame.type {
        case .submit: answer(context, frame, SubmitRequest.self) { try await rpcs.submit($0) }
        case .list: answer(context, frame, ListRequest.self) { try await rpcs.list($0) }
        case .show: answer(context, frame, IDList.self) { try await rpcs.show($0) }
        case .reset: answer(context, frame, IDList.self) { try await rpcs.reset($0) }
        case .remove: answer(context, frame, IDList.self) { try await rpcs.remove($0) }
        case .removeAll: answer(context, frame, RemoveAllRequest.self) { try await rpcs.removeAll($0) }
        case .slaves: answer(context, frame, Empty.self) { _ in try await rpcs.slaveList() }
        case .dbcVerify: answer(context, frame, DBCVerifyRequest.self) { try await service.dbc.verify($0) }
        case .dbcStatus: answer(context, frame, DBCStatusRequest.self) { try await service.dbc.status($0) }
        case .dbcSubmitHash: answer(context, frame, DBCSubmitHashRequest.self) { try await service.dbc.submitHash($0) }
        case .dbcSubmitRaw: answer(context, frame, DBCSubmitRawRequest.self) { try await service.dbc.submitRaw($0) }
        case .computechainStatus: answer(context, frame, Empty.self) { _ in try await rpcs.computechainStatus() }
        default: reply(context, frame.requestID, error: "unexpected \(frame.type)")
        }
    }

    /// Decodes the payload (closing the connection if it does not decode), runs
    /// the handler off the event loop and writes its answer or its error.
    private func answer<Req: Decodable, Resp: Encodable>(_ context: ChannelHandlerContext, _ frame: Frame, _ type: Req.Type,
                                                          _ handler: @escaping (Req) async throws -> Resp) {
        let request: Req
        do {
            request = try Codec.decode(type, from: frame.payload)
        } catch {
            return refuse(context, requestID: frame.requestID, "\(frame.type): \(error)")
        }
        let channel = context.channel
        let requestID = frame.requestID
        let logger = self.logger
        Task {
            let out: Frame
            do {
                out = try Codec.frame(.ok, requestID, try await handler(request))
            } catch {
                out = (try? Codec.frame(.error, requestID, ErrorMessage("\(error)")))!
            }
            channel.writeAndFlush(out).whenFailure { error in
                logger.debug("could not answer request \(requestID): \(error)")
            }
        }
    }

    private func send(_ context: ChannelHandlerContext, _ frame: Frame) {
        context.writeAndFlush(wrapOutboundOut(frame), promise: nil)
    }

    private func reply(_ context: ChannelHandlerContext, _ requestID: UInt32, error: String) {
        logger.warning("request refused: \(error)", metadata: ["peer": "\(address)"])
        send(context, try! Codec.frame(.error, requestID, ErrorMessage(error)))
    }

    /// Answers with an error frame and closes this connection only.
    private func refuse(_ context: ChannelHandlerContext, requestID: UInt32, fatal: Bool = false, _ message: String) {
        guard context.channel.isActive else { return }
        service.metrics.add(.rejectedConnections)
        logger.warning("connection refused: \(message)", metadata: ["peer": "\(address)"])
        let frame = try! Codec.frame(.error, requestID, ErrorMessage(message, fatal: fatal))
        context.writeAndFlush(wrapOutboundOut(frame)).whenComplete { _ in context.close(promise: nil) }
    }
}

/// A switch shared between the event loop and request tasks.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set(_ on: Bool = true) { lock.withLock { value = on } }
}
