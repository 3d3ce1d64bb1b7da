import Foundation
import Logging
import NIOCore
import NIOPosix
import Shared

/// Hears the DBC node's `renting` / `empty` announcements (UDP, DBC.md §1)
/// for this machine's node id and hands their statuses on, in the order they
/// came. Datagrams that do not decode, or name another node, are ignored:
/// logged once per sender address.
public final class RentListener: Sendable {
    let channel: Channel
    /// Statuses of this node's announcements, in arrival order.
    public let statuses: AsyncStream<RentDatagram.Status>

    private init(channel: Channel, statuses: AsyncStream<RentDatagram.Status>) {
        self.channel = channel
        self.statuses = statuses
    }

    /// Where the socket is bound (with the port the system chose for port 0).
    public var localAddress: SocketAddress? { channel.localAddress }

    public static func start(on address: HostPort, nodeID: String, group: EventLoopGroup, logger: Logger) async throws -> RentListener {
        let (stream, continuation) = AsyncStream.makeStream(of: RentDatagram.Status.self)
        let channel = try await DatagramBootstrap(group: group)
            .channelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        RentDatagramHandler(nodeID: nodeID, logger: logger, deliver: { continuation.yield($0) }))
                }
            }
            .bind(host: address.host, port: address.port).get()
        channel.closeFuture.whenComplete { _ in continuation.finish() }
        return RentListener(channel: channel, statuses: stream)
    }

    public func close() async {
        try? await channel.close()
    }
}

/// Decodes each datagram on the listener's event loop.
final class RentDatagramHandler: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let nodeID: String
    let logger: Logger
    let deliver: (RentDatagram.Status) -> Void
    /// Senders already logged; bounded, since a sender address costs nothing to forge.
    private var logged = Set<String>()
    static let maxLogged = 1024

    init(nodeID: String, logger: Logger, deliver: @escaping (RentDatagram.Status) -> Void) {
        self.nodeID = nodeID; self.logger = logger; self.deliver = deliver
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        let bytes = Array(envelope.data.readableBytesView)
        let sender = envelope.remoteAddress.ipAddress ?? "\(envelope.remoteAddress)"
        do {
            let datagram = try RentDatagram.decode(bytes)
            guard datagram.nodeID == nodeID else {
                ignore(sender, "an announcement for another node (\(datagram.nodeID))")
                return
            }
            deliver(datagram.status)
        } catch {
            ignore(sender, "a datagram that is not a DBC rent announcement: \(error)")
        }
    }

    private func ignore(_ sender: String, _ why: String) {
        guard logged.count < Self.maxLogged, logged.insert(sender).inserted else { return }
        logger.warning("ignoring \(why) from \(sender) (said once per sender)")
    }

    /// A bad datagram must not end the listener (e.g. ICMP errors surfacing as read errors).
    func errorCaught(context: ChannelHandlerContext, error: Error) {
        logger.warning("rent listener: \(error)")
    }
}
