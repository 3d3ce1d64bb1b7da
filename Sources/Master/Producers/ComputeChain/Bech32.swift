import Foundation
import Shared

/// Bech32 (BIP-173; not bech32m, whose checksum constant differs), as
/// ComputeChain writes its addresses: `cpc1…` over the 20-byte account id.
public enum Bech32 {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)

    static func polymod(_ values: [UInt8]) -> UInt32 {
        let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]
        var chk: UInt32 = 1
        for v in values {
            let top = chk >> 25
            chk = (chk & 0x1ff_ffff) << 5 ^ UInt32(v)
            for i in 0..<5 where (top >> i) & 1 == 1 { chk ^= generator[i] }
        }
        return chk
    }

    static func expand(_ hrp: [UInt8]) -> [UInt8] { hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 } }

    /// Regroups bits (8 → 5 to encode, 5 → 8 to decode); nil when the padding is not zero.
    static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var acc = 0, bits = 0, out: [UInt8] = []
        let maxv = (1 << to) - 1
        for value in data {
            guard Int(value) >> from == 0 else { return nil }
            acc = (acc << from) | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                out.append(UInt8((acc >> bits) & maxv))
            }
        }
        if pad {
            if bits > 0 { out.append(UInt8((acc << (to - bits)) & maxv)) }
        } else if bits >= from || (acc << (to - bits)) & maxv != 0 {
            return nil
        }
        return out
    }

    /// The string of 5-bit `values` under `hrp` (lowercase).
    public static func encode(hrp: String, values: [UInt8]) -> String {
        let h = Array(hrp.lowercased().utf8)
        let mod = polymod(expand(h) + values + [0, 0, 0, 0, 0, 0]) ^ 1
        let checksum = (0..<6).map { UInt8((mod >> (5 * (5 - $0))) & 31) }
        return hrp.lowercased() + "1" + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }

    /// `data` (bytes) as an address under `hrp`.
    public static func encode(hrp: String, data: [UInt8]) -> String {
        encode(hrp: hrp, values: convertBits(data, from: 8, to: 5, pad: true)!)
    }

    /// The human-readable part and 5-bit values of a valid string, or an error naming what is wrong.
    public static func decode(_ text: String) throws -> (hrp: String, values: [UInt8]) {
        let bytes = Array(text.utf8)
        guard bytes.count <= 90 else { throw ErrorMessage("bech32: longer than 90 characters") }
        guard bytes.allSatisfy({ (33...126).contains($0) }) else { throw ErrorMessage("bech32: a character outside ASCII 33-126") }
        let lower = text.lowercased(), upper = text.uppercased()
        guard text == lower || text == upper else { throw ErrorMessage("bech32: mixed case") }
        let s = Array(lower.utf8)
        guard let sep = s.lastIndex(of: UInt8(ascii: "1")), sep >= 1, sep + 7 <= s.count else {
            throw ErrorMessage("bech32: no separator '1' with a prefix before it and 6 checksum characters after it")
        }
        var values: [UInt8] = []
        for c in s[(sep + 1)...] {
            guard let v = charset.firstIndex(of: c) else { throw ErrorMessage("bech32: '\(Character(UnicodeScalar(c)))' is not in the bech32 alphabet") }
            values.append(UInt8(v))
        }
        let hrp = Array(s[..<sep])
        guard polymod(expand(hrp) + values) == 1 else { throw ErrorMessage("bech32: bad checksum") }
        return (String(decoding: hrp, as: UTF8.self), Array(values.dropLast(6)))
    }

    /// The bytes of an address under `hrp`, or an error.
    public static func decodeData(_ text: String, hrp: String) throws -> [UInt8] {
        let (h, values) = try decode(text)
        guard h == hrp else { throw ErrorMessage("bech32: prefix \"\(h)\", expected \"\(hrp)\"") }
        guard let data = convertBits(values, from: 5, to: 8, pad: false) else { throw ErrorMessage("bech32: bad padding") }
        return data
    }
}

/// ComputeChain account addresses: bech32 `cpc` of RIPEMD-160(SHA-256(compressed public key)).
public enum ComputeChainAddress {
    public static let prefix = "cpc"

    public static func of(publicKey: [UInt8]) throws -> String {
        Bech32.encode(hrp: prefix, data: try Secp256k1.ripemd160(Digest.sha256(publicKey)))
    }
}
