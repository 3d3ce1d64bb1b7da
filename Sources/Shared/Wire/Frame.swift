import NIOCore

/// One message on the wire: `u32be length ‖ u8 type ‖ u32be request id ‖ payload [‖ tag]`.
/// The length counts everything after itself. Responses echo the request id so
/// requests can be pipelined on one connection. After the handshake every frame
/// ends in a 32-byte tag (`FrameAuthenticator`); the decoder leaves it in the
/// payload for the authenticator to check and strip.
public struct Frame: Sendable {
    public var type: MessageType
    public var requestID: UInt32
    public var payload: ByteBuffer
    /// Written after the payload by the encoder; set by `FrameAuthenticator`.
    public var tag: [UInt8] = []

    public init(type: MessageType, requestID: UInt32, payload: ByteBuffer) {
        self.type = type
        self.requestID = requestID
        self.payload = payload
    }

    public static let headerBytes = 5
    public static let defaultMaxBytes = 16 << 20
    /// Largest `server.max_frame_bytes` accepted: a frame is buffered whole, and
    /// every connection may hold one.
    public static let maxAllowedBytes = 256 << 20
    /// Limit before the handshake completes, on both sides: a hello or auth
    /// frame is well under 1 KiB (64 KiB leaves room for a long `allowed_miners`),
    /// and an unauthenticated peer must not make us buffer more.
    public static let preAuthMaxBytes = 64 << 10
}

/// The decoder's current limit, raised from `Frame.preAuthMaxBytes` once the
/// peer has authenticated. Touched only on the connection's event loop.
public final class FrameLimit: @unchecked Sendable {
    public var maxBytes: Int
    public init(_ maxBytes: Int) { self.maxBytes = maxBytes }
}

public enum FrameError: Error, CustomStringConvertible {
    case tooLarge(length: Int, max: Int)
    case tooShort(length: Int)
    case unknownType(UInt8)

    public var description: String {
        switch self {
        case let .tooLarge(length, max): return "frame of \(length) bytes exceeds the limit of \(max) bytes"
        case let .tooShort(length): return "frame of \(length) bytes is shorter than its 5-byte header"
        case let .unknownType(type): return "unknown message type \(type)"
        }
    }
}

/// Splits the byte stream into frames. The length is checked before a byte of
/// the body is buffered, so a hostile 2 GiB prefix costs nothing.
public struct FrameDecoder: ByteToMessageDecoder {
    public typealias InboundOut = Frame
    let limit: FrameLimit

    public init(maxBytes: Int = Frame.defaultMaxBytes) { self.limit = FrameLimit(maxBytes) }
    public init(limit: FrameLimit) { self.limit = limit }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.parse(&buffer, maxBytes: limit.maxBytes) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }

    /// Pure parsing step, shared by the channel handler and the fuzz tests.
    public static func parse(_ buffer: inout ByteBuffer, maxBytes: Int) throws -> Frame? {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        let size = Int(length)
        if size > maxBytes { throw FrameError.tooLarge(length: size, max: maxBytes) }
        if size < Frame.headerBytes { throw FrameError.tooShort(length: size) }
        guard buffer.readableBytes >= 4 + size else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        let rawType: UInt8 = buffer.readInteger()!
        let requestID: UInt32 = buffer.readInteger()!
        let payload = buffer.readSlice(length: size - Frame.headerBytes)!
        guard let type = MessageType(rawValue: rawType) else { throw FrameError.unknownType(rawType) }
        return Frame(type: type, requestID: requestID, payload: payload)
    }
}

public struct FrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = Frame
    public init() {}

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        out.writeInteger(UInt32(Frame.headerBytes + data.payload.readableBytes + data.tag.count))
        out.writeInteger(data.type.rawValue)
        out.writeInteger(data.requestID)
        var payload = data.payload
        out.writeBuffer(&payload)
        out.writeBytes(data.tag)
    }
}
