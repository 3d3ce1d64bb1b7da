/// The cryptography of protocol 2's handshake, shared by master and clients.
///
/// Both sides bring a 32-byte nonce (the master's in `Hello`, the client's in
/// `Auth`) and both prove the token over the whole transcript — both nonces,
/// the role, the name and the capabilities — so a proof is bound to this one
/// connection: it cannot be replayed, and a relay in the middle learns nothing
/// it can use on a connection of its own. The same transcript keys the
/// per-direction frame tags (`FrameAuthenticator`), so after the handshake a
/// party without the token cannot inject, alter, drop or reorder a frame.
/// No token crosses the wire.
public struct HandshakeTranscript: Sendable {
    public static let nonceBytes = 32
    public let bytes: [UInt8]

    public init(masterNonce: [UInt8], clientNonce: [UInt8], role: Role, name: String, capabilities: Capabilities?) {
        var out = Array("wdpost/\(protocolVersion)".utf8)
        Self.append(masterNonce, to: &out)
        Self.append(clientNonce, to: &out)
        Self.append(Array(role.rawValue.utf8), to: &out)
        Self.append(Array(name.utf8), to: &out)
        Self.append(capabilities.map(Self.canonical) ?? [], to: &out)
        bytes = out
    }

    /// What the client sends in `Auth.mac`.
    public func clientProof(token: [UInt8]) -> [UInt8] { mac(token, "client proof") }

    /// What the master sends in `Welcome.mac`: the slave's evidence that it
    /// talks to a master holding the same token, not to whoever has the port.
    public func masterProof(token: [UInt8], master: String) -> [UInt8] {
        var extra: [UInt8] = []
        Self.append(Array(master.utf8), to: &extra)
        return mac(token, "master proof", extra)
    }

    /// Keys for the frame tags, one per direction so that a frame cannot be
    /// reflected back to its sender.
    public func sessionKeys(token: [UInt8]) -> (clientToMaster: [UInt8], masterToClient: [UInt8]) {
        (mac(token, "client to master"), mac(token, "master to client"))
    }

    private func mac(_ token: [UInt8], _ label: String, _ extra: [UInt8] = []) -> [UInt8] {
        var message = Array(label.utf8)
        message.append(0)
        message += bytes
        message += extra
        return Digest.hmacSHA256(key: token, message: message)
    }

    /// Length-prefixed, so no two different field lists give the same bytes.
    static func append(_ field: [UInt8], to out: inout [UInt8]) {
        let n = UInt32(field.count)
        out += [UInt8(n >> 24), UInt8(n >> 16 & 0xff), UInt8(n >> 8 & 0xff), UInt8(n & 0xff)]
        out += field
    }

    /// Capabilities in a fixed field order (JSON's key order is not fixed).
    static func canonical(_ c: Capabilities) -> [UInt8] {
        var out: [UInt8] = []
        append(Array(String(c.concurrent).utf8), to: &out)
        append(Array(String(c.gpus).utf8), to: &out)
        for list in [c.kinds, c.allowedMiners, c.allowedSizes] {
            append(Array(String(list.count).utf8), to: &out)
            for item in list { append(Array(item.utf8), to: &out) }
        }
        return out
    }
}
