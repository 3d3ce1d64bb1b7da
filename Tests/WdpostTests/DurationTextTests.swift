import Shared
import XCTest

final class DurationTextTests: XCTestCase {
    func testGoStyleAndDays() throws {
        XCTAssertEqual(try DurationText.micros("15s"), 15_000_000)
        XCTAssertEqual(try DurationText.micros("10m"), 600_000_000)
        XCTAssertEqual(try DurationText.micros("25h0m0s"), 25 * 3_600_000_000)
        XCTAssertEqual(try DurationText.micros("2days"), 2 * 86_400_000_000)
        XCTAssertEqual(try DurationText.micros("1day"), 86_400_000_000)
        XCTAssertEqual(try DurationText.micros("1.5h"), 5_400_000_000)
        XCTAssertEqual(try DurationText.micros("300ms"), 300_000)
        XCTAssertEqual(try DurationText.micros("1m30s"), 90_000_000)
        XCTAssertEqual(try DurationText.micros("0"), 0)
    }

    func testRejectsWhatIsNotADuration() {
        for bad in ["", "15", "s", "10 minutes", "1x", "-5s", "1h-", "abc"] {
            XCTAssertThrowsError(try DurationText.micros(bad), bad)
        }
    }

    func testFormat() {
        XCTAssertEqual(DurationText.format(micros: 850_000), "850ms")
        XCTAssertEqual(DurationText.format(micros: 12_000_000), "12s")
        XCTAssertEqual(DurationText.format(micros: 184_000_000), "3m4s")
        XCTAssertEqual(DurationText.format(micros: 7_500_000_000), "2h5m")
    }
}
