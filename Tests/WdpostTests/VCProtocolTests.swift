import Foundation
@testable import Slave
import XCTest

/// The vc-processors lines as damocles writes them.
final class VCProtocolTests: XCTestCase {
    func response(_ text: String) throws -> VCProtocol.Response { try VCProtocol.response(Data(text.utf8)) }

    func testTheOutputIsKeptAsTheChildWroteIt() throws {
        let r = try response(#"{"id": 7, "err_msg": null, "output": {"proofs": ["a/b+=="], "faults": [ 12 ,3]}}"#)
        XCTAssertEqual(r.id, 7)
        XCTAssertNil(r.errMsg)
        XCTAssertEqual(r.output.map { String(decoding: $0, as: UTF8.self) }, #"{"proofs": ["a/b+=="], "faults": [ 12 ,3]}"#)
        let first = try response(#"{"output":{"proofs":["x\"}"],"faults":[]},"id":18446744073709551615,"err_msg":null}"#)
        XCTAssertEqual(first.id, UInt64.max)
        XCTAssertEqual(first.output.map { String(decoding: $0, as: UTF8.self) }, #"{"proofs":["x\"}"],"faults":[]}"#)
    }

    func testAnyErrMsgIsAFailureAndNullOutputIsNone() throws {
        XCTAssertEqual(try response(#"{"id":1,"err_msg":"","output":null}"#).errMsg, "")
        XCTAssertEqual(try response(#"{"id":1,"err_msg":"generate window post: x","output":{"proofs":[]}}"#).errMsg, "generate window post: x")
        XCTAssertNil(try response(#"{"id":2,"err_msg":null,"output":null}"#).output)
        XCTAssertNil(try response(#"{"id":2,"err_msg":null}"#).output)
    }

    func testLinesThatAreNotResponses() {
        for line in ["window_post processor ready", "[1,2]", #"{"id":-1,"err_msg":null,"output":1}"#, #"{"id":1.5,"output":1}"#,
                     #"{"id":"1","output":1}"#, #"{"id":1e3,"output":1}"#, #"{"err_msg":null,"output":1}"#] {
            XCTAssertThrowsError(try response(line), line) { error in
                guard case VCProtocol.ParseError.notAResponse = error else { return XCTFail("\(line): \(error)") }
            }
        }
        XCTAssertThrowsError(try response(#"{"id":3,"err_msg":5,"output":null}"#)) { error in
            guard case VCProtocol.ParseError.malformed(let id, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(id, 3)
        }
    }

    func testRequestsAreOneLineWithTheTaskAsItIs() throws {
        let task = try VCProtocol.task(Data("{\n  \"miner_id\": 1037,\r\n  \"s\": \"a\\nb\"\n}".utf8))
        let line = VCProtocol.request(id: 4, task: task)
        XCTAssertFalse(line.contains(0x0A))
        let parsed = try XCTUnwrap(try JSONSerialization.jsonObject(with: line) as? [String: Any])
        XCTAssertEqual(parsed["id"] as? Int, 4)
        XCTAssertEqual((parsed["task"] as? [String: Any])?["s"] as? String, "a\nb")
        XCTAssertThrowsError(try VCProtocol.task(Data("[1]".utf8)))
        XCTAssertTrue(VCProtocol.isReady(Data("  window_post processor ready \r".utf8), stage: "window_post"))
        XCTAssertFalse(VCProtocol.isReady(Data("winning_post processor ready".utf8), stage: "window_post"))
    }
}
