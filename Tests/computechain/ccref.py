"""An independent reference for ComputeChain's transaction rules (as in
../shared/COMPUTECHAIN.md and the node's own checks): the hash, the
signature (Python's `ecdsa`, low-S as the node's verify demands), bech32
addresses. Used by the fake node and by the Swift known-answer tests:

    python3 ccref.py verify PUBHEX DIGESTHEX SIGHEX   -> exit 0 if valid
    python3 ccref.py address PUBHEX                   -> cpc1...
    python3 ccref.py txhash < tx.json                 -> hex
"""
import hashlib
import json
import sys

from ecdsa import SECP256k1, VerifyingKey  # type: ignore
from ecdsa.util import sigdecode_string  # type: ignore

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"


def _polymod(values):
    gen = [0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3]
    chk = 1
    for v in values:
        b = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ v
        for i in range(5):
            chk ^= gen[i] if ((b >> i) & 1) else 0
    return chk


def _hrp_expand(hrp):
    return [ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]


def _convertbits(data, frombits, tobits):
    acc, bits, ret, maxv = 0, 0, [], (1 << tobits) - 1
    for value in data:
        acc = (acc << frombits) | value
        bits += frombits
        while bits >= tobits:
            bits -= tobits
            ret.append((acc >> bits) & maxv)
    if bits:
        ret.append((acc << (tobits - bits)) & maxv)
    return ret


def bech32_encode(hrp, data):
    values = _convertbits(data, 8, 5)
    poly = _polymod(_hrp_expand(hrp) + values + [0] * 6) ^ 1
    checksum = [(poly >> 5 * (5 - i)) & 31 for i in range(6)]
    return hrp + "1" + "".join(CHARSET[d] for d in values + checksum)


def address_from_pubkey(pub: bytes, prefix="cpc") -> str:
    return bech32_encode(prefix, hashlib.new("ripemd160", hashlib.sha256(pub).digest()).digest())


def tx_hash(tx: dict) -> str:
    payload = json.dumps(tx.get("payload") or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    text = (tx["tx_type"] + tx["from_address"] + (tx.get("to_address") or "") + str(tx["amount"]) + str(tx["fee"])
            + str(tx["nonce"]) + str(tx["gas_price"]) + str(tx["gas_limit"]) + payload + tx["pub_key"])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def verify(digest: bytes, sig: bytes, pub: bytes) -> bool:
    try:
        if len(digest) != 32 or len(sig) != 64 or len(pub) != 33 or pub[0] not in (2, 3):
            return False
        r, s = sigdecode_string(sig, SECP256k1.order)
        if not 0 < r < SECP256k1.order or not 0 < s <= SECP256k1.order // 2:
            return False
        vk = VerifyingKey.from_string(pub, curve=SECP256k1)
        return vk.verify_digest(sig, digest, sigdecode=sigdecode_string)
    except Exception:
        return False


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "verify":
        ok = verify(bytes.fromhex(sys.argv[3]), bytes.fromhex(sys.argv[4]), bytes.fromhex(sys.argv[2]))
        print("valid" if ok else "invalid")
        sys.exit(0 if ok else 1)
    if cmd == "address":
        print(address_from_pubkey(bytes.fromhex(sys.argv[2])))
    elif cmd == "txhash":
        print(tx_hash(json.load(sys.stdin)))
    else:
        sys.exit("unknown command " + cmd)
