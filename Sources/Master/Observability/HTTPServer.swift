import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared

/// The `[metrics] listen` endpoint: `/metrics` for Prometheus, `/` the
/// read-only status page, `/status.json` the same data for scripts.
final class HTTPServer {
    static func start(on group: EventLoopGroup, address: HostPort, service: MasterService) async throws -> Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(HTTPHandler(service: service))
                }
            }
            .bind(host: address.host, port: address.port).get()
    }
}

final class HTTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let service: MasterService
    private var head: HTTPRequestHead?

    init(service: MasterService) { self.service = service }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(h): head = h
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            respond(context.channel, head)
        }
    }

    private func respond(_ channel: Channel, _ head: HTTPRequestHead) {
        let service = self.service
        let path = head.uri.split(separator: "?").first.map(String.init) ?? "/"
        Task {
            let (status, type, body): (HTTPResponseStatus, String, String)
            if head.method != .GET && head.method != .HEAD {
                (status, type, body) = (.methodNotAllowed, "text/plain", "read-only: GET only\n")
            } else {
                do {
                    switch path {
                    case "/metrics":
                        let (_, counts) = try await StatusSnapshot.collect(service)
                        (status, type, body) = (.ok, "text/plain; version=0.0.4",
                                                service.metrics.render(jobCounts: counts, connectedSlaves: service.slaves.count))
                    case "/", "/index.html":
                        (status, type, body) = (.ok, "text/html; charset=utf-8", try await StatusSnapshot.collect(service).0.html)
                    case "/status.json":
                        let encoder = JSONEncoder()
                        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
                        let data = try encoder.encode(try await StatusSnapshot.collect(service).0)
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
            channel.writeAndFlush(HTTPServerResponsePart.end(nil), promise: nil)
        }
    }
}
