import Foundation
import Shared
import XCTest

/// `wdpost list` of more jobs than one answer can carry.
final class ListTests: XCTestCase {
    /// 20,000 unfinished jobs with 1 KiB inputs: as one answer their JSON is
    /// about 30 MB, twice the 16 MiB frame limit (before paging, `wdpost list`
    /// failed with "connection to the master lost"). The table (brief pages)
    /// and `--json` (pages cut by size) show every job, in submit order.
    func testListOfMoreJobsThanOneFrameHolds() async throws {
        let cluster = try TestCluster()
        try await cluster.startMaster()
        try await cluster.use {
            let input = #"{"pad": ""# + String(repeating: "x", count: 1_000) + #""}"#
            var ids: [String] = []
            for _ in 0..<4 { ids += try await cluster.submitNoop(5_000, input: input) }
            let client = try await cluster.client()
            let brief = try await client.list(all: false, brief: true)
            XCTAssertEqual(brief.map(\.id), ids)
            let full = try await client.list(all: true)
            XCTAssertEqual(full.map(\.id), ids)
            XCTAssertTrue(full.allSatisfy { $0.input == Data(input.utf8) })

            let table = try cluster.cli(["list"])
            XCTAssertEqual(table.status, 0, table.err)
            let rows = table.out.split(separator: "\n").dropFirst()
            XCTAssertEqual(rows.map { String($0.prefix { $0 != " " }) }, ids)
            let json = try cluster.cli(["list", "--json"])
            XCTAssertEqual(json.status, 0, json.err)
            let listed = try JSONSerialization.jsonObject(with: Data(json.out.utf8)) as? [[String: Any]]
            XCTAssertEqual(listed?.compactMap { $0["id"] as? String }, ids)

            // A page size of 0 is refused with a clear error.
            do {
                _ = try await client.list(all: false, pageSize: 0)
                XCTFail("a list with pages of 0 jobs was answered")
            } catch {
                XCTAssertTrue("\(error)".contains("limit must be at least 1"), "\(error)")
            }
        }
    }
}
