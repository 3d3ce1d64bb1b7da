import Foundation
import Master
import Shared
import XCTest

extension StoreConformance {
    /// `list` a page at a time: pages of any size, read one after the other,
    /// add up to the whole list in its order (archive first, then creation
    /// time, then submit order among jobs created together); brief pages
    /// carry no input or output; a size bound cuts a page, never below one job.
    func listPagesAddUpToTheList() throws {
        // Inserted out of creation order, so creation time, not insertion, must lead.
        let late = try insert((0..<5).map { NewJob(kind: "noop", input: Data("late-\($0)".utf8)) }, now: 3_000)
        let early = try insert((0..<7).map { NewJob(kind: "noop", input: Data("early-\($0)".utf8)) }, now: 1_000)
        let middle = try insert((0..<6).map { NewJob(kind: "noop", input: Data("mid-\($0)".utf8)) }, now: 2_000)
        let claimed = try claim(limit: 4, now: 4_000)
        XCTAssertEqual(claimed.map(\.id), Array(early.prefix(4)))
        _ = try finish(claimed[0], now: 5_000)
        _ = try finish(claimed[1], now: 5_000)
        XCTAssertEqual(try tx { try store.archive(finishedBefore: 6_000) }, 2)
        _ = try finish(claimed[2], now: 7_000)

        let everything = try tx { try store.list(all: true) }
        XCTAssertEqual(everything.map(\.id), early + middle + late, "archive (early 0, 1), then the live table by creation time")
        let unfinished = try tx { try store.list(all: false) }
        XCTAssertEqual(unfinished.map(\.id), Array(early.dropFirst(3)) + middle + late)
        XCTAssertEqual(everything.first { $0.id == claimed[2].id }?.output, try get(claimed[2].id).output)

        for (all, whole) in [(true, everything), (false, unfinished)] {
            for size in [1, 3, 5, 100] {
                let pages = try pagesOfList(all: all, limit: size, brief: true, maxBytes: .max)
                XCTAssertTrue(pages.allSatisfy { $0.count <= size }, "all=\(all) size=\(size): \(pages.map(\.count))")
                XCTAssertEqual(pages.flatMap { $0 }.map(\.id), whole.map(\.id), "all=\(all) size=\(size)")
                XCTAssertTrue(pages.joined().allSatisfy { $0.input.isEmpty && $0.output == nil }, "brief pages carry no data")
            }
            // A bound smaller than any job: one job a page, and the list goes on.
            let cut = try pagesOfList(all: all, limit: 100, brief: false, maxBytes: 1)
            XCTAssertTrue(cut.allSatisfy { $0.count == 1 }, "all=\(all): \(cut.map(\.count))")
            XCTAssertEqual(cut.flatMap { $0 }.map(\.id), whole.map(\.id))
            XCTAssertEqual(cut.flatMap { $0 }.map(\.input), whole.map(\.input), "full pages carry each job's own input")
        }
    }

    /// Every page of the list, following `next` until it is nil.
    private func pagesOfList(all: Bool, limit: Int, brief: Bool, maxBytes: Int) throws -> [[Job]] {
        var pages: [[Job]] = []
        var after: ListCursor?
        repeat {
            let page = try tx { try store.list(all: all, after: after, limit: limit, brief: brief, maxBytes: maxBytes) }
            pages.append(page.jobs)
            after = page.next
        } while after != nil && pages.count < 1_000
        return pages.filter { !$0.isEmpty }
    }
}
