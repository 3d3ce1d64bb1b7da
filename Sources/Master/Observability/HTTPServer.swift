import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared

/// The `[metrics] listen` endpoint: `/metrics` for Prometheus, `/` the
/// read-only status page, `/status.json` the same data for scripts.
///
/// It has no authentication, so it must cost the master little whoever calls:
/// at most `[metrics] max_connections` connections (beyond that a connection
/// is closed as soon as it is accepted), each closed if a request takes longer
/// than `request_timeout` to arrive or the connection idles that long, so that
/// half-open clients cannot hold the descriptors the RPC side needs; and the
/// store aggregates behind every view are read at most once per
/// `aggregatesTTL`, shared by all viewers.
final class HTTPServer {
    /// µs page views and scrapes share one reading of the store.
    static let aggregatesTTL: Int64 = 1_000_000

    static func start(on group: EventLoopGroup, address: HostPort, service: MasterService) async throws -> Channel {
        let limits = service.config.http
        let connections = HTTPConnections(limit: limits.maxConnections)
        let aggregates = SharedComputation(ttl: aggregatesTTL) { try await StatusSnapshot.Aggregates.read(service) }
        let timeout = TimeAmount.microseconds(limits.requestTimeout)
        return try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                guard connections.enter() else {
                    // Failing the initializer closes the connection before anything is read.
                    return channel.eventLoop.makeFailedFuture(HTTPConnections.Full())
                }
                channel.closeFuture.whenComplete { _ in connections.leave() }
                return channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(HTTPHandler(service: service, aggregates: aggregates, requestTimeout: timeout))
                }
            }
            .bind(host: address.host, port: address.port).get()
    }
}

/// The HTTP side's connection count, apart from the RPC side's.
final class HTTPConnections: @unchecked Sendable {
    struct Full: Error {}
    private let limit: Int
    private let lock = NSLock()
    private var open = 0

    init(limit: Int) { self.limit = limit }

    func enter() -> Bool {
        lock.withLock {
            guard open < limit else { return false }
            open += 1
            return true
        }
    }

    func leave() { lock.withLock { open -= 1 } }
}

final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let service: MasterService
    let aggregates: SharedComputation<StatusSnapshot.Aggregates>
    let requestTimeout: TimeAmount
    private var head: HTTPRequestHead?
    /// Closes the connection unless the next request has fully arrived by then
    /// (event loop only).
    private var deadline: Scheduled<Void>?

    init(service: MasterService, aggregates: SharedComputation<StatusSnapshot.Aggregates>, requestTimeout: TimeAmount) {
        self.service = service
        self.aggregates = aggregates
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) { armDeadline(context.channel) }

    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    /// From now, the next whole request must arrive within `requestTimeout`.
    private func armDeadline(_ channel: Channel) {
        deadline?.cancel()
        deadline = channel.eventLoop.scheduleTask(in: requestTimeout) { channel.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            // Answering may wait for the store; the clock starts again once the answer is out.
            deadline?.cancel()
            deadline = nil
            respond(context.channel, head)
        }
    }

    private func respond(_ channel: Channel, _ head: HTTPRequestHead) {
        let service = self.service
        let aggregates = self.aggregates
        let path = head.uri.split(separator: "?").first.map(String.init) ?? "/"
        Task {
            let (status, type, body): (HTTPResponseStatus, String, String)
            if head.method != .GET && head.method != .HEAD {
                (status, type, body) = (.methodNotAllowed, "text/plain", "read-only: GET only\n")
            } else {
                do {
                    switch path {
                    case "/metrics":
                        let (snapshot, counts) = StatusSnapshot.collect(service, from: try await aggregates.value())
                        (status, type, body) = (.ok, "text/plain; version=0.0.4",
                                                service.metrics.render(jobCounts: counts, connectedSlaves: service.slaves.count,
                                                                             rentedSlaves: service.slaves.rentedCount)
                                                    + ComputeChainMetrics.render(snapshot.computechain))
                    case "/", "/index.html":
                        (status, type, body) = (.ok, "text/html; charset=utf-8", StatusSnapshot.collect(service, from: try await aggregates.value()).0.html)
                    case "/status.json":
                        let encoder = JSONEncoder()
                        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                        let data = try encoder.encode(StatusSnapshot.collect(service, from: try await aggregates.value()).0)
                        (status, type, body) = (.ok, "application/json", String(decoding: data, as: UTF8.self))
                    default:
                        (status, type, body) = (.notFound, "text/plain", "not found: try /, /metrics or /status.json\n")
                    }
                } catch {
                    (status, type, body) = (.serviceUnavailable, "text/plain", "store unavailable: \(error)\n")
                }
            }
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: type)
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Cache-Control", value: "no-store")
            let response = HTTPResponseHead(version: head.version, status: status, headers: headers)
            channel.write(HTTPServerResponsePart.head(response), promise: nil)
            if head.method != .HEAD {
                channel.write(HTTPServerResponsePart.body(.byteBuffer(ByteBuffer(string: body))), promise: nil)
            }
            channel.writeAndFlush(HTTPServerResponsePart.end(nil)).whenSuccess { if channel.isActive { self.armDeadline(channel) } }
        }
    }
}
