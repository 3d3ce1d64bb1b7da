import Foundation

/// A message with a hand-written JSON form, for the requests every job makes
/// (pull, finish, heartbeat and their answers) and for submits, which carry
/// hundreds of jobs each. Foundation's `JSONEncoder`
/// and `JSONDecoder` cost the master about a third of its CPU per job and a
/// slave more than half; these write and read the same JSON (the same keys,
/// `Data` as base64) directly. What goes over the wire does not change: either
/// side may still use Foundation's coders, and `WireJSONTests` holds the two
/// to the same results.
public protocol WireJSON {
    init(json: JSONValue) throws
    func write(to json: inout JSONWriter)
}

/// A parsed JSON document.
public enum JSONValue: Equatable {
    case null
    case bool(Bool)
    case int(Int64)
    /// A number with a fraction or an exponent, or beyond Int64.
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses one JSON document (RFC 8259; nesting limited to `maxDepth`).
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        reader.skipSpace()
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.atEnd else { throw reader.error("trailing characters") }
        return value
    }

    public static let maxDepth = 64
}

/// Reads a message's fields from its parsed object, with errors that name them.
public struct JSONFields {
    let fields: [String: JSONValue]
    let type: String

    public init(_ value: JSONValue, _ type: String) throws {
        guard case let .object(fields) = value else { throw ErrorMessage("\(type): expected a JSON object") }
        self.fields = fields
        self.type = type
    }

    private func present(_ key: String) -> JSONValue? {
        guard let value = fields[key], value != .null else { return nil }
        return value
    }

    private func required(_ key: String) throws -> JSONValue {
        guard let value = present(key) else { throw ErrorMessage("\(type): missing \"\(key)\"") }
        return value
    }

    private func wrong(_ key: String, _ expected: String) -> ErrorMessage {
        ErrorMessage("\(type): \"\(key)\" must be \(expected)")
    }

    public func string(_ key: String) throws -> String {
        guard case let .string(s) = try required(key) else { throw wrong(key, "a string") }
        return s
    }

    public func int64(_ key: String) throws -> Int64 {
        switch try required(key) {
        case let .int(v): return v
        case let .double(d) where d.rounded() == d && abs(d) < 9.2e18: return Int64(d)
        default: throw wrong(key, "an integer")
        }
    }

    public func int(_ key: String) throws -> Int {
        let v = try int64(key)
        guard let i = Int(exactly: v) else { throw wrong(key, "an integer") }
        return i
    }

    public func bool(_ key: String) throws -> Bool {
        guard case let .bool(b) = try required(key) else { throw wrong(key, "true or false") }
        return b
    }

    /// `Data`, written as base64 (as `JSONEncoder` does).
    public func data(_ key: String) throws -> Data {
        guard case let .string(s) = try required(key), let data = Data(base64Encoded: s) else { throw wrong(key, "base64 data") }
        return data
    }

    /// nil when the key is absent or null.
    public func optionalString(_ key: String) throws -> String? {
        present(key) == nil ? nil : try string(key)
    }

    public func optionalInt64(_ key: String) throws -> Int64? {
        present(key) == nil ? nil : try int64(key)
    }

    public func optionalInt(_ key: String) throws -> Int? {
        present(key) == nil ? nil : try int(key)
    }

    public func optionalBool(_ key: String) throws -> Bool? {
        present(key) == nil ? nil : try bool(key)
    }

    public func optionalData(_ key: String) throws -> Data? {
        present(key) == nil ? nil : try data(key)
    }

    public func ints(_ key: String) throws -> [Int] {
        try array(key).map { v in
            guard case let .int(i) = v, let n = Int(exactly: i) else { throw wrong(key, "an array of integers") }
            return n
        }
    }

    public func strings(_ key: String) throws -> [String] {
        try array(key).map { v in
            guard case let .string(s) = v else { throw wrong(key, "an array of strings") }
            return s
        }
    }

    public func objects<T: WireJSON>(_ key: String, _: T.Type) throws -> [T] {
        try array(key).map { try T(json: $0) }
    }

    /// nil when the key is absent or null.
    public func optionalObjects<T: WireJSON>(_ key: String, _: T.Type) throws -> [T]? {
        present(key) == nil ? nil : try objects(key, T.self)
    }

    public func optionalObject<T: WireJSON>(_ key: String, _: T.Type) throws -> T? {
        try present(key).map { try T(json: $0) }
    }

    public func array(_ key: String) throws -> [JSONValue] {
        guard case let .array(a) = try required(key) else { throw wrong(key, "an array") }
        return a
    }
}

/// A recursive-descent reader over the payload's bytes.
struct JSONReader {
    let bytes: UnsafeRawBufferPointer
    var at = 0

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var atEnd: Bool { at >= bytes.count }

    func error(_ what: String) -> ErrorMessage { ErrorMessage("JSON: \(what) at byte \(at)") }

    mutating func skipSpace() {
        while at < bytes.count, bytes[at] == 0x20 || bytes[at] == 0x0A || bytes[at] == 0x0D || bytes[at] == 0x09 { at += 1 }
    }

    mutating func expect(_ literal: StaticString) throws {
        let n = literal.utf8CodeUnitCount
        guard at + n <= bytes.count else { throw error("unexpected end") }
        for i in 0..<n where bytes[at + i] != literal.utf8Start[i] { throw error("unexpected character") }
        at += n
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < JSONValue.maxDepth else { throw error("nested too deeply") }
        guard at < bytes.count else { throw error("unexpected end") }
        switch bytes[at] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): try expect("true"); return .bool(true)
        case UInt8(ascii: "f"): try expect("false"); return .bool(false)
        case UInt8(ascii: "n"): try expect("null"); return .null
        default: return try number()
        }
    }

    mutating func object(depth: Int) throws -> JSONValue {
        at += 1
        var fields: [String: JSONValue] = [:]
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "}") { at += 1; return .object(fields) }
        while true {
            skipSpace()
            guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw error("expected a key") }
            let key = try string()
            skipSpace()
            try expect(":")
            skipSpace()
            fields[key] = try value(depth: depth + 1)
            skipSpace()
            guard at < bytes.count else { throw error("unexpected end") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "}") { at += 1; return .object(fields) }
            throw error("expected , or }")
        }
    }

    mutating func array(depth: Int) throws -> JSONValue {
        at += 1
        var items: [JSONValue] = []
        skipSpace()
        if at < bytes.count, bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
        while true {
            skipSpace()
            items.append(try value(depth: depth + 1))
            skipSpace()
            guard at < bytes.count else { throw error("unexpected end") }
            if bytes[at] == UInt8(ascii: ",") { at += 1; continue }
            if bytes[at] == UInt8(ascii: "]") { at += 1; return .array(items) }
            throw error("expected , or ]")
        }
    }

    mutating func string() throws -> String {
        at += 1
        let start = at
        // Fast path: no escapes, the bytes are the string.
        while at < bytes.count {
            let b = bytes[at]
            if b == UInt8(ascii: "\"") {
                let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
                at += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in a string") }
            at += 1
        }
        var out = Array(bytes[start..<at])
        while at < bytes.count {
            let b = bytes[at]
            at += 1
            switch b {
            case UInt8(ascii: "\""):
                return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { throw error("unexpected end") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar) {
                        // A high surrogate must be followed by an escaped low one.
                        try expect("\\u")
                        let low = try hex4()
                        guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired surrogate") }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    } else if (0xDC00..<0xE000).contains(scalar) {
                        throw error("unpaired surrogate")
                    }
                    guard let u = Unicode.Scalar(scalar) else { throw error("invalid escape") }
                    out.append(contentsOf: Array(String(Character(u)).utf8))
                default: throw error("invalid escape")
                }
            default:
                if b < 0x20 { throw error("control character in a string") }
                out.append(b)
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard at + 4 <= bytes.count else { throw error("unexpected end") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[at]
            at += 1
            let d: UInt8
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = b - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = b - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = b - UInt8(ascii: "A") + 10
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        return v
    }

    mutating func number() throws -> JSONValue {
        let start = at
        if at < bytes.count, bytes[at] == UInt8(ascii: "-") { at += 1 }
        let digits = at
        while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
        guard at > digits else { throw error("unexpected character") }
        guard bytes[digits] != UInt8(ascii: "0") || at == digits + 1 else { throw error("leading zero") }
        var integral = true
        if at < bytes.count, bytes[at] == UInt8(ascii: ".") {
            integral = false
            at += 1
            let frac = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            guard at > frac else { throw error("digits expected after .") }
        }
        if at < bytes.count, bytes[at] == UInt8(ascii: "e") || bytes[at] == UInt8(ascii: "E") {
            integral = false
            at += 1
            if at < bytes.count, bytes[at] == UInt8(ascii: "+") || bytes[at] == UInt8(ascii: "-") { at += 1 }
            let exp = at
            while at < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[at]) { at += 1 }
            guard at > exp else { throw error("digits expected in the exponent") }
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<at]), as: UTF8.self)
        if integral, let v = Int64(text) { return .int(v) }
        guard let d = Double(text) else { throw error("invalid number") }
        return .double(d)
    }
}
