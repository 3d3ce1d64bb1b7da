import Foundation
import Shared

/// A master.toml in `dir` with two token files beside it, loaded: for unit
/// tests that need a `MasterConfig` without a running master.
enum MasterConfigFixture {
    /// `extra` is appended after the `[server]` section (more sections of its own).
    static func load(in dir: URL, extra: String = "") throws -> MasterConfig {
        try "s".write(to: dir.appendingPathComponent("slave.token"), atomically: true, encoding: .utf8)
        try "a".write(to: dir.appendingPathComponent("admin.token"), atomically: true, encoding: .utf8)
        let path = dir.appendingPathComponent("master.toml")
        try """
            [server]
            token_file = "slave.token"
            admin_token_file = "admin.token"
            \(extra)
            """.write(to: path, atomically: true, encoding: .utf8)
        return try MasterConfig.load(path: path.path)
    }
}
