import Foundation

/// Name-based UUIDs, version 5 (RFC 4122 §4.3: SHA-1 of namespace ‖ name):
/// the same name always gives the same id, so a task named after its block
/// and worker is the same task after a restart.
public enum UUIDv5 {
    /// The URL namespace, 6ba7b811-9dad-11d1-80b4-00c04fd430c8 (RFC 4122 appendix C).
    public static let urlNamespace: [UInt8] = [0x6b, 0xa7, 0xb8, 0x11, 0x9d, 0xad, 0x11, 0xd1,
                                               0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]
    /// The DNS namespace, 6ba7b810-9dad-11d1-80b4-00c04fd430c8.
    public static let dnsNamespace: [UInt8] = [0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1,
                                               0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4, 0x30, 0xc8]

    /// Lowercase canonical text (8-4-4-4-12), as Python's `str(uuid.uuid5(…))`.
    public static func make(namespace: [UInt8], name: String) -> String {
        var h = Array(Secp256k1.sha1(namespace + Array(name.utf8)).prefix(16))
        h[6] = (h[6] & 0x0f) | 0x50
        h[8] = (h[8] & 0x3f) | 0x80
        let hex = h.map { String(format: "%02x", $0) }.joined()
        let cuts = [8, 12, 16, 20]
        var out = ""
        for (i, c) in hex.enumerated() {
            if cuts.contains(i) { out += "-" }
            out.append(c)
        }
        return out
    }

    /// A ComputeChain task's id: the name `computechain:<block_hash>:<worker_address>` in the URL namespace.
    public static func task(blockHash: String, workerAddress: String) -> String {
        make(namespace: urlNamespace, name: "computechain:\(blockHash):\(workerAddress)")
    }
}
