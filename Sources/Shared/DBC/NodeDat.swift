import Foundation

/// The DBC compute node's `dat/node.dat`: `key=value` lines, among them
/// `node_id=` (the machine id) and the node's private key. Read by the node
/// doctor's `node_dat` check and by a slave's `[dbc] node_dat`.
public enum NodeDat {
    /// Every `key=value` line, keys and values trimmed; lines without `=` are skipped.
    public static func keys(_ text: String) -> [String: String] {
        var keys: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            guard let eq = line.firstIndex(of: "=") else { continue }
            keys[line[..<eq].trimmingCharacters(in: .whitespaces)] = line[line.index(after: eq)...].trimmingCharacters(in: .whitespaces)
        }
        return keys
    }

    /// A DBC node (machine) id: 64 lowercase hex digits, no 0x.
    public static func isNodeID(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    public struct ReadError: Error, CustomStringConvertible {
        public let description: String
    }

    /// The node id of the node.dat at `path`; throws, naming the file and what is wrong.
    public static func nodeID(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ReadError(description: "cannot read \(path): \(String(cString: strerror(errno)))")
        }
        guard let id = keys(String(decoding: data, as: UTF8.self))["node_id"] else {
            throw ReadError(description: "no node_id= line in \(path)")
        }
        guard isNodeID(id) else { throw ReadError(description: "node_id \"\(id.prefix(80))\" in \(path) is not 64 lowercase hex digits") }
        return id
    }
}
