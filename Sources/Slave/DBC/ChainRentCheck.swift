import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Shared

/// Asks a DBC chain node whether the machine is rented (DBC.md §1): JSON-RPC
/// over HTTP, `onlineProfile_getMachineInfo` with the node id, the answer's
/// `result.machineStatus`. The rent datagram is unsigned; the chain is what a
/// forged `empty` cannot fake.
public struct ChainRentCheck: Sendable {
    public let url: ChainRPCURL
    let group: EventLoopGroup
    /// For the whole exchange: connect, request, answer.
    let timeout: TimeAmount

    public init(url: ChainRPCURL, group: EventLoopGroup, timeout: TimeAmount = .seconds(10)) {
        self.url = url; self.group = group; self.timeout = timeout
    }

    /// The status that lets work resume: online, and not rented. Every other
    /// (being verified, waiting, creating, rented) keeps the slave yielded.
    public static let free = "online"
    public static let knownStatuses: Set<String> = ["addingCustomizeInfo", "distributingOrder", "committeeVerifying", "committeeRefused",
                                                    "waitingFulfill", "online", "creating", "rented"]
    /// The most of an answer read.
    static let maxAnswerBytes = 1 << 20

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// The request's body, exactly as DBC.md gives it.
    public static func request(nodeID: String) -> String {
        #"{"jsonrpc":"2.0","id":1,"method":"onlineProfile_getMachineInfo","params":["\#(nodeID)"]}"#
    }

    /// `result.machineStatus` of an answer; throws on a JSON-RPC error, a null
    /// result (the chain does not know the machine) or an unknown status.
    public static func machineStatus(answer: [UInt8]) throws -> String {
        let value: JSONValue
        do { value = try answer.withUnsafeBytes { try JSONValue.parse($0) } } catch {
            throw Failure(description: "the answer is not JSON: \(error)")
        }
        guard case let .object(top) = value else { throw Failure(description: "the answer is not a JSON object") }
        if let error = top["error"], error != .null {
            var message = "\(error)"
            if case let .object(fields) = error, case let .string(text)? = fields["message"] { message = text }
            throw Failure(description: "the chain answered an error: \(message.prefix(300))")
        }
        guard let result = top["result"], result != .null else {
            throw Failure(description: "the chain knows no such machine (result is null)")
        }
        guard case let .object(info) = result, case let .string(status)? = info["machineStatus"] else {
            throw Failure(description: "the answer has no result.machineStatus string")
        }
        guard knownStatuses.contains(status) else { throw Failure(description: "unknown machineStatus \"\(status.prefix(60))\"") }
        return status
    }

    /// Asks the chain once.
    public func machineStatus(nodeID: String) async throws -> String {
        let body = Self.request(nodeID: nodeID)
        let loop = group.next()
        let answer = loop.makePromise(of: (HTTPResponseStatus, [UInt8]).self)
        let deadline = loop.scheduleTask(in: timeout) { answer.fail(Failure(description: "no answer within \(timeout.nanoseconds / 1_000_000_000)s")) }
        defer { deadline.cancel() }
        let channel: Channel
        do {
            channel = try await ClientBootstrap(group: loop)
                .connectTimeout(timeout)
                .channelInitializer { channel in
                    channel.pipeline.addHTTPClientHandlers().flatMap {
                        channel.pipeline.addHandler(AnswerCollector(answer: answer, limit: Self.maxAnswerBytes))
                    }
                }
                .connect(host: url.host, port: url.port).get()
        } catch {
            answer.fail(error)
            throw Failure(description: "cannot reach \(url): \(error)")
        }
        defer { channel.close(promise: nil) }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: "\(HostPort(host: url.host, port: url.port))")
        headers.add(name: "Content-Type", value: "application/json")
        headers.add(name: "Content-Length", value: "\(body.utf8.count)")
        headers.add(name: "Connection", value: "close")
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: .POST, uri: url.path, headers: headers)), promise: nil)
        channel.write(HTTPClientRequestPart.body(.byteBuffer(channel.allocator.buffer(string: body))), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        let (status, bytes): (HTTPResponseStatus, [UInt8])
        do { (status, bytes) = try await answer.futureResult.get() } catch {
            throw Failure(description: "\(url): \(error)")
        }
        guard status == .ok else { throw Failure(description: "\(url) answered HTTP \(status.code) \(status.reasonPhrase)") }
        return try Self.machineStatus(answer: bytes)
    }
}

/// Gathers one HTTP response.
final class AnswerCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    let answer: EventLoopPromise<(HTTPResponseStatus, [UInt8])>
    let limit: Int
    private var status: HTTPResponseStatus?
    private var body: [UInt8] = []

    init(answer: EventLoopPromise<(HTTPResponseStatus, [UInt8])>, limit: Int) { self.answer = answer; self.limit = limit }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case let .head(head): status = head.status
        case var .body(buffer):
            guard body.count + buffer.readableBytes <= limit else {
                answer.fail(ChainRentCheck.Failure(description: "answer over \(limit) bytes"))
                context.close(promise: nil)
                return
            }
            body += buffer.readBytes(length: buffer.readableBytes) ?? []
        case .end:
            if let status { answer.succeed((status, body)) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        answer.fail(ChainRentCheck.Failure(description: "connection closed before the whole answer"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        answer.fail(error)
        context.close(promise: nil)
    }
}
