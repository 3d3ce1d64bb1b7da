import Foundation

/// Read-only access to a host's /proc, /sys, /dev, /etc and /data under a
/// root directory: "/" on the machine itself, a made-up tree in tests or for
/// a host whose files are mounted elsewhere. Nothing here writes.
public struct MachineTree: Sendable {
    public let root: String

    public init(root: String = "/") {
        var r = root.isEmpty ? "/" : root
        while r.count > 1 && r.hasSuffix("/") { r.removeLast() }
        self.root = r
    }

    /// `path` (absolute, as on the host) under the root.
    public func path(_ path: String) -> String { root == "/" ? path : root + path }

    public func text(_ path: String) -> String? {
        guard let data = FileManager.default.contents(atPath: self.path(path)) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// The file's first line, trimmed (sysfs and procfs values).
    public func value(_ path: String) -> String? {
        text(path).map { String($0.split(separator: "\n", omittingEmptySubsequences: false).first ?? "").trimmingCharacters(in: .whitespaces) }
    }

    public func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: self.path(path)) }

    /// Entry names of a directory, sorted; nil when it cannot be listed.
    public func list(_ path: String) -> [String]? {
        (try? FileManager.default.contentsOfDirectory(atPath: self.path(path)))?.sorted()
    }

    /// The last component of a symbolic link's target (a sysfs `driver` link names its driver so).
    public func linkName(_ path: String) -> String? {
        guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: self.path(path)) else { return nil }
        return (target as NSString).lastPathComponent
    }

    public func size(_ path: String) -> UInt64? {
        (try? FileManager.default.attributesOfItem(atPath: self.path(path)))?[.size] as? UInt64
    }

    /// Names of the loaded modules (/proc/modules' first column).
    public func loadedModules() -> Set<String>? {
        text("/proc/modules").map { Set($0.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) }) }
    }

    /// Whether a module is in the kernel: loaded (/proc/modules) or built in (/sys/module/NAME).
    public func hasModule(_ name: String) -> Bool {
        loadedModules()?.contains(name) == true || exists("/sys/module/\(name)")
    }

    /// Lines of every `*.conf` in a directory (modprobe.d style), comments and blanks dropped, with their file.
    public func confLines(in directory: String) -> [(file: String, line: String)] {
        var out: [(String, String)] = []
        for name in list(directory) ?? [] where name.hasSuffix(".conf") {
            for raw in (text("\(directory)/\(name)") ?? "").split(separator: "\n") {
                let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
                    .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if !line.isEmpty { out.append(("\(directory)/\(name)", line)) }
            }
        }
        return out
    }
}
