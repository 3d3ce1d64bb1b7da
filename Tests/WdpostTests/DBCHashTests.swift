import Foundation
import Shared
import XCTest

/// BLAKE2b against RFC 7693, and DBC's machine-info hash against what
/// DeepBrainChain's own `scripts/hash_machine_info.py` prints.
final class DBCHashTests: XCTestCase {
    func hex(_ bytes: [UInt8]) -> String { bytes.hex }

    /// RFC 7693 Appendix A: BLAKE2b-512("abc").
    func testRFC7693AppendixA() {
        XCTAssertEqual(hex(Blake2b.hash(Array("abc".utf8), digestLength: 64)),
                       "ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1"
                           + "7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
    }

    /// RFC 7693 Appendix E: the self-test's grand hash over digest lengths
    /// 20/32/48/64, input lengths 0…1024, keyed and unkeyed.
    func testRFC7693AppendixESelfTest() {
        func sequence(_ count: Int, seed: UInt32) -> [UInt8] {
            var a = 0xDEAD_4BAD &* seed, b: UInt32 = 1
            return (0..<count).map { _ in
                let t = a &+ b
                a = b
                b = t
                return UInt8(t >> 24)
            }
        }
        var grand = Blake2b(digestLength: 32)
        for mdLength in [20, 32, 48, 64] {
            for inLength in [0, 3, 128, 129, 255, 1024] {
                let input = sequence(inLength, seed: UInt32(inLength))
                grand.update(Blake2b.hash(input, digestLength: mdLength))
                let key = sequence(mdLength, seed: UInt32(mdLength))
                grand.update(Blake2b.hash(input, digestLength: mdLength, key: key))
            }
        }
        XCTAssertEqual(hex(grand.finalize()), "c23a7800d98123bd10f506c61e29da5603d763b8bbad2e737f5e765a7bccd475")
    }

    /// 16-byte digests (the length DBC uses) across block boundaries, checked with Python's hashlib.blake2b(digest_size=16).
    func testSixteenByteDigests() {
        XCTAssertEqual(hex(Blake2b.hash([UInt8](), digestLength: 16)), "cae66941d9efbd404e4d88758ea67670")
        XCTAssertEqual(hex(Blake2b.hash(Array("The quick brown fox jumps over the lazy dog".utf8), digestLength: 16)),
                       "249df9a49f517ddcd37f5c897620ec73")
        let long = Array(Array(0...255).map(UInt8.init).repeated(3))
        XCTAssertEqual(hex(Blake2b.hash(long, digestLength: 16)), "e0892860f9fc0da273b9db57e857c19a")
        // Fed in pieces, the same.
        var pieces = Blake2b(digestLength: 16)
        pieces.update(long[0..<100])
        pieces.update(long[100..<128])
        pieces.update(long[128...])
        XCTAssertEqual(hex(pieces.finalize()), "e0892860f9fc0da273b9db57e857c19a")
    }

    /// The example info of DeepBrainChain's scripts/hash_machine_info.py, as it is written there (is_support 1).
    static let example = """
        {
          "machine_id": "c2ad03b01cb72857978f7e18527afddb671c8354c72c46523405334be23c3701",
          "gpu_type": "GeForceRTX3080",
          "gpu_num": 4,
          "cuda_core": 8704,
          "gpu_mem": 10,
          "calc_point": 59890,
          "sys_disk": 500,
          "data_disk": 3905,
          "cpu_type": "Intel(R) Xeon(R) Silver 4214R",
          "cpu_core_num": 46,
          "cpu_rate": 2400,
          "mem_num": 440,
          "rand_str": "abcdefg2",
          "is_support": 1
        }
        """

    /// `python3 scripts/hash_machine_info.py` (DeepBrainChain-MainChain) prints
    /// `Hash:	0xa9f842cd2a8e2ce16d42b546fbd7c119` for its example.
    func testExampleOfHashMachineInfoScript() throws {
        let info = try MachineInfo.decode(Data(Self.example.utf8))
        XCTAssertEqual(info.hashInput,
                       "c2ad03b01cb72857978f7e18527afddb671c8354c72c46523405334be23c3701GeForceRTX3080"
                           + "4870410598905003905Intel(R) Xeon(R) Silver 4214R462400440abcdefg21")
        XCTAssertEqual(info.hashHex, "0xa9f842cd2a8e2ce16d42b546fbd7c119")
    }

    /// The same info with other rand_str values (and a refusal), each hash as
    /// printed by the script with only that line of its example changed.
    func testInfosDifferingOnlyInRandStr() throws {
        var info = try MachineInfo.decode(Data(Self.example.utf8))
        let expected = [
            "committee-member-1": "0x347cb3a1865484ec84b42b604c0e8596",
            "r4nd0m_ünïcode": "0x86ecc6df8564c11a6c71b6043a4bf7e7",
            "": "0xe1052e78b0524b037cd156834d29f360",
        ]
        for (rand, hash) in expected {
            info.randStr = rand
            XCTAssertEqual(info.hashHex, hash, "rand_str \"\(rand)\"")
        }
        XCTAssertEqual(Set(expected.values).count, 3)
        info.randStr = "abcdefg2"
        info.isSupport = false
        XCTAssertEqual(info.hashHex, "0x98763b52b867cf6a9a047fd3e8d2d82d", "is_support 0")
    }

    func testInfoFileForms() throws {
        // true/false are read like 1/0; the file written back uses 1/0 as DBC's script expects.
        let withBool = Self.example.replacingOccurrences(of: "\"is_support\": 1", with: "\"is_support\": true")
        let info = try MachineInfo.decode(Data(withBool.utf8))
        XCTAssertTrue(info.isSupport)
        XCTAssertTrue(info.json().contains("\"is_support\": 1"))
        XCTAssertEqual(try MachineInfo.decode(Data(info.json().utf8)), info)
        XCTAssertThrowsError(try MachineInfo.decode(Data(Self.example.replacingOccurrences(of: "\"gpu_num\": 4,", with: "").utf8))) {
            XCTAssertTrue("\($0)".contains("gpu_num"), "\($0)")
        }
        XCTAssertThrowsError(try MachineInfo.decode(Data(Self.example.replacingOccurrences(of: "\"gpu_num\": 4", with: "\"gpu_num\": -4").utf8))) {
            XCTAssertTrue("\($0)".contains("gpu_num") && "\($0)".contains("non-negative integer"), "\($0)")
        }
        XCTAssertThrowsError(try MachineInfo.decode(Data(Self.example.replacingOccurrences(of: "\"is_support\": 1", with: "\"is_support\": 2").utf8)))
    }
}

extension Array {
    func repeated(_ n: Int) -> [Element] { (0..<n).flatMap { _ in self } }
}

extension DBCHashTests {
    func testInfoFileErrorsNameTheField() {
        func rejects(_ from: String, _ to: String, mentions: String, line: UInt = #line) {
            XCTAssertThrowsError(try MachineInfo.decode(Data(Self.example.replacingOccurrences(of: from, with: to).utf8)), line: line) {
                XCTAssertTrue("\($0)".contains(mentions), "\($0)", line: line)
            }
        }
        rejects("\"gpu_mem\": 10", "\"gpu_mem\": 10.5", mentions: "gpu_mem")
        rejects("\"gpu_mem\": 10", "\"gpu_mem\": true", mentions: "gpu_mem")
        rejects("\"cpu_type\": \"Intel(R) Xeon(R) Silver 4214R\"", "\"cpu_type\": 4214", mentions: "cpu_type")
        rejects("\"gpu_num\": 4", "\"gpu_num\": 4294967296", mentions: "gpu_num")
        rejects("\"rand_str\"", "\"rand\"", mentions: "unknown field \"rand\"")
    }
}
