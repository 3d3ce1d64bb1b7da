import Foundation

/// The vc-processors line protocol (damocles' processors and ext-provers):
/// one JSON object per line, `{"id", "task"}` to the child and
/// `{"id", "err_msg", "output"}` back, after the child's ready line.
enum VCProtocol {
    /// The line a child prints first, once it takes requests; damocles-worker
    /// compares it trimmed.
    static func readyLine(stage: String) -> String { "\(stage) processor ready" }

    static func isReady(_ line: Data, stage: String) -> Bool {
        String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) == readyLine(stage: stage)
    }

    /// The job's input as a request's task, as it is: a raw newline in valid
    /// JSON can only be whitespace (one inside a string is escaped), so
    /// turning CR and LF into spaces keeps the task and makes it one line.
    static func task(_ input: Data) throws -> Data {
        guard (try? JSONSerialization.jsonObject(with: input)) is [String: Any] else {
            throw JobFailure("the job's input is not a JSON object (a task)")
        }
        return Data(input.map { $0 == 0x0A || $0 == 0x0D ? 0x20 : $0 })
    }

    /// `{"id":ID,"task":TASK}`, TASK from `task(_:)`.
    static func request(id: UInt64, task: Data) -> Data {
        Data("{\"id\":\(id),\"task\":".utf8) + task + Data("}".utf8)
    }

    struct Response {
        let id: UInt64
        /// Any non-null err_msg is a failure, the empty string too.
        let errMsg: String?
        /// The bytes of `output` as the child wrote them; nil when absent or null.
        let output: Data?
    }

    enum ParseError: Error, CustomStringConvertible {
        /// Not a JSON object with a u64 `id`: logged and skipped.
        case notAResponse(String)
        /// A response to `id` whose other fields are wrong.
        case malformed(id: UInt64, String)

        var description: String {
            switch self {
            case .notAResponse(let why): return why
            case .malformed(_, let why): return why
            }
        }
    }

    static func response(_ line: Data) throws -> Response {
        guard let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] else {
            throw ParseError.notAResponse("not a JSON object")
        }
        // From the raw text: a u64 is digits only (no sign, fraction or exponent).
        let raw = members(Array(line))
        guard let idText = raw["id"].map({ String(decoding: $0, as: UTF8.self) }), !idText.isEmpty,
              idText.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), let id = UInt64(idText) else {
            throw ParseError.notAResponse("no u64 \"id\"")
        }
        let errMsg: String?
        switch object["err_msg"] {
        case nil, is NSNull: errMsg = nil
        case let text as String: errMsg = text
        default: throw ParseError.malformed(id: id, "err_msg is neither a string nor null")
        }
        let output = raw["output"].flatMap { $0 == Array("null".utf8) ? nil : Data($0) }
        return Response(id: id, errMsg: errMsg, output: output)
    }

    /// The raw bytes of each top-level member's value of a JSON object known
    /// to be valid (JSONSerialization accepted it), by key.
    static func members(_ bytes: [UInt8]) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        var i = 0
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D }
        func skipSpace() { while i < bytes.count && isSpace(bytes[i]) { i += 1 } }
        /// From an opening quote to just past the closing one.
        func skipString() {
            i += 1
            while i < bytes.count && bytes[i] != UInt8(ascii: "\"") { i += bytes[i] == UInt8(ascii: "\\") ? 2 : 1 }
            i += 1
        }
        /// From a value's first byte to just past its last.
        func skipValue() {
            var depth = 0
            while i < bytes.count {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    skipString()
                    if depth == 0 { return }
                    continue
                }
                if b == UInt8(ascii: "{") || b == UInt8(ascii: "[") {
                    depth += 1
                } else if b == UInt8(ascii: "}") || b == UInt8(ascii: "]") {
                    if depth == 0 { return }   // the object's own end, after a scalar
                    depth -= 1
                    if depth == 0 { i += 1; return }
                } else if depth == 0 && (b == UInt8(ascii: ",") || isSpace(b)) {
                    return
                }
                i += 1
            }
        }
        skipSpace()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "{") else { return [:] }
        i += 1
        while i < bytes.count {
            skipSpace()
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { break }
            let keyStart = i
            skipString()
            let keyBytes = Data(bytes[keyStart..<min(i, bytes.count)])
            let key = (try? JSONSerialization.jsonObject(with: keyBytes, options: .fragmentsAllowed)) as? String ?? ""
            skipSpace()
            i += 1   // ':'
            skipSpace()
            let valueStart = i
            skipValue()
            result[key] = Array(bytes[valueStart..<min(i, bytes.count)])
            skipSpace()
            if i < bytes.count && bytes[i] == UInt8(ascii: ",") { i += 1 }
        }
        return result
    }
}
