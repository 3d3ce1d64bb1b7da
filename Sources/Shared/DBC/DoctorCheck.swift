import Foundation

extension JobKind {
    /// The install guide's readiness checks on the slave's host; its output is the JSON report.
    public static let dbcDoctor = "dbc-doctor"
}

/// One readiness check of a DBC compute node (`wdpost dbc doctor`): what
/// was seen and, whatever the verdict, the install guide's fix. Encoded as
/// `{"check", "ok", "detail", "fix"}`, the report's public form.
public struct DoctorCheck: Codable, Sendable, Equatable {
    public var check: String
    public var ok: Bool
    public var detail: String
    public var fix: String
    /// Not run (nothing to check against); passes. Not encoded: the detail says so.
    public var skipped: Bool

    enum CodingKeys: String, CodingKey { case check, ok, detail, fix }

    public init(check: String, ok: Bool, detail: String, fix: String, skipped: Bool = false) {
        self.check = check; self.ok = ok; self.detail = detail; self.fix = fix; self.skipped = skipped
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        check = try c.decode(String.self, forKey: .check)
        ok = try c.decode(Bool.self, forKey: .ok)
        detail = try c.decode(String.self, forKey: .detail)
        fix = try c.decode(String.self, forKey: .fix)
        skipped = false
    }

    /// Every check, in the report's order.
    public static let names = ["virtualization", "kvm", "iommu", "vfio", "nouveau", "ip_forward", "br_netfilter",
                               "libvirt_tcp", "data_disk", "images", "node_dat"]
}

/// Input of a `dbc-doctor` job (all optional; `{}` or empty = the defaults).
/// The machine tree's root is the slave's own (`[dbc] doctor_root`), not the submitter's.
public struct DBCDoctorInput: Codable, Sendable {
    /// HOST:PORT of libvirtd's TCP listener (default 127.0.0.1:16509).
    public var libvirt: String?
    /// The DBC node's `dat/node.dat`; without it `node_dat` is not checked.
    public var nodeDat: String?
    enum CodingKeys: String, CodingKey { case libvirt, nodeDat = "node_dat" }
    public init(libvirt: String? = nil, nodeDat: String? = nil) { self.libvirt = libvirt; self.nodeDat = nodeDat }
}

public enum DoctorReport {
    /// The report as `wdpost dbc doctor --json` prints it and a `dbc-doctor` job returns it.
    public static func json(_ checks: [DoctorCheck]) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(checks)) ?? Data("[]".utf8)
    }

    public static func decode(_ data: Data) throws -> [DoctorCheck] {
        do { return try JSONDecoder().decode([DoctorCheck].self, from: data) } catch {
            throw ErrorMessage("not a doctor report (expected [{\"check\", \"ok\", \"detail\", \"fix\"}]): \(error)")
        }
    }
}
