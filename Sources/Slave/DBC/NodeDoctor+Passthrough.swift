import Foundation
import Shared

/// The checks that let a VM own the GPUs: CPU virtualisation, KVM, the
/// IOMMU, GPUs on vfio-pci, host drivers kept off.
extension NodeDoctor {
    func virtualization() -> DoctorCheck {
        let fix = "enable VT-x (Intel) or AMD-V (AMD) in the BIOS; egrep -c '(vmx|svm)' /proc/cpuinfo must then be above 0"
        guard let text = tree.text("/proc/cpuinfo") else {
            return result("virtualization", ["cannot read /proc/cpuinfo"], passed: "", fix: fix)
        }
        var flags = Set<String>()
        for line in text.split(separator: "\n") where line.hasPrefix("flags") {
            if let colon = line.firstIndex(of: ":") { flags.formUnion(line[line.index(after: colon)...].split(separator: " ").map(String.init)) }
        }
        let seen = ["vmx", "svm"].filter(flags.contains)
        return result("virtualization", seen.isEmpty ? ["no vmx or svm in the /proc/cpuinfo flags"] : [],
                      passed: "\(seen.joined(separator: ", ")) in the /proc/cpuinfo flags", fix: fix)
    }

    func kvm() -> DoctorCheck {
        result("kvm", tree.exists("/dev/kvm") ? [] : ["/dev/kvm does not exist (kvm-ok fails)"], passed: "/dev/kvm exists",
               fix: "enable VT-d / AMD-Vi in the BIOS and install KVM: apt-get install qemu-kvm libvirt-clients libvirt-daemon-system bridge-utils virt-manager ovmf cpu-checker; kvm-ok must say /dev/kvm exists")
    }

    func iommu() -> DoctorCheck {
        var failures: [String] = []
        let groups = tree.list("/sys/kernel/iommu_groups") ?? []
        if groups.isEmpty { failures.append("/sys/kernel/iommu_groups is empty or missing (the IOMMU is off)") }
        let words = cmdline
        if let words {
            if !words.contains("intel_iommu=on") && !words.contains("amd_iommu=on") {
                failures.append("no intel_iommu=on or amd_iommu=on on the kernel command line")
            }
            if !words.contains("iommu=pt") { failures.append("no iommu=pt on the kernel command line") }
        } else {
            failures.append("cannot read /proc/cmdline")
        }
        let on = words?.filter { $0.hasSuffix("iommu=on") || $0 == "iommu=pt" }.joined(separator: " ") ?? ""
        return result("iommu", failures, passed: "\(groups.count) IOMMU groups; \(on) on the kernel command line",
                      fix: "enable VT-d / AMD-Vi in the BIOS; add intel_iommu=on iommu=pt (AMD: amd_iommu=on iommu=pt) to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, run update-grub and reboot")
    }

    /// Every NVIDIA PCI function (GPUs and their audio functions alike) must
    /// be bound to vfio-pci, and the vfio_pci module present (loaded, or
    /// built in: /sys/module/vfio_pci, which the guide's check of
    /// /proc/modules would miss on a kernel that builds it in).
    func vfio() -> DoctorCheck {
        let base = "/sys/bus/pci/devices"
        var nvidia: [(address: String, id: String, driver: String?)] = []
        for address in tree.list(base) ?? [] where tree.value("\(base)/\(address)/vendor")?.lowercased() == "0x10de" {
            let device = tree.value("\(base)/\(address)/device")?.lowercased().replacingOccurrences(of: "0x", with: "") ?? "????"
            nvidia.append((address, "10de:\(device)", tree.linkName("\(base)/\(address)/driver")))
        }
        let ids = Array(Set(nvidia.map(\.id))).sorted().joined(separator: ",")
        let fix = "bind every NVIDIA function to vfio-pci: vfio-pci.ids=\(ids.isEmpty ? "10de:DEVICE,…" : ids) on the kernel command line (GRUB_CMDLINE_LINUX_DEFAULT, update-grub), or \"options vfio-pci ids=…\" in /etc/modprobe.d/vfio.conf and update-initramfs -u, then reboot; or bind by hand"
        var failures: [String] = []
        if nvidia.isEmpty { failures.append("no NVIDIA PCI function (vendor 0x10de) in \(base)") }
        let unbound = nvidia.filter { $0.driver != "vfio-pci" }
        if !unbound.isEmpty {
            failures.append("not on vfio-pci: " + unbound.map { "\($0.address) (\($0.id)) \($0.driver.map { "driver \($0)" } ?? "no driver")" }
                .joined(separator: ", "))
        }
        if !tree.hasModule("vfio_pci") { failures.append("module vfio_pci is not loaded (/proc/modules)") }
        return result("vfio", failures, passed: "\(nvidia.count) NVIDIA function\(nvidia.count == 1 ? "" : "s") (\(ids)) on vfio-pci; vfio_pci loaded",
                      fix: fix)
    }

    /// nouveau blacklisted in /etc/modprobe.d and not loaded. The guide's
    /// blacklist also names NVIDIA's framebuffer drivers; those are checked
    /// as not loaded (assumed: nvidiafb, rivafb), since a loaded one holds the GPU too.
    func nouveau() -> DoctorCheck {
        var failures: [String] = []
        let lines = tree.confLines(in: "/etc/modprobe.d")
        let blacklisted = lines.first { $0.line.split(whereSeparator: \.isWhitespace).map(String.init) == ["blacklist", "nouveau"] }
        if blacklisted == nil { failures.append("nouveau is not blacklisted in /etc/modprobe.d/*.conf") }
        if let loaded = tree.loadedModules() {
            let held = ["nouveau", "nvidiafb", "rivafb"].filter(loaded.contains)
            if !held.isEmpty { failures.append("loaded: \(held.joined(separator: ", ")) (/proc/modules)") }
        } else {
            failures.append("cannot read /proc/modules")
        }
        return result("nouveau", failures, passed: "blacklisted in \(blacklisted?.file ?? ""); not loaded",
                      fix: "blacklist the host drivers in /etc/modprobe.d/blacklist.conf (blacklist nouveau, options nouveau modeset=0, blacklist nvidiafb, blacklist rivafb), run update-initramfs -u and reboot")
    }
}
