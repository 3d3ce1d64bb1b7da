import Logging
import NIOCore
import Shared

/// Sits before the frame decoder and closes connections that hold a slot
/// without doing anything useful: a peer gone silent for `idleTimeout`
/// (half-open), or one trickling a frame for longer than `frameTimeout`
/// (slow-loris). Counting bytes is enough to tell where a frame ends, so the
/// decoder itself stays a pure parser.
final class ConnectionGuard: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    let frameTimeout: TimeAmount
    let idleTimeout: TimeAmount
    let logger: Logger
    private var lastRead = NIODeadline.now()
    /// When the unfinished frame's first byte arrived; nil between frames.
    private var frameStarted: NIODeadline?
    /// Bytes still missing from the current frame, once its length is known.
    private var remaining = 0
    private var header: [UInt8] = []
    private var timer: RepeatedTask?

    init(frameTimeout: TimeAmount, idleTimeout: TimeAmount, logger: Logger) {
        self.frameTimeout = frameTimeout
        self.idleTimeout = idleTimeout
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        let every = TimeAmount.nanoseconds(max(50_000_000, min(frameTimeout.nanoseconds, idleTimeout.nanoseconds) / 4))
        timer = context.eventLoop.scheduleRepeatedTask(initialDelay: every, delay: every) { [weak self] _ in
            self?.check(context)
        }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let now = NIODeadline.now()
        lastRead = now
        track(unwrapInboundIn(data), now: now)
        context.fireChannelRead(data)
    }

    /// Follows frame boundaries: 4 length bytes, then that many bytes.
    private func track(_ buffer: ByteBuffer, now: NIODeadline) {
        var bytes = buffer
        while bytes.readableBytes > 0 {
            if frameStarted == nil { frameStarted = now }
            if remaining == 0 {
                let take = min(4 - header.count, bytes.readableBytes)
                header += bytes.readBytes(length: take)!
                guard header.count == 4 else { return }
                remaining = header.reduce(0) { $0 << 8 | Int($1) }
                header = []
                if remaining == 0 { frameStarted = nil }
                continue
            }
            let take = min(remaining, bytes.readableBytes)
            bytes.moveReaderIndex(forwardBy: take)
            remaining -= take
            if remaining == 0 { frameStarted = nil }
        }
    }

    private func check(_ context: ChannelHandlerContext) {
        let now = NIODeadline.now()
        let peer = context.channel.remoteAddress.map { "\($0.ipAddress ?? "?"):\($0.port ?? 0)" } ?? "?"
        if let started = frameStarted, now - started > frameTimeout {
            logger.warning("connection closed: a frame took longer than frame_timeout to arrive", metadata: ["peer": "\(peer)"])
            context.close(promise: nil)
        } else if now - lastRead > idleTimeout {
            logger.warning("connection closed: silent for longer than idle_timeout", metadata: ["peer": "\(peer)"])
            context.close(promise: nil)
        }
    }
}
