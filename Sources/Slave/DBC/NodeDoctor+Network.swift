import Foundation
import Shared

/// The checks a renter's VM network and DBC's own control path need: IP
/// forwarding, bridge netfilter, libvirtd over TCP.
extension NodeDoctor {
    func ipForward() -> DoctorCheck {
        let value = tree.value("/proc/sys/net/ipv4/ip_forward")
        return result("ip_forward", value == "1" ? [] : ["/proc/sys/net/ipv4/ip_forward is \(value.map { "\"\($0)\"" } ?? "missing"), not 1"],
                      passed: "/proc/sys/net/ipv4/ip_forward = 1",
                      fix: "set net.ipv4.ip_forward=1 in /etc/sysctl.conf and run sysctl -p")
    }

    func brNetfilter() -> DoctorCheck {
        var failures: [String] = []
        if !tree.hasModule("br_netfilter") { failures.append("module br_netfilter is not loaded (/proc/modules)") }
        for name in ["bridge-nf-call-iptables", "bridge-nf-call-ip6tables"] {
            let path = "/proc/sys/net/bridge/\(name)"
            let value = tree.value(path)
            if value != "1" { failures.append("\(path) is \(value.map { "\"\($0)\"" } ?? "missing"), not 1") }
        }
        return result("br_netfilter", failures, passed: "br_netfilter loaded; bridge-nf-call-iptables = 1, bridge-nf-call-ip6tables = 1",
                      fix: "echo br_netfilter > /etc/modules-load.d/br_netfilter.conf and modprobe br_netfilter; set net.bridge.bridge-nf-call-iptables=1 and net.bridge.bridge-nf-call-ip6tables=1 in /etc/sysctl.conf and run sysctl -p")
    }

    /// libvirtd answers on TCP, and its config opens TCP without
    /// authentication as DBC's node connects (listen_tcp = 1, auth_tcp = "none").
    func libvirtTCP() -> DoctorCheck {
        var failures: [String] = []
        let conf = "/etc/libvirt/libvirtd.conf"
        if let text = tree.text(conf) {
            var settings: [String: String] = [:]
            for raw in text.split(separator: "\n") {
                let line = raw.trimmingCharacters(in: .whitespaces)
                guard !line.hasPrefix("#"), let eq = line.firstIndex(of: "=") else { continue }
                let key = line[..<eq].trimmingCharacters(in: .whitespaces)
                var value = line[line.index(after: eq)...].split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first
                    .map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                settings[key] = value
            }
            if settings["listen_tcp"] != "1" { failures.append("listen_tcp is \(settings["listen_tcp"] ?? "not set"), not 1, in \(conf)") }
            if settings["auth_tcp"] != "none" { failures.append("auth_tcp is \(settings["auth_tcp"].map { "\"\($0)\"" } ?? "not set"), not \"none\", in \(conf)") }
        } else {
            failures.append("cannot read \(conf)")
        }
        if let error = TCPConnect.check(libvirt, timeoutMs: connectTimeoutMs) {
            failures.append("nothing answers on \(libvirt): \(error)")
        }
        return result("libvirt_tcp", failures, passed: "libvirtd answers on \(libvirt); listen_tcp = 1, auth_tcp = \"none\" in \(conf)",
                      fix: "set listen_tcp = 1 and auth_tcp = \"none\" in /etc/libvirt/libvirtd.conf and libvirtd_opts=\"-l\" in /etc/default/libvirtd, then systemctl restart libvirtd and systemctl enable libvirtd; virsh connect qemu+tcp://localhost:16509/system must work")
    }
}
