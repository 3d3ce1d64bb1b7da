import Foundation
import NIOCore
import Shared

/// Reads a client's `auth` frame and says precisely what is wrong with one
/// that cannot be accepted: another protocol version (an old slave is told to
/// upgrade), an unknown role, a missing or short nonce or proof.
enum HandshakeCheck {
    enum Outcome {
        case auth(Auth)
        case refused(String, fatal: Bool)
    }

    static func decode(_ payload: ByteBuffer) -> Outcome {
        // An auth of this release decodes at once; only one that does not is
        // read again, loosely, to say precisely why.
        guard let auth = try? Codec.decode(Auth.self, from: payload) else { return refusal(payload) }
        guard auth.version == protocolVersion else {
            return versionMismatch(auth.version, role: auth.role.rawValue, name: auth.name)
        }
        guard auth.nonce?.count == HandshakeTranscript.nonceBytes else {
            return .refused("malformed auth message: the client nonce must be \(HandshakeTranscript.nonceBytes) bytes", fatal: true)
        }
        guard auth.mac.count == 32 else {
            return .refused("malformed auth message: the proof must be 32 bytes", fatal: true)
        }
        return .auth(auth)
    }

    private static func versionMismatch(_ version: Int, role: String, name: String) -> Outcome {
        let who = Role(rawValue: role)?.rawValue ?? "client"
        return .refused("protocol version mismatch: master speaks \(protocolVersion), \(who) \(PeerName.quoted(name)) speaks \(version); "
                        + "run the same wdpost release on both (protocol \(protocolVersion) needs wdpost from this release on)", fatal: true)
    }

    /// Why an auth message does not decode: another version's shape, an unknown role, or plain garbage.
    private static func refusal(_ payload: ByteBuffer) -> Outcome {
        let bytes = payload.getBytes(at: payload.readerIndex, length: payload.readableBytes) ?? []
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            return .refused("malformed auth message: not a JSON object", fatal: true)
        }
        let roleText = object["role"] as? String ?? "?"
        guard let version = object["version"] as? Int else {
            return .refused("malformed auth message: no protocol version", fatal: true)
        }
        guard version == protocolVersion else {
            return versionMismatch(version, role: roleText, name: object["name"] as? String ?? "?")
        }
        guard Role(rawValue: roleText) != nil else {
            return .refused("unknown role \(PeerName.quoted(roleText)) in the auth message (expected \"slave\" or \"admin\")", fatal: true)
        }
        do {
            _ = try Codec.decode(Auth.self, from: payload)
            return .refused("malformed auth message", fatal: true)
        } catch {
            return .refused("\(error)", fatal: true)
        }
    }
}
