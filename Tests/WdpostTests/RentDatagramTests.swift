import Foundation
import Shared
import Slave
import XCTest

/// The DBC node's rent announcement (DBC.md §1), node.dat, the chain's
/// answer and the yield state machine, without sockets.
final class RentDatagramTests: XCTestCase {
    let node = String(repeating: "ab", count: 32)

    func datagram(_ text: String) -> [UInt8] { Array(Data(text.utf8).base64EncodedString().utf8) }

    func testAnAnnouncementAsTheNodeBuildsItDecodes() throws {
        // Byte for byte as DBC's node concatenates it: one space after the comma.
        let renting = datagram("{\"node_id\":\"\(node)\", \"status\":\"renting\"}")
        XCTAssertEqual(try RentDatagram.decode(renting), RentDatagram(nodeID: node, status: .renting))
        XCTAssertEqual(try RentDatagram.decode(datagram("{\"node_id\":\"\(node)\", \"status\":\"empty\"}")),
                       RentDatagram(nodeID: node, status: .empty))
        XCTAssertEqual(RentDatagram(nodeID: node, status: .renting).encoded, renting)
        // Other JSON spacing and key order is the same announcement.
        XCTAssertEqual(try RentDatagram.decode(datagram("{ \"status\": \"empty\",\n\"node_id\": \"\(node)\" }")).status, .empty)
    }

    func testAnythingElseIsRefusedSayingWhy() {
        func refused(_ bytes: [UInt8], _ why: String, line: UInt = #line) {
            XCTAssertThrowsError(try RentDatagram.decode(bytes), line: line) { error in
                XCTAssertTrue("\(error)".contains(why), "\(error)", line: line)
            }
        }
        refused([], "empty datagram")
        refused(Array("{\"node_id\":\"\(node)\", \"status\":\"renting\"}".utf8), "not standard base64")
        let b64 = Data("{\"node_id\":\"\(node)\", \"status\":\"renting\"}".utf8).base64EncodedString()
        refused(Array(b64.replacingOccurrences(of: "=", with: "").utf8), "not standard base64")
        refused(Array(b64.utf8) + [10], "not standard base64")
        refused([0xff, 0xfe, 0x41], "not standard base64")
        refused(datagram("renting"), "not JSON")
        refused(datagram("[1,2]"), "expected a JSON object")
        refused(datagram("{\"status\":\"renting\"}"), "missing \"node_id\"")
        refused(datagram("{\"node_id\":\"\(node)\"}"), "missing \"status\"")
        refused(datagram("{\"node_id\":\"\(node)\", \"status\":1}"), "\"status\" must be")
        refused(datagram("{\"node_id\":\"\(node)\", \"status\":\"rented\"}"), "neither renting nor empty")
        refused(datagram("{\"node_id\":\"\(node.uppercased())\", \"status\":\"renting\"}"), "not 64 lowercase hex")
        refused(datagram("{\"node_id\":\"0x\(node.dropFirst(2))\", \"status\":\"renting\"}"), "not 64 lowercase hex")
        refused(Array(repeating: 65, count: RentDatagram.maxBytes + 4), "more than an announcement")
    }

    func testNodeDatIsReadForItsNodeIDLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wdpost-nodedat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let dat = dir.appendingPathComponent("node.dat")
        try "node_private_key=0123\n node_id = \(node) \r\nother\n".write(to: dat, atomically: true, encoding: .utf8)
        XCTAssertEqual(try NodeDat.nodeID(path: dat.path), node)
        XCTAssertEqual(NodeDat.keys("a=b=c\nnoequals\n"), ["a": "b=c"])
        try "node_private_key=0123\n".write(to: dat, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NodeDat.nodeID(path: dat.path)) { XCTAssertEqual("\($0)", "no node_id= line in \(dat.path)") }
        try "node_id=XYZ\n".write(to: dat, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NodeDat.nodeID(path: dat.path)) {
            XCTAssertEqual("\($0)", "node_id \"XYZ\" in \(dat.path) is not 64 lowercase hex digits")
        }
        let missing = dir.appendingPathComponent("none.dat").path
        XCTAssertThrowsError(try NodeDat.nodeID(path: missing)) { XCTAssertEqual("\($0)", "cannot read \(missing): No such file or directory") }
    }

    func testTheChainsAnswerIsReadForMachineStatus() throws {
        XCTAssertEqual(ChainRentCheck.request(nodeID: node),
                       "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"onlineProfile_getMachineInfo\",\"params\":[\"\(node)\"]}")
        func status(_ text: String) throws -> String { try ChainRentCheck.machineStatus(answer: Array(text.utf8)) }
        XCTAssertEqual(try status(#"{"jsonrpc":"2.0","id":1,"result":{"machineStatus":"online","gpuNum":4}}"#), "online")
        XCTAssertEqual(try status(#"{"jsonrpc":"2.0","id":1,"result":{"machineStatus":"rented"}}"#), "rented")
        for (answer, why) in [(#"{"jsonrpc":"2.0","id":1,"result":null}"#, "knows no such machine"),
                              (#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#, "Method not found"),
                              (#"{"jsonrpc":"2.0","id":1,"result":{"machineStatus":"sleeping"}}"#, "unknown machineStatus \"sleeping\""),
                              (#"{"jsonrpc":"2.0","id":1,"result":{}}"#, "no result.machineStatus"),
                              ("<html>", "not JSON")] {
            XCTAssertThrowsError(try status(answer)) { XCTAssertTrue("\($0)".contains(why), "\($0)") }
        }
    }

    func testRentingYieldsAtOnceAndEmptyResumesOnlyAsTheChainConfirms() {
        var plain = RentYield(chainConfirms: false)
        XCTAssertEqual(plain.initialAction, .none)
        XCTAssertTrue(plain.takesJobs)
        XCTAssertEqual(plain.announced(.empty), .none)
        XCTAssertEqual(plain.announced(.renting), .yield)
        XCTAssertFalse(plain.takesJobs)
        XCTAssertEqual(plain.announced(.renting), .none, "repeated every 2 s by the node: yielded once")
        XCTAssertEqual(plain.announced(.empty), .resume)
        XCTAssertTrue(plain.takesJobs)

        var chain = RentYield(chainConfirms: true)
        XCTAssertFalse(chain.takesJobs, "restarted on a machine that may be rented: the chain is asked first")
        XCTAssertEqual(chain.initialAction, .askChain(round: 0, again: false))
        XCTAssertEqual(chain.chainAnswered(round: 0, status: nil), .askChain(round: 0, again: true))
        XCTAssertEqual(chain.chainAnswered(round: 0, status: "online"), .resume)
        XCTAssertEqual(chain.announced(.renting), .yield)
        XCTAssertEqual(chain.announced(.empty), .askChain(round: 1, again: false))
        XCTAssertFalse(chain.takesJobs, "a forged empty resumes nothing by itself")
        XCTAssertEqual(chain.announced(.empty), .none, "already asking")
        XCTAssertEqual(chain.chainAnswered(round: 1, status: "rented"), .askChain(round: 1, again: true))
        XCTAssertEqual(chain.chainAnswered(round: 1, status: "committeeVerifying"), .askChain(round: 1, again: true))
        XCTAssertEqual(chain.announced(.renting), .none, "not working: nothing to stop")
        XCTAssertEqual(chain.chainAnswered(round: 1, status: "online"), .none, "an answer from before the renting is stale")
        XCTAssertFalse(chain.takesJobs)
        XCTAssertEqual(chain.announced(.empty), .askChain(round: 2, again: false))
        XCTAssertEqual(chain.chainAnswered(round: 2, status: "online"), .resume)
        XCTAssertTrue(chain.takesJobs)
    }
}
