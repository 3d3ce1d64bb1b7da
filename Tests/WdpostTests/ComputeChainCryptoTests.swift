import Foundation
@testable import Master
import Shared
import XCTest

/// Known answers for what a ComputeChain node checks: addresses (bech32 of
/// RIPEMD-160 ∘ SHA-256), UUIDv5 task ids, the transaction hash, and
/// signatures verified by an independent implementation (Python's `ecdsa`,
/// Tests/computechain/ccref.py).
final class ComputeChainCryptoTests: XCTestCase {
    /// The private key 1: its public key is the generator G.
    let one = [UInt8](repeating: 0, count: 31) + [1]
    let gHex = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798"

    func testBech32BIP173Vectors() throws {
        for valid in ["A12UEL5L", "a12uel5l",
                      "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
                      "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
                      "11" + String(repeating: "q", count: 82) + "c8247j",
                      "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w", "?1ezyfcl"] {
            let (hrp, values) = try Bech32.decode(valid)
            XCTAssertEqual(Bech32.encode(hrp: hrp, values: values), valid.lowercased(), valid)
        }
        for invalid in ["\u{20}1nwldj5", "\u{7f}1axkwrx", "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx",
                        "pzry9x0s0muk", "1pzry9x0s0muk", "x1b4n0q5v", "li1dgmt3", "A1G7SGD8", "10a06t8", "1qzzfhee",
                        "a12UEL5L"] {
            XCTAssertThrowsError(try Bech32.decode(invalid), invalid)
        }
        // The BIP-173 segwit example is bech32 of G's HASH160, after the witness version 0.
        let hash160 = try Secp256k1.ripemd160(Digest.sha256(Hex.decode(gHex)!))
        XCTAssertEqual(hash160.hex, "751e76e8199196d454941c45d1b3a323f1433bd6")
        XCTAssertEqual(Bech32.encode(hrp: "bc", values: [0] + Bech32.convertBits(hash160, from: 8, to: 5, pad: true)!),
                       "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4")
    }

    func testRIPEMD160KnownAnswers() throws {
        XCTAssertEqual(try Secp256k1.ripemd160([]).hex, "9c1185a5c5e9fc54612808977ee8f548b2258d31")
        XCTAssertEqual(try Secp256k1.ripemd160(Array("abc".utf8)).hex, "8eb208f7e05d987a9b044a8e98c6b087f15a0bfc")
    }

    func testAddressOfAKey() throws {
        let key = try ComputeChainKey(privateKey: one)
        XCTAssertEqual(key.publicKeyHex, gHex)
        XCTAssertEqual(key.address, "cpc1w508d6qejxtdg4y5r3zarvary0c5xw7k32stzz")
        XCTAssertEqual(try Bech32.decodeData(key.address, hrp: "cpc"), try Secp256k1.ripemd160(Digest.sha256(key.publicKey)))
        XCTAssertEqual(try python(["address", gHex]).out, key.address, "the Python reference derives the same address")
    }

    func testUUIDv5KnownAnswers() {
        XCTAssertEqual(UUIDv5.make(namespace: UUIDv5.dnsNamespace, name: "python.org"), "886313e1-3b8a-5372-9b90-0c9aee199e5d")
        XCTAssertEqual(UUIDv5.make(namespace: UUIDv5.urlNamespace, name: "http://www.example.com/"), "fcde3c85-2270-590f-9e7c-ee003d65e0e2")
        XCTAssertEqual(UUIDv5.task(blockHash: String(repeating: "ab", count: 32), workerAddress: "cpc1w508d6qejxtdg4y5r3zarvary0c5xw7k32stzz"),
                       "5f514f93-2d67-527e-8e29-d07ae653b5bc")
    }

    var sample: SubmitResultTransaction {
        SubmitResultTransaction(fromAddress: "cpc1w508d6qejxtdg4y5r3zarvary0c5xw7k32stzz", nonce: 7, publicKey: gHex,
                                taskID: "5f514f93-2d67-527e-8e29-d07ae653b5bc", resultHash: String(repeating: "cd", count: 32))
    }

    func testTransactionHashKnownAnswer() throws {
        let tx = sample
        XCTAssertEqual(tx.fee, 80_000_000)
        XCTAssertEqual(tx.payload.text, #"{"nonce":0,"proof":"","result_hash":"\#(String(repeating: "cd", count: 32))","signature":"","task_id":"5f514f93-2d67-527e-8e29-d07ae653b5bc","worker_address":"cpc1w508d6qejxtdg4y5r3zarvary0c5xw7k32stzz"}"#)
        XCTAssertEqual(tx.hashHex, "92c5c61b92008774f48503a90243a9d729ff3e95c53dad74493b169b2f225f82")
        // The body the node parses hashes the same in the Python reference.
        XCTAssertEqual(try python(["txhash"], stdin: tx.body(signature: [UInt8](repeating: 0, count: 64))).out, tx.hashHex)
    }

    func testPythonStyleEscaping() {
        XCTAssertEqual(PythonJSON.object(["b": .string("é\"\\\n\u{1}😀"), "a": .int(-3), "c": .null]).text,
                       #"{"a":-3,"b":"\u00e9\"\\\n\u0001\ud83d\ude00","c":null}"#)
    }

    func testSignatureVerifiesInTheIndependentImplementation() throws {
        let key = try ComputeChainKey(privateKey: Digest.sha256(Array("wdpost test key".utf8)))
        let digest = sample.hash
        for _ in 0..<8 {
            let sig = try key.sign(digest: digest)
            XCTAssertEqual(sig.count, 64)
            XCTAssertTrue(Secp256k1.verify(signature: sig, digest: digest, publicKey: key.publicKey))
            let (status, out) = try python(["verify", key.publicKeyHex, digest.hex, sig.hex])
            XCTAssertEqual(out, "valid", "Python's ecdsa (low S, as the node) accepts the signature")
            XCTAssertEqual(status, 0)
        }
        var wrong = digest
        wrong[0] ^= 1
        let sig = try key.sign(digest: digest)
        XCTAssertEqual(try python(["verify", key.publicKeyHex, wrong.hex, sig.hex]).out, "invalid")
        XCTAssertFalse(Secp256k1.verify(signature: sig, digest: wrong, publicKey: key.publicKey))
    }

    func testKeyFileErrors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let key = try ComputeChainKey(privateKey: one, name: "worker")
        let good = dir.appendingPathComponent("good.json")
        try key.keystoreJSON.write(to: good, atomically: true, encoding: .utf8)
        XCTAssertEqual(try ComputeChainKey.load(path: good.path, context: "ctx").address, key.address)

        func refused(_ path: String, _ needle: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(try ComputeChainKey.load(path: path, context: "m.toml: [[computechain.workers]] entry 1 key_file")) { error in
                XCTAssertTrue("\(error)".contains(needle), "\(error)", file: file, line: line)
                XCTAssertTrue("\(error)".contains("entry 1 key_file"), "\(error)", file: file, line: line)
            }
        }
        refused(dir.appendingPathComponent("missing.json").path, "no such file")
        refused(dir.path, "cannot read")
        let text = dir.appendingPathComponent("text.json")
        try "not json".write(to: text, atomically: true, encoding: .utf8)
        refused(text.path, "not a ComputeChain keystore file")
        let other = try ComputeChainKey(privateKey: [UInt8](repeating: 0, count: 31) + [2])
        let mismatch = dir.appendingPathComponent("mismatch.json")
        try key.keystoreJSON.replacingOccurrences(of: key.address, with: other.address).write(to: mismatch, atomically: true, encoding: .utf8)
        refused(mismatch.path, "does not match the key")
        let pubMismatch = dir.appendingPathComponent("pub.json")
        try key.keystoreJSON.replacingOccurrences(of: key.publicKeyHex, with: other.publicKeyHex).write(to: pubMismatch, atomically: true, encoding: .utf8)
        refused(pubMismatch.path, "is not the public key")
    }

    func testNonceAllocatorFillsGapsFirst() {
        var a = NonceAllocator(accountNonce: 5, inFlight: [3, 6, 8])
        XCTAssertEqual([a.take(), a.take(), a.take()], [5, 7, 9])
    }

    /// Runs Tests/computechain/ccref.py (Python's `ecdsa`, installed by scripts/test.sh).
    func python(_ args: [String], stdin: Data? = nil) throws -> (status: Int32, out: String) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("computechain/ccref.py")
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", script.path] + args
        let out = Pipe(), input = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardInput = input
        p.standardError = err
        try p.run()
        if let stdin { input.fileHandleForWriting.write(stdin) }
        try input.fileHandleForWriting.close()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errText = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        p.waitUntilExit()
        if errText.contains("No module named 'ecdsa'") {
            throw TestError("python3 lacks the ecdsa package: run scripts/test.sh (it installs it) or pip install ecdsa")
        }
        return (p.terminationStatus, String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
