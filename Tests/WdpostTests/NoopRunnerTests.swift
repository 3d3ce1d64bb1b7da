import Foundation
import Shared
import Slave
import XCTest

/// The `noop` kind's inputs, attempt by attempt.
final class NoopRunnerTests: XCTestCase {
    func attempt(_ input: String, try tryNum: Int) async -> Result<String, Error> {
        let job = Assignment(id: "NoopTest001", kind: JobKind.noop, lease: 1, tryNum: tryNum, input: Data(input.utf8))
        do { return .success(String(decoding: try await NoopRunner().run(job), as: UTF8.self)) } catch { return .failure(error) }
    }

    func testFailTriesFailsTheFirstAttemptsThenSucceeds() async throws {
        for tryNum in 1...2 {
            guard case .failure(let error) = await attempt(#"{"fail_tries": 2}"#, try: tryNum) else {
                return XCTFail("try \(tryNum) of fail_tries 2 should fail")
            }
            XCTAssertEqual("\(error)", "noop: failed as asked (fail_tries 2, try \(tryNum))")
        }
        guard case .success(let output) = await attempt(#"{"fail_tries": 2}"#, try: 3) else {
            return XCTFail("try 3 of fail_tries 2 should succeed")
        }
        XCTAssertEqual(output, #"{"ok":true}"#)
        // 0 fails nothing; with a sleep, the attempt still fails only after sleeping.
        guard case .success = await attempt(#"{"fail_tries": 0}"#, try: 1) else { return XCTFail("fail_tries 0 fails nothing") }
        let start = Date()
        guard case .failure = await attempt(#"{"sleep_ms": 50, "fail_tries": 1}"#, try: 1) else { return XCTFail("try 1 should fail") }
        XCTAssertGreaterThanOrEqual(Date().timeIntervalSince(start), 0.05)
    }

    func testBadInputNamesEveryKey() async throws {
        guard case .failure(let error) = await attempt(#"{"fail_tries": "once"}"#, try: 1) else { return XCTFail("should fail") }
        XCTAssertTrue("\(error)".contains("\"fail_tries\": N"), "\(error)")
    }
}
