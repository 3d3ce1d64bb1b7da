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
    let connections: ConnectionCounter
    private var peer: Peer = .awaitingAuth(nonce: [])
    private var address = "?"
    private var authTimeout: Scheduled<Void>?
    private var counted = false
    /// Set when the slave says it is leaving; read by its parked pulls off the event loop.
    private let draining = Flag()
    var logger: Logger { service.logger }

    init(service: MasterService, connections: ConnectionCounter) {
        self.service = service
        self.connections = connections
    }

    func channelActive(context: ChannelHandlerContext) {
        address = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        guard connections.tryAdd(limit: service.config.server.maxConnections) else {
            logger.warning("connection refused: server.max_connections (\(service.config.server.maxConnections)) reached", metadata: ["peer": "\(address)"])
            refuse(context, requestID: 0, "too many connections: the master's limit (server.max_connections = \(service.config.server.maxConnections)) is reached")
            return
        }
        counted = true
        let nonce = SecureRandom.bytes(32)
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
        if counted { connections.remove() }
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
        switch peer {
        case let .awaitingAuth(nonce):
            handshake(context, frame, nonce: nonce)
        case let .slave(name, capabilities):
            guard frame.type.isSlave else {
                return reply(context, frame.requestID, error: "\(frame.type) is not a slave request; a slave token cannot run admin commands")
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

    private func handshake(_ context: ChannelHandlerContext, _ frame: Frame, nonce: [UInt8]) {
        guard frame.type == .auth, let auth = try? Codec.decode(Auth.self, from: frame.payload) else {
            return refuse(context, requestID: frame.requestID, "expected an auth message first")
        }
        guard auth.version == protocolVersion else {
            return refuse(context, requestID: frame.requestID, fatal: true,
                          "protocol version mismatch: master speaks \(protocolVersion), \(auth.role.rawValue) \(auth.name) speaks \(auth.version)")
        }
        let token = auth.role == .admin ? service.config.server.adminToken : service.config.server.slaveToken
        guard Digest.constantTimeEqual(Auth.mac(token: token, nonce: nonce, name: auth.name), auth.mac) else {
            return refuse(context, requestID: frame.requestID, fatal: true, "authentication failed: wrong \(auth.role.rawValue) token")
        }
        authTimeout?.cancel()
        switch auth.role {
        case .admin:
            peer = .admin(name: auth.name)
        case .slave:
            let caps = auth.capabilities ?? Capabilities()
            peer = .slave(name: auth.name, capabilities: caps)
            service.slaves.add(ObjectIdentifier(self), .init(name: auth.name, address: address, capabilities: caps, lastSeen: nowMicros()))
            logger.info("slave connected", metadata: ["worker": "\(auth.name)", "peer": "\(address)", "kinds": "\(caps.kinds.joined(separator: ","))", "concurrent": "\(caps.concurrent)"])
            // No wake-up here: the new slave's own first pull claims what is
            // waiting, and waking every parked pull per connect cost a fleet
            // of N slaves N² store operations at start-up.
        }
        send(context, try! Codec.frame(.welcome, frame.requestID, Welcome(master: service.config.name)))
    }

    private func dispatchSlave(_ context: ChannelHandlerContext, _ frame: Frame, name: String, capabilities: Capabilities) {
        let service = self.service
        let channel = context.channel
        let draining = self.draining
        switch frame.type {
        case .pull:
            answer(context, frame, PullRequest.self) { request in
                let response = try await service.pull(worker: name, capabilities: capabilities, request: request,
                                                      mayClaim: { channel.isActive && !draining.isSet })
                if !channel.isActive { await service.giveBack(response.jobs, worker: name) }
                return response
            }
        case .heartbeat: answer(context, frame, HeartbeatRequest.self) { try await service.heartbeat(worker: name, request: $0) }
        case .finish:
            answer(context, frame, FinishRequest.self) { request in
                let response = try await service.finish(worker: name, capabilities: capabilities, request: request,
                                                        mayClaim: { channel.isActive && !draining.isSet })
                if !channel.isActive { await service.giveBack(response.jobs ?? [], worker: name) }
                return response
            }
        case .release:
            answer(context, frame, ReleaseRequest.self) { request in
                if request.final {
                    draining.set()
                    // A pull of this slave parked at the master returns (empty) now.
                    service.wake.signal()
                }
                return try await service.release(worker: name, request: request)
            }
        default: reply(context, frame.requestID, error: "unexpected \(frame.type)")
        }
    }

    private func dispatchAdmin(_ context: ChannelHandlerContext, _ frame: Frame, name: String) {
        let service = self.service
        switch frame.type {
        case .submit: answer(context, frame, SubmitRequest.self) { try await service.submit($0) }
        case .list: answer(context, frame, ListRequest.self) { try await service.list($0) }
        case .show: answer(context, frame, IDList.self) { try await service.show($0) }
        case .reset: answer(context, frame, IDList.self) { try await service.reset($0) }
        case .remove: answer(context, frame, IDList.self) { try await service.remove($0) }
        case .removeAll: answer(context, frame, RemoveAllRequest.self) { try await service.removeAll($0) }
        case .slaves: answer(context, frame, Empty.self) { _ in try await service.slaveList() }
        case .dbcVerify: answer(context, frame, DBCVerifyRequest.self) { try await service.dbc.verify($0) }
        case .dbcStatus: answer(context, frame, DBCStatusRequest.self) { try await service.dbc.status($0) }
        case .dbcSubmitHash: answer(context, frame, DBCSubmitHashRequest.self) { try await service.dbc.submitHash($0) }
        case .dbcSubmitRaw: answer(context, frame, DBCSubmitRawRequest.self) { try await service.dbc.submitRaw($0) }
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

/// A one-way switch shared between the event loop and request tasks.
final class Flag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}

/// Open connections across the server, for `server.max_connections`.
final class ConnectionCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var open = 0

    func tryAdd(limit: Int) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard open < limit else { return false }
        open += 1
        return true
    }

    func remove() {
        lock.lock(); open -= 1; lock.unlock()
    }
}
