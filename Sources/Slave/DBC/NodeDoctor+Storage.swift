import Foundation
import Shared

/// The checks of what stays on disk: the XFS data disk, the VM images, the
/// node's identity file.
extension NodeDoctor {
    /// /data is its own XFS filesystem with project quota (renters' disks are
    /// quota'd directories). /proc/mounts shows `pquota` as `prjquota`.
    func dataDisk() -> DoctorCheck {
        let fix = "make /data its own XFS filesystem with project quota: mkfs.xfs -n ftype=1 -f /dev/DISK, mount -o pquota /dev/DISK /data, and add \"/dev/DISK /data xfs pquota 0 1\" to /etc/fstab"
        guard let mounts = tree.text("/proc/mounts") else { return result("data_disk", ["cannot read /proc/mounts"], passed: "", fix: fix) }
        // The last mount on /data is the one in use.
        let entry = mounts.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            .last { $0.count >= 4 && $0[1] == "/data" }
        guard let entry else { return result("data_disk", ["no filesystem is mounted on /data (/proc/mounts)"], passed: "", fix: fix) }
        var failures: [String] = []
        let (device, type, options) = (entry[0], entry[2], entry[3].split(separator: ",").map(String.init))
        if type != "xfs" { failures.append("/data is \(type) on \(device), not xfs") }
        if !options.contains("prjquota") && !options.contains("pquota") {
            failures.append("/data is mounted without project quota (options \(entry[3]); want pquota/prjquota)")
        }
        return result("data_disk", failures, passed: "/data is xfs on \(device) with project quota", fix: fix)
    }

    /// Both images the guide downloads: check_env boots ubuntu.qcow2, and the
    /// guide names ubuntu-2004.qcow2 beside it. An empty file is a failed download.
    func images() -> DoctorCheck {
        let wanted = ["ubuntu.qcow2", "ubuntu-2004.qcow2"]
        let present = (tree.list("/data") ?? []).filter { $0.hasSuffix(".qcow2") }
        var failures: [String] = []
        for name in wanted {
            if !present.contains(name) {
                failures.append("/data/\(name) is missing")
            } else if tree.size("/data/\(name)") == 0 {
                failures.append("/data/\(name) is empty")
            }
        }
        let found = present.isEmpty ? "no .qcow2 in /data" : "in /data: " + present.joined(separator: ", ")
        return result("images", failures.isEmpty ? [] : failures + [found], passed: found,
                      fix: "download the DBC VM images (ubuntu.qcow2, ubuntu-2004.qcow2) into /data")
    }

    /// dat/node.dat holds `node_id=` (the machine id: 64 lowercase hex, an
    /// sr25519 public key) and the node's private key, assumed to be the
    /// `node_private_key=` line DBC's compute node writes beside it.
    func nodeDatCheck() -> DoctorCheck {
        let fix = "keep the DBC node's dat/node.dat (node_id and its private key) and back it up: losing it costs half the stake"
        guard let path = nodeDat else {
            return DoctorCheck(check: "node_dat", ok: true, detail: "not checked: no --node-dat PATH given (the DBC install's dat/node.dat)",
                               fix: fix, skipped: true)
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return result("node_dat", ["cannot read \(path)"], passed: "", fix: fix)
        }
        let keys = NodeDat.keys(String(decoding: data, as: UTF8.self))
        var failures: [String] = []
        let id = keys["node_id"]
        if let id {
            if !NodeDat.isNodeID(id) { failures.append("node_id \"\(id.prefix(80))\" in \(path) is not 64 lowercase hex digits") }
        } else {
            failures.append("no node_id= line in \(path)")
        }
        if (keys["node_private_key"] ?? "").isEmpty { failures.append("no node_private_key= line in \(path)") }
        return result("node_dat", failures, passed: "\(path): node_id \(id ?? ""), private key present", fix: fix)
    }
}
