import NIOCore

/// One message on the wire: `u32be length ‖ u8 type ‖ u32be request id ‖ payload`.
/// The length counts everything after itself. Responses echo the request id so
/// requests can be pipelined on one connection.
public struct Frame: Sendable {
    public var type: MessageType
    public var requestID: UInt32
    public var payload: ByteBuffer

    public init(type: MessageType, requestID: UInt32, payload: ByteBuffer) {
        self.type = type
        self.requestID = requestID
        self.payload = payload
    }

    public static let headerBytes = 5
    public static let defaultMaxBytes = 16 << 20
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
    let maxBytes: Int

    public init(maxBytes: Int = Frame.defaultMaxBytes) { self.maxBytes = maxBytes }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let frame = try Self.parse(&buffer, maxBytes: maxBytes) else { return .needMoreData }
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
        out.writeInteger(UInt32(Frame.headerBytes + data.payload.readableBytes))
        out.writeInteger(data.type.rawValue)
        out.writeInteger(data.requestID)
        var payload = data.payload
        out.writeBuffer(&payload)
    }
}
