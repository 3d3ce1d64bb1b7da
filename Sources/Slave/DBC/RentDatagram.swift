import Foundation
import Shared

/// One announcement of a DBC compute node on its LAN (DBC.md §1): the
/// standard base64 of `{"node_id":"<64 hex>", "status":"renting"|"empty"}`.
/// Anyone on the LAN can send one: nothing here is authenticated.
public struct RentDatagram: Sendable, Equatable {
    public enum Status: String, Sendable { case renting, empty }

    public var nodeID: String
    public var status: Status

    public init(nodeID: String, status: Status) { self.nodeID = nodeID; self.status = status }

    /// Far above the ~120 bytes a real announcement takes; more is not one.
    public static let maxBytes = 1024

    public struct DecodeError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The datagram as DBC's node builds it (by string concatenation: one space after the comma).
    public var encoded: [UInt8] {
        Array(Data("{\"node_id\":\"\(nodeID)\", \"status\":\"\(status.rawValue)\"}".utf8).base64EncodedString().utf8)
    }

    /// Decodes a datagram's bytes; the error says what was wrong with it.
    public static func decode(_ bytes: [UInt8]) throws -> RentDatagram {
        guard bytes.count <= maxBytes else { throw DecodeError(description: "\(bytes.count) bytes, more than an announcement (\(maxBytes))") }
        guard !bytes.isEmpty else { throw DecodeError(description: "empty datagram") }
        guard let text = String(bytes: bytes, encoding: .ascii), let json = Data(base64Encoded: text) else {
            throw DecodeError(description: "not standard base64")
        }
        let value: JSONValue
        do { value = try json.withUnsafeBytes { try JSONValue.parse($0) } } catch {
            throw DecodeError(description: "base64 of something that is not JSON: \(error)")
        }
        let nodeID: String, status: String
        do {
            let fields = try JSONFields(value, "rent announcement")
            nodeID = try fields.string("node_id")
            status = try fields.string("status")
        } catch {
            throw DecodeError(description: "\(error)")
        }
        guard NodeDat.isNodeID(nodeID) else {
            throw DecodeError(description: "node_id \"\(nodeID.prefix(80))\" is not 64 lowercase hex digits")
        }
        guard let parsed = Status(rawValue: status) else {
            throw DecodeError(description: "status \"\(status.prefix(40))\" is neither renting nor empty")
        }
        return RentDatagram(nodeID: nodeID, status: parsed)
    }
}
