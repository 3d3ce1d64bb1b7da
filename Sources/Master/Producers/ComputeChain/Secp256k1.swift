import CKernels
import Foundation
import Shared

/// secp256k1 keys and ECDSA signatures over a 32-byte digest (C over
/// libcrypto, `secp256k1.c`), and the hashes ComputeChain's addresses use.
public enum Secp256k1 {
    /// The compressed public key (33 bytes) of a 32-byte private key.
    public static func publicKey(privateKey: [UInt8]) throws -> [UInt8] {
        guard privateKey.count == 32 else { throw ErrorMessage("a secp256k1 private key is 32 bytes, got \(privateKey.count)") }
        var pub = [UInt8](repeating: 0, count: 33)
        guard wd_secp256k1_public_key(privateKey, &pub) == WD_OK else { throw ErrorMessage(String(cString: wd_last_error())) }
        return pub
    }

    /// r ‖ s (64 bytes, low s) over `digest` itself.
    public static func sign(digest: [UInt8], privateKey: [UInt8]) throws -> [UInt8] {
        guard digest.count == 32, privateKey.count == 32 else { throw ErrorMessage("secp256k1: the digest and the key are 32 bytes each") }
        var sig = [UInt8](repeating: 0, count: 64)
        guard wd_secp256k1_sign(privateKey, digest, &sig) == WD_OK else { throw ErrorMessage(String(cString: wd_last_error())) }
        return sig
    }

    public static func verify(signature: [UInt8], digest: [UInt8], publicKey: [UInt8]) -> Bool {
        guard signature.count == 64, digest.count == 32, publicKey.count == 33 else { return false }
        return wd_secp256k1_verify(publicKey, digest, signature) == WD_OK
    }

    public static func ripemd160(_ data: [UInt8]) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        guard wd_ripemd160(data, data.count, &out) == WD_OK else { throw ErrorMessage(String(cString: wd_last_error())) }
        return out
    }

    public static func sha1(_ data: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: 20)
        wd_sha1(data, data.count, &out)
        return out
    }
}
