import Foundation

/// A made-up DBC compute node for `wdpost dbc doctor --root`: the files the
/// install guide's checks read, written so every check passes, and one
/// break per check that makes that check (and only it) fail.
struct MachineTreeFixture {
    let root: URL
    /// The node's dat/node.dat (outside the tree: `--node-dat` takes a plain path).
    let nodeDat: URL

    static let nodeID = String(repeating: "ab12", count: 16)

    /// Writes a ready machine under `dir`/root.
    init(in dir: URL) throws {
        root = dir.appendingPathComponent("root")
        nodeDat = dir.appendingPathComponent("node.dat")
        try write("/proc/cpuinfo", "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Silver 4214R\nflags\t\t: fpu vme de pse tsc msr vmx sse sse2\n\nprocessor\t: 1\nflags\t\t: fpu vme de pse tsc msr vmx sse sse2\n")
        try write("/dev/kvm", "")
        try mkdir("/sys/kernel/iommu_groups/0/devices")
        try mkdir("/sys/kernel/iommu_groups/1/devices")
        try write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz-5.15.0-91-generic root=/dev/sda2 ro quiet splash intel_iommu=on iommu=pt vfio-pci.ids=10de:2204,10de:1aef\n")
        try pci("0000:01:00.0", vendor: "0x10de", device: "0x2204", driver: "vfio-pci")
        try pci("0000:01:00.1", vendor: "0x10de", device: "0x1aef", driver: "vfio-pci")
        try pci("0000:00:1f.0", vendor: "0x8086", device: "0xa304", driver: "lpc_ich")
        try write("/proc/modules", """
            vfio_pci 16384 0 - Live 0x0000000000000000
            vfio_pci_core 77824 1 vfio_pci, Live 0x0000000000000000
            vfio 45056 2 vfio_pci_core, Live 0x0000000000000000
            br_netfilter 32768 0 - Live 0x0000000000000000
            bridge 307200 1 br_netfilter, Live 0x0000000000000000
            kvm_intel 372736 0 - Live 0x0000000000000000

            """)
        try write("/etc/modprobe.d/blacklist.conf", "# the guide's list\nblacklist nouveau\noptions nouveau modeset=0\nblacklist nvidiafb\nblacklist rivafb\n")
        try write("/etc/modprobe.d/vfio.conf", "options vfio-pci ids=10de:2204,10de:1aef\n")
        try write("/proc/sys/net/ipv4/ip_forward", "1\n")
        try write("/proc/sys/net/bridge/bridge-nf-call-iptables", "1\n")
        try write("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "1\n")
        try write("/etc/libvirt/libvirtd.conf", "# libvirtd\nlisten_tls = 0\nlisten_tcp = 1\n#auth_tcp = \"sasl\"\nauth_tcp = \"none\"\n")
        try write("/proc/mounts", "/dev/sda2 / ext4 rw,relatime 0 0\nproc /proc proc rw,nosuid,nodev,noexec,relatime 0 0\n/dev/sdb /data xfs rw,relatime,attr2,inode64,logbufs=8,logbsize=32k,prjquota 0 0\n")
        try write("/data/ubuntu.qcow2", "QFI\u{fb}image")
        try write("/data/ubuntu-2004.qcow2", "QFI\u{fb}image")
        try "node_id=\(Self.nodeID)\nnode_private_key=\(String(repeating: "9f", count: 32))\n".write(to: nodeDat, atomically: true, encoding: .utf8)
    }

    func url(_ path: String) -> URL { root.appendingPathComponent(String(path.dropFirst())) }

    func mkdir(_ path: String) throws {
        try FileManager.default.createDirectory(at: url(path), withIntermediateDirectories: true)
    }

    func write(_ path: String, _ text: String) throws {
        try mkdir((path as NSString).deletingLastPathComponent)
        try text.write(to: url(path), atomically: true, encoding: .utf8)
    }

    func remove(_ path: String) throws { try FileManager.default.removeItem(at: url(path)) }

    /// A PCI function as sysfs shows it; `driver` is a link whose last component names the driver.
    func pci(_ address: String, vendor: String, device: String, driver: String?) throws {
        let base = "/sys/bus/pci/devices/\(address)"
        try write("\(base)/vendor", vendor + "\n")
        try write("\(base)/device", device + "\n")
        try? FileManager.default.removeItem(at: url("\(base)/driver"))
        if let driver {
            try FileManager.default.createSymbolicLink(atPath: url("\(base)/driver").path,
                                                       withDestinationPath: "../../../../bus/pci/drivers/\(driver)")
        }
    }

    /// Makes exactly the named check fail, as a real machine would get it wrong.
    func breakCheck(_ name: String) throws {
        switch name {
        case "virtualization": try write("/proc/cpuinfo", "processor\t: 0\nflags\t\t: fpu vme de pse tsc msr sse sse2\n")
        case "kvm": try remove("/dev/kvm")
        case "iommu": try write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda2 ro quiet intel_iommu=on\n")
        case "vfio": try pci("0000:01:00.1", vendor: "0x10de", device: "0x1aef", driver: "snd_hda_intel")
        case "nouveau": try write("/etc/modprobe.d/blacklist.conf", "# blacklist nouveau\nblacklist nvidiafb\n")
        case "ip_forward": try write("/proc/sys/net/ipv4/ip_forward", "0\n")
        case "br_netfilter": try write("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "0\n")
        case "libvirt_tcp": try write("/etc/libvirt/libvirtd.conf", "#listen_tcp = 1\nauth_tcp = \"none\"\n")
        case "data_disk": try write("/proc/mounts", "/dev/sda2 / ext4 rw,relatime 0 0\n/dev/sdb /data ext4 rw,relatime 0 0\n")
        case "images": try remove("/data/ubuntu.qcow2")
        case "node_dat": try "node_id=0x\(Self.nodeID)\nnode_private_key=aa\n".write(to: nodeDat, atomically: true, encoding: .utf8)
        default: throw TestFailure("no break for check \(name)")
        }
    }
}
