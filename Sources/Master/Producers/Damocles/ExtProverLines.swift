import Foundation
import Shared

/// One request line from damocles-manager: `{"id": <u64>, "task": <task>}`.
struct ExtProverRequest {
    var id: UInt64
    /// The task's JSON exactly as it came (the job's input).
    var taskJSON: Data
    var task: JSONValue

    enum ParseError: Error, CustomStringConvertible {
        /// Not a request at all: logged and skipped, no answer possible.
        case unreadable(String)
        /// A request with an id whose task is missing: answered with err_msg.
        case noTask(id: UInt64)

        var description: String {
            switch self {
            case let .unreadable(why): return why
            case .noTask: return "the request has no \"task\" object"
            }
        }
    }

    init(line: [UInt8]) throws {
        let value: JSONValue
        do { value = try line.withUnsafeBytes { try JSONValue.parse($0) } } catch {
            throw ParseError.unreadable("not a JSON line: \(error)")
        }
        guard case let .object(fields) = value else { throw ParseError.unreadable("not a JSON object") }
        guard case let .int(id)? = fields["id"], id >= 0 else { throw ParseError.unreadable("no \"id\" (an unsigned integer)") }
        self.id = UInt64(id)
        guard let task = fields["task"], case .object = task else { throw ParseError.noTask(id: self.id) }
        self.task = task
        taskJSON = RawJSONMember.value(of: "task", in: line).map { Data(line[$0]) } ?? Data(Self.serialized(task))
    }

    /// A member's value written again (only when its key was spelt with escapes).
    static func serialized(_ value: JSONValue) -> [UInt8] {
        Array((try? JSONSerialization.data(withJSONObject: foundation(value), options: [.sortedKeys])) ?? Data("{}".utf8))
    }

    static func foundation(_ value: JSONValue) -> Any {
        switch value {
        case .null: return NSNull()
        case let .bool(b): return b
        case let .int(i): return i
        case let .double(d): return d
        case let .string(s): return s
        case let .array(a): return a.map(foundation)
        case let .object(o): return o.mapValues(foundation)
        }
    }
}

/// One answer line to damocles-manager: `{"id","err_msg","output"}`.
enum ExtProverAnswer {
    /// A proof: `output` is the prover's JSON as it gave it, on one line.
    static func output(id: UInt64, _ output: [UInt8]) -> [UInt8] {
        Array("{\"id\":\(id),\"err_msg\":null,\"output\":".utf8) + output + Array("}\n".utf8)
    }

    /// A failure: `message` is never empty (damocles takes any err_msg, even "", as an error).
    static func error(id: UInt64, _ message: String) -> [UInt8] {
        let text = message.isEmpty ? "failed (no reason given)" : message
        let quoted = (try? JSONSerialization.data(withJSONObject: [text])).map { Array($0.dropFirst().dropLast()) } ?? Array("\"failed\"".utf8)
        return Array("{\"id\":\(id),\"err_msg\":".utf8) + quoted + Array(",\"output\":null}\n".utf8)
    }

    /// A job's output made one protocol line's value: it must be JSON, and a
    /// raw line break in valid JSON can only be whitespace, so breaks go.
    static func oneLine(_ output: Data) -> [UInt8]? {
        let bytes = output.filter { $0 != UInt8(ascii: "\n") && $0 != UInt8(ascii: "\r") }
        guard !bytes.isEmpty, (try? bytes.withUnsafeBytes({ try JSONValue.parse($0) })) != nil else { return nil }
        return Array(bytes)
    }
}

/// Finds a top-level member's value in a JSON object's bytes, as written.
/// Only for text already parsed as JSON (it does not validate).
enum RawJSONMember {
    static func value(of key: String, in bytes: [UInt8]) -> Range<Int>? {
        var i = 0
        func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0a, 0x0d].contains(bytes[i]) { i += 1 } }
        /// Past one string starting at `i` (a quote); returns its raw content.
        func skipString() -> ArraySlice<UInt8> {
            let start = i + 1
            i += 1
            while i < bytes.count, bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
            i += 1
            return bytes[start..<min(i - 1, bytes.count)]
        }
        /// Past one value starting at `i`: a string, a nested object or array, or a scalar.
        func skipValue() {
            var depth = 0
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    _ = skipString()
                    if depth == 0 { return }
                    continue
                }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") { depth += 1; i += 1; continue }
                if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    if depth == 0 { return }
                    depth -= 1
                    i += 1
                    if depth == 0 { return }
                    continue
                }
                if depth == 0 && (b == UInt8(ascii: ",") || [0x20, 0x09, 0x0a, 0x0d].contains(b)) { return }
                i += 1
            }
        }
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return nil }
        i += 1
        let wanted = Array(key.utf8)
        while i < bytes.count {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
            let name = skipString()
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { return nil }
            i += 1
            skipSpace()
            let start = i
            skipValue()
            if Array(name) == wanted { return start..<i }
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: ",") else { return nil }
            i += 1
        }
        return nil
    }
}
