import Foundation
import TOMLKit

public struct ConfigError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Reads typed values out of one TOML file and remembers which keys it read,
/// so that a misspelt or unknown key stops start-up instead of being ignored.
/// Every error names the file, the key and what was expected.
public final class ConfigReader {
    public let path: String
    let root: TOMLTable
    private var known: [String: Set<String>] = [:]   // section → keys read

    public init(path: String) throws {
        self.path = path
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError("\(path): cannot read the file")
        }
        do {
            root = try TOMLTable(string: text)
        } catch let error as TOMLParseError {
            throw ConfigError("\(path): \(error.description) (\(error.source.begin))")
        }
    }

    /// Directory of the file, against which relative paths in it are resolved.
    public var directory: String { (path as NSString).deletingLastPathComponent }

    public func resolvePath(_ value: String) -> String {
        if value.hasPrefix("/") || value.isEmpty { return value }
        return ((directory.isEmpty ? "." : directory) as NSString).appendingPathComponent(value)
    }

    func fail(_ section: String, _ key: String, _ expected: String, _ value: TOMLValueConvertible?) -> ConfigError {
        let got = value.map { " got \($0.debugDescription)" } ?? ""
        return ConfigError("\(path): [\(section)] \(key): expected \(expected);\(got)")
    }

    func table(_ section: String) throws -> TOMLTable? {
        known[section, default: []].formUnion([])
        guard let value = root[section] else { return nil }
        guard let table = value.table else { throw ConfigError("\(path): [\(section)] must be a table") }
        return table
    }

    func value(_ section: String, _ key: String) throws -> TOMLValueConvertible? {
        known[section, default: []].insert(key)
        return try table(section)?[key]
    }

    public func string(_ section: String, _ key: String, default def: String) throws -> String {
        guard let v = try value(section, key) else { return def }
        guard let s = v.string else { throw fail(section, key, "a string", v) }
        return s
    }

    public func int(_ section: String, _ key: String, default def: Int, min: Int = Int.min) throws -> Int {
        guard let v = try value(section, key) else { return def }
        guard let i = v.int else { throw fail(section, key, "an integer", v) }
        guard i >= min else { throw fail(section, key, "an integer ≥ \(min)", v) }
        return i
    }

    public func bool(_ section: String, _ key: String, default def: Bool) throws -> Bool {
        guard let v = try value(section, key) else { return def }
        guard let b = v.bool else { throw fail(section, key, "true or false", v) }
        return b
    }

    /// Durations are strings like "15s"; returns microseconds.
    public func duration(_ section: String, _ key: String, default def: String, allowZero: Bool = false) throws -> Int64 {
        guard let v = try value(section, key) else { return try DurationText.micros(def) }
        let expected = "a duration string such as \"15s\", \"10m\", \"25h0m0s\" or \"2days\"\(allowZero ? "" : ", above zero")"
        guard let s = v.string else { throw fail(section, key, expected, v) }
        let micros: Int64
        do { micros = try DurationText.micros(s) } catch let error as DurationText.ParseError where error.tooLong {
            throw fail(section, key, "a duration of at most \(DurationText.maxText)", v)
        } catch { throw fail(section, key, expected, v) }
        guard micros > 0 || (allowZero && micros == 0) else { throw fail(section, key, expected, v) }
        return micros
    }

    public func stringArray(_ section: String, _ key: String, default def: [String] = []) throws -> [String] {
        guard let v = try value(section, key) else { return def }
        guard let array = v.array else { throw fail(section, key, "an array of strings", v) }
        return try array.map { item in
            guard let s = item.string else { throw fail(section, key, "an array of strings", v) }
            return s
        }
    }

    /// `host:port`, with a port in 0…65535 (0 = any free port, for tests).
    public func address(_ section: String, _ key: String, default def: String) throws -> HostPort {
        let text = try string(section, key, default: def)
        guard let hp = HostPort(text) else { throw fail(section, key, "an address \"host:port\"", text) }
        return hp
    }

    /// Call after reading everything: any key or section that was not read is an error.
    public func rejectUnknown(ignoringSections: Set<String> = []) throws {
        for section in root.keys where !ignoringSections.contains(section) {
            guard let keys = known[section] else {
                throw ConfigError("\(path): unknown section [\(section)] (known: \(known.keys.sorted().joined(separator: ", ")))")
            }
            guard let table = root[section]?.table else { continue }
            for key in table.keys where !keys.contains(key) {
                throw ConfigError("\(path): [\(section)] unknown key \"\(key)\" (known: \(keys.sorted().joined(separator: ", ")))")
            }
        }
    }

    /// What start-up should warn about without refusing (a token file others can read).
    public private(set) var warnings: [String] = []

    /// Reads a secret token file (see `readToken`), warning when others may read or change it.
    /// Without the key, the file `beside` the config file is used: the
    /// master (`create`) makes it when missing, a slave stops and says to copy it.
    public func token(_ section: String, _ key: String, beside defaultName: String? = nil, create: Bool = false) throws -> [UInt8] {
        let given = try string(section, key, default: "")
        var file = resolvePath(given)
        var context = "\(path): [\(section)] \(key)"
        if given.isEmpty {
            guard let defaultName else { throw ConfigError("\(context): required (a file holding the shared token)") }
            file = resolvePath(defaultName)
            context = "\(path): no [\(section)] \(key), so \(file)"
            if !FileManager.default.fileExists(atPath: file) {
                guard create else {
                    throw ConfigError("\(context): the token file is missing; copy the master's \(defaultName) (created beside the master's config on its first start) to \(file) with mode 600, or set [\(section)] \(key)")
                }
                try TokenFile.create(file, context: context)
                notices.append("\(context): created a new random token; copy it to every \(defaultName == "slave.token" ? "slave (beside its config, as slave.token)" : "admin host that runs wdpost commands with --token-file")")
            }
        }
        let token = try readToken(file, context: context)
        warnings += tokenFileWarnings(file, token: token, context: context)
        return token
    }

    /// What start-up should log as information (a token file just created).
    public private(set) var notices: [String] = []
}

/// A token file's secret: a text token without its surrounding whitespace
/// (what `echo … > slave.token` writes), or, when the file is not UTF-8 text,
/// its raw bytes as they are (`head -c 32 /dev/urandom > slave.token`). Both
/// ends read the file alike, so either form gives the same key.
public func readToken(_ file: String, context: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: file) else {
        throw ConfigError("\(context): cannot read token file \(file)")
    }
    let token: [UInt8]
    if let text = String(data: data, encoding: .utf8) {
        token = Array(text.trimmingCharacters(in: .whitespacesAndNewlines).utf8)
    } else {
        token = Array(data)
    }
    guard !token.isEmpty else { throw ConfigError("\(context): token file \(file) is empty") }
    return token
}

/// Warnings for a token file that group or others may read or write, or a
/// token short enough to guess.
func tokenFileWarnings(_ file: String, token: [UInt8], context: String) -> [String] {
    var out: [String] = []
    var st = stat()
    if stat(file, &st) == 0, st.st_mode & 0o077 != 0 {
        out.append("\(context): token file \(file) is accessible to group or others (mode \(String(st.st_mode & 0o777, radix: 8))); run chmod 600 \(file)")
    }
    if token.count < 16 {
        out.append("\(context): the token in \(file) is \(token.count) bytes; use at least 16 random bytes (e.g. openssl rand -hex 32)")
    }
    return out
}

public struct HostPort: Sendable, CustomStringConvertible, Equatable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) { self.host = host; self.port = port }

    public init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty, let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else { return nil }
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
