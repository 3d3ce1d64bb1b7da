import CKernels
import NIOCore

/// Authenticates every frame after the handshake: the sender appends
/// HMAC-SHA256(key of its direction, sequence ‖ type ‖ request id ‖ payload),
/// the receiver checks it against its own count of frames received. A frame
/// injected, altered, replayed, dropped or reordered by anyone without the
/// token fails the check, and the connection is closed. Frames are not
/// encrypted (see the README's security section).
///
/// Sits between the frame codec and the connection's handler; passes frames
/// through untouched until `activate`, which each side calls on the event
/// loop right after the handshake's last untagged frame (the master: after
/// writing `Welcome`; the client: on reading it).
///
/// libcrypto's HMAC (through CKernels, as the handshake's) rather than
/// swift-crypto: it is already linked for the kernels' hashes, and it takes
/// the payload where it lies in the ByteBuffer, without a copy.
public final class FrameAuthenticator: ChannelDuplexHandler, @unchecked Sendable {
    public typealias InboundIn = Frame
    public typealias InboundOut = Frame
    public typealias OutboundIn = Frame
    public typealias OutboundOut = Frame

    public static let tagBytes = 32

    private var sendKey: [UInt8]?
    private var receiveKey: [UInt8]?
    private var sent: UInt64 = 0
    private var received: UInt64 = 0
    /// After one bad frame nothing more is read from this peer.
    private var broken = false

    public init() {}

    /// From now on frames out are tagged and frames in must be.
    public func activate(send: [UInt8], receive: [UInt8]) {
        sendKey = send
        receiveKey = receive
    }

    public var isActive: Bool { sendKey != nil }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !broken else { return }
        var frame = unwrapInboundIn(data)
        guard let key = receiveKey else { return context.fireChannelRead(data) }
        let bodyBytes = frame.payload.readableBytes - Self.tagBytes
        guard bodyBytes >= 0, let tag = frame.payload.getBytes(at: frame.payload.readerIndex + bodyBytes, length: Self.tagBytes),
              let expected = Self.tag(key: key, sequence: received, type: frame.type.rawValue, requestID: frame.requestID,
                                      payload: frame.payload.getSlice(at: frame.payload.readerIndex, length: bodyBytes)!),
              Digest.constantTimeEqual(tag, expected)
        else {
            broken = true
            return context.fireErrorCaught(FrameAuthenticationError(frame: received))
        }
        received += 1
        frame.payload = frame.payload.getSlice(at: frame.payload.readerIndex, length: bodyBytes)!
        context.fireChannelRead(wrapInboundOut(frame))
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard let key = sendKey else { return context.write(data, promise: promise) }
        var frame = unwrapOutboundIn(data)
        guard let tag = Self.tag(key: key, sequence: sent, type: frame.type.rawValue, requestID: frame.requestID, payload: frame.payload) else {
            promise?.fail(FrameAuthenticationError(frame: sent))
            return context.close(promise: nil)
        }
        sent += 1
        frame.tag = tag
        context.write(wrapOutboundOut(frame), promise: promise)
    }

    /// The tag of one frame (see docs/PROTOCOL.md); nil when libcrypto fails.
    public static func tag(key: [UInt8], sequence: UInt64, type: UInt8, requestID: UInt32, payload: ByteBuffer) -> [UInt8]? {
        var head = [UInt8](repeating: 0, count: 13)
        for i in 0..<8 { head[i] = UInt8(truncatingIfNeeded: sequence >> (56 - 8 * UInt64(i))) }
        head[8] = type
        for i in 0..<4 { head[9 + i] = UInt8(truncatingIfNeeded: requestID >> (24 - 8 * UInt32(i))) }
        var out = [UInt8](repeating: 0, count: 32)
        let rc = payload.withUnsafeReadableBytes { body in
            key.withUnsafeBufferPointer { k in
                wd_hmac_sha256_2(k.baseAddress, k.count, head, head.count,
                                 body.baseAddress?.assumingMemoryBound(to: UInt8.self), body.count, &out)
            }
        }
        return rc == 0 ? out : nil
    }
}

public struct FrameAuthenticationError: Error, CustomStringConvertible {
    public let frame: UInt64
    public var description: String {
        "frame \(frame) after the handshake failed its authentication tag (altered, injected or out of order); connection closed"
    }
}
