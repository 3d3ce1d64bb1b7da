import Foundation
import Shared

/// The compute-node install guide's checklist (DBC.md §2) run on one host:
/// every check reads files under `tree` (and one TCP connect to libvirtd),
/// changes nothing, and says what it saw and the guide's fix.
public struct NodeDoctor: Sendable {
    public var tree: MachineTree
    /// libvirtd's TCP listener (DBC connects over qemu+tcp://localhost:16509/system).
    public var libvirt: HostPort
    /// The DBC node's dat/node.dat, read as given (not under the root); nil: not checked.
    public var nodeDat: String?
    /// How long the libvirt connect may take.
    public var connectTimeoutMs: Int32

    public static let defaultLibvirt = HostPort(host: "127.0.0.1", port: 16509)

    public init(tree: MachineTree = MachineTree(), libvirt: HostPort = NodeDoctor.defaultLibvirt, nodeDat: String? = nil,
                connectTimeoutMs: Int32 = 2_000) {
        self.tree = tree; self.libvirt = libvirt; self.nodeDat = nodeDat; self.connectTimeoutMs = connectTimeoutMs
    }

    /// Every check, in `DoctorCheck.names` order.
    public func run() -> [DoctorCheck] {
        [virtualization(), kvm(), iommu(), vfio(), nouveau(), ipForward(), brNetfilter(), libvirtTCP(), dataDisk(), images(),
         nodeDatCheck()]
    }

    /// The whole report passes: every check ok (a skipped check is ok).
    public static func passed(_ checks: [DoctorCheck]) -> Bool { checks.allSatisfy(\.ok) }

    func result(_ name: String, _ failures: [String], passed: String, fix: String) -> DoctorCheck {
        DoctorCheck(check: name, ok: failures.isEmpty, detail: failures.isEmpty ? passed : failures.joined(separator: "; "), fix: fix)
    }

    /// The kernel command line's words (/proc/cmdline).
    var cmdline: [String]? { tree.text("/proc/cmdline").map { $0.split(whereSeparator: \.isWhitespace).map(String.init) } }
}
