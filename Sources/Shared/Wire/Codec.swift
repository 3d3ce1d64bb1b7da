import Foundation
import NIOCore

/// Payloads are JSON: readable in a packet capture, and every message is small
/// next to the job inputs and outputs it carries.
public enum Codec {
    // One encoder and one decoder for every message: they are never
    // reconfigured, and encode/decode are safe to call from several threads.
    nonisolated(unsafe) static let encoder = JSONEncoder()
    nonisolated(unsafe) static let decoder = JSONDecoder()

    public static func encode<T: Encodable>(_ value: T, allocator: ByteBufferAllocator = ByteBufferAllocator()) throws -> ByteBuffer {
        if let message = value as? WireJSON {
            let bytes = JSONWriter.encode(message)
            var buffer = allocator.buffer(capacity: bytes.count)
            buffer.writeBytes(bytes)
            return buffer
        }
        let data = try encoder.encode(value)
        var buffer = allocator.buffer(capacity: data.count)
        buffer.writeBytes(data)
        return buffer
    }

    public static func decode<T: Decodable>(_ type: T.Type, from buffer: ByteBuffer) throws -> T {
        if let message = T.self as? WireJSON.Type {
            do {
                let value = try buffer.withUnsafeReadableBytes { try message.init(json: JSONValue.parse($0)) }
                return value as! T
            } catch {
                throw ErrorMessage("malformed \(T.self) payload (\(buffer.readableBytes) bytes): \(error)")
            }
        }
        let bytes = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes) ?? []
        do {
            return try decoder.decode(type, from: Data(bytes))
        } catch {
            throw ErrorMessage("malformed \(T.self) payload (\(bytes.count) bytes)")
        }
    }

    public static func frame<T: Encodable>(_ type: MessageType, _ requestID: UInt32, _ value: T) throws -> Frame {
        Frame(type: type, requestID: requestID, payload: try encode(value))
    }
}
