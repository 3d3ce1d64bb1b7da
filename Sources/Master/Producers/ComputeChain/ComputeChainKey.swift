import Foundation
import Shared

/// A worker's key, read from a file in ComputeChain's keystore format (what
/// `cpc-cli keys add NAME` writes to ~/.computechain/keys/NAME.json):
/// `{"name", "address", "public_key", "private_key", "created_at"}`.
/// Loading checks everything the node would later refuse: the private key
/// gives the public key, and the public key the address.
public struct ComputeChainKey: Sendable {
    public let name: String
    public let address: String
    public let publicKey: [UInt8]
    let privateKey: [UInt8]

    public var publicKeyHex: String { publicKey.hex }

    /// `context` starts every error (the config file and key).
    public static func load(path: String, context: String) throws -> ComputeChainKey {
        func bad(_ what: String) -> ConfigError { ConfigError("\(context): key file \(path): \(what)") }
        guard FileManager.default.fileExists(atPath: path) else { throw bad("no such file") }
        guard let data = FileManager.default.contents(atPath: path) else { throw bad("cannot read it (permissions?)") }
        guard let object = try? JSONSerialization.jsonObject(with: data), let json = object as? [String: Any] else {
            throw bad("not a ComputeChain keystore file (expected a JSON object with address, public_key and private_key, as `cpc-cli keys add` writes)")
        }
        func field(_ key: String) throws -> String {
            guard let value = json[key] as? String, !value.isEmpty else { throw bad("\"\(key)\" is missing or not a string (ComputeChain keystore format)") }
            return value
        }
        let address = try field("address")
        let privateHex = try field("private_key")
        let publicHex = try field("public_key")
        guard let priv = Hex.decode(privateHex), priv.count == 32 else { throw bad("\"private_key\" must be 64 hex digits") }
        guard let stated = Hex.decode(publicHex), stated.count == 33 else { throw bad("\"public_key\" must be 66 hex digits (a compressed key)") }
        let derived: [UInt8]
        do { derived = try Secp256k1.publicKey(privateKey: priv) } catch { throw bad("\"private_key\": \(error)") }
        guard derived == stated else { throw bad("\"public_key\" is not the public key of \"private_key\" (it gives \(derived.hex))") }
        let derivedAddress = try ComputeChainAddress.of(publicKey: derived)
        guard derivedAddress == address else {
            throw bad("\"address\" \(address) does not match the key: its public key gives \(derivedAddress)")
        }
        return ComputeChainKey(name: json["name"] as? String ?? "", address: address, publicKey: derived, privateKey: priv)
    }

    public init(name: String, address: String, publicKey: [UInt8], privateKey: [UInt8]) {
        self.name = name; self.address = address; self.publicKey = publicKey; self.privateKey = privateKey
    }

    /// A key from its private half (tests make their workers this way).
    public init(privateKey: [UInt8], name: String = "worker") throws {
        let pub = try Secp256k1.publicKey(privateKey: privateKey)
        self.init(name: name, address: try ComputeChainAddress.of(publicKey: pub), publicKey: pub, privateKey: privateKey)
    }

    public func sign(digest: [UInt8]) throws -> [UInt8] { try Secp256k1.sign(digest: digest, privateKey: privateKey) }

    /// The file as `cpc-cli keys add` writes it (indent 2), for tests.
    public var keystoreJSON: String {
        """
        {
          "name": "\(name)",
          "address": "\(address)",
          "public_key": "\(publicKey.hex)",
          "private_key": "\(privateKey.hex)",
          "created_at": "2026-12-03T10:00:00Z"
        }
        """
    }
}
