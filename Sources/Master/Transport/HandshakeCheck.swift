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
        let bytes = payload.getBytes(at: payload.readerIndex, length: payload.readableBytes) ?? []
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            return .refused("malformed auth message: not a JSON object", fatal: true)
        }
        let roleText = object["role"] as? String ?? "?"
        let name = PeerName.quoted(object["name"] as? String ?? "?")
        guard let version = object["version"] as? Int else {
            return .refused("malformed auth message: no protocol version", fatal: true)
        }
        guard version == protocolVersion else {
            let who = Role(rawValue: roleText)?.rawValue ?? "client"
            return .refused("protocol version mismatch: master speaks \(protocolVersion), \(who) \(name) speaks \(version); "
                            + "run the same wdpost release on both (protocol \(protocolVersion) needs wdpost from this release on)", fatal: true)
        }
        guard Role(rawValue: roleText) != nil else {
            return .refused("unknown role \(PeerName.quoted(roleText)) in the auth message (expected \"slave\" or \"admin\")", fatal: true)
        }
        let auth: Auth
        do {
            auth = try Codec.decode(Auth.self, from: payload)
        } catch {
            return .refused("\(error)", fatal: true)
        }
        guard auth.nonce?.count == HandshakeTranscript.nonceBytes else {
            return .refused("malformed auth message: the client nonce must be \(HandshakeTranscript.nonceBytes) bytes", fatal: true)
        }
        guard auth.mac.count == 32 else {
            return .refused("malformed auth message: the proof must be 32 bytes", fatal: true)
        }
        return .auth(auth)
    }
}
