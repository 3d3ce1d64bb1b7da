import Foundation

/// Writes one JSON object into a byte array: the counterpart of `JSONFields`
/// for `WireJSON` messages. Keys are written in the order given; `Data` as
/// base64 and strings escaped as RFC 8259 requires.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    /// Whether the object or array being written needs a comma before its next member.
    private var needsComma = false

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// A whole message.
    public static func encode<T: WireJSON>(_ value: T) -> [UInt8] {
        var w = JSONWriter()
        w.object(value)
        return w.bytes
    }

    // MARK: members of the current object

    public mutating func field(_ key: String, _ value: String) { self.key(key); string(value) }
    public mutating func field(_ key: String, _ value: Int64) { self.key(key); integer(value) }
    public mutating func field(_ key: String, _ value: Int) { self.key(key); integer(Int64(value)) }
    public mutating func field(_ key: String, _ value: Bool) { self.key(key); bytes += Array((value ? "true" : "false").utf8) }
    public mutating func field(_ key: String, _ value: Data) { self.key(key); string(value.base64EncodedString()) }

    /// Nothing when nil, as `encodeIfPresent` does.
    public mutating func field(_ key: String, _ value: String?) { if let value { field(key, value) } }
    public mutating func field(_ key: String, _ value: Int64?) { if let value { field(key, value) } }
    public mutating func field(_ key: String, _ value: Int?) { if let value { field(key, value) } }
    public mutating func field(_ key: String, _ value: Bool?) { if let value { field(key, value) } }
    public mutating func field(_ key: String, _ value: Data?) { if let value { field(key, value) } }
    public mutating func field<T: WireJSON>(_ key: String, _ value: T?) { if let value { field(key, value) } }

    public mutating func field(_ key: String, _ values: [Int]) {
        self.key(key)
        array(values) { $0.integer(Int64($1)) }
    }

    public mutating func field(_ key: String, _ values: [String]) {
        self.key(key)
        array(values) { $0.string($1) }
    }

    public mutating func field<T: WireJSON>(_ key: String, _ values: [T]) {
        self.key(key)
        array(values) { $0.object($1) }
    }

    public mutating func field<T: WireJSON>(_ key: String, _ value: T) {
        self.key(key)
        object(value)
    }

    /// Writes `value` as a nested object.
    public mutating func object<T: WireJSON>(_ value: T) {
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
        value.write(to: &self)
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    // MARK: pieces

    private mutating func key(_ key: String) {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
        string(key)
        bytes.append(UInt8(ascii: ":"))
        needsComma = true
    }

    private mutating func array<T>(_ values: [T], _ element: (inout JSONWriter, T) -> Void) {
        bytes.append(UInt8(ascii: "["))
        for (i, v) in values.enumerated() {
            if i > 0 { bytes.append(UInt8(ascii: ",")) }
            element(&self, v)
        }
        bytes.append(UInt8(ascii: "]"))
    }

    private mutating func integer(_ v: Int64) {
        bytes += Array(String(v).utf8)
    }

    private static let hex = Array("0123456789abcdef".utf8)

    private mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): bytes += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: bytes += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20: bytes += Array("\\u00".utf8) + [Self.hex[Int(b >> 4)], Self.hex[Int(b & 0xF)]]
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}
