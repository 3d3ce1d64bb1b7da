import Foundation
import Master
import Shared
import XCTest

extension StoreConformance {
    /// A claim's answer must fit the slave's frame: it takes jobs while their
    /// inputs stay within `InputLimits.claimInputBytes` (always at least one);
    /// the rest stay ready with no try used. With several workers in one
    /// claim, each worker's share is bounded alone.
    func claimIsBoundedByInputBytes() throws {
        let six = Data(repeating: 0x36, count: 6 << 20)
        let ids = try insert([NewJob(kind: "noop", input: six), NewJob(kind: "noop", input: six + Data([1])),
                              NewJob(kind: "noop", input: Data([2]))])
        XCTAssertGreaterThan(2 * six.count, InputLimits.claimInputBytes, "two of these do not fit one answer")
        XCTAssertEqual(try claim(limit: 10).map(\.id), [ids[0]], "the second 6 MiB job would overflow the answer")
        for id in ids.dropFirst() {
            let job = try get(id)
            XCTAssertEqual(job.state, .readyToRun)
            XCTAssertEqual(job.tryNum, 0, "a job left out of a claim uses no try")
        }
        XCTAssertEqual(try claim(limit: 10).map(\.id), [ids[1], ids[2]])

        let more = try insert([NewJob(kind: "noop", input: six), NewJob(kind: "noop", input: six), NewJob(kind: "noop", input: Data([3]))])
        let shares = try tx {
            try store.claim([ClaimWanted(worker: "a", limit: 10), ClaimWanted(worker: "b", limit: 10)], kinds: ["noop"], miners: [], now: 2_000)
        }
        XCTAssertEqual(shares.map { $0.map(\.id) }, [[more[0]], [more[1], more[2]]], "each worker's answer is bounded alone")
    }

    /// Text compares byte for byte on every store: trailing spaces count
    /// (MariaDB's PAD SPACE collations ignore them; SQLite does not).
    func textComparesByteForByte() throws {
        let plain = try insert([NewJob(kind: "noop", uniqueKey: "k")])[0]
        let spaced = try insert([NewJob(kind: "noop", uniqueKey: "k ")])[0]
        XCTAssertNotEqual(plain, spaced, "\"k\" and \"k \" are two keys")
        XCTAssertEqual(try insert([NewJob(kind: "noop", uniqueKey: "k ")])[0], spaced)
        XCTAssertEqual(try claim(kinds: ["noop"], limit: 10).count, 2)

        let kindSpaced = try insert([NewJob(kind: "noop ")])[0]
        let pinned = try insert([NewJob(kind: "noop", worker: "w ")])[0]
        XCTAssertEqual(try claim("w", kinds: ["noop"], limit: 10).map(\.id), [], "neither \"noop \" nor a pin to \"w \" is for w and noop")
        XCTAssertEqual(try claim("w ", kinds: ["noop ", "noop"], limit: 10).map(\.id).sorted(), [kindSpaced, pinned].sorted())
    }

    /// Worker names that are different bytes but equal Swift strings
    /// (precomposed "café", and "cafe" + U+0301) are two groups to the store
    /// and one key in memory: their running jobs add up, nothing traps.
    func canonicallyEqualWorkersAddUp() throws {
        let precomposed = "caf\u{E9}", decomposed = "cafe\u{301}"
        XCTAssertEqual(precomposed, decomposed, "Swift compares them canonically")
        XCTAssertNotEqual(Array(precomposed.utf8), Array(decomposed.utf8))
        _ = try insert([NewJob(kind: "noop"), NewJob(kind: "noop"), NewJob(kind: "noop")])
        XCTAssertEqual(try claim(precomposed, limit: 1).count, 1)
        XCTAssertEqual(try claim(decomposed, limit: 2).count, 2)
        XCTAssertEqual(try tx { try store.runningByWorker() }, [precomposed: 3])
    }
}
