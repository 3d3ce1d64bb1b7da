import Foundation
import Shared
import XCTest

/// A finished job stays the slave's until the master acknowledges its
/// result: the slave keeps heartbeating it, so a slow acknowledgement does not
/// let the master take it back and run it again.
final class ResultHeartbeatTests: XCTestCase {
    func testAResultAwaitingItsAcknowledgementIsStillHeartbeated() async throws {
        let cluster = try TestCluster()
        let job = Assignment(id: "StandIn0001", kind: JobKind.noop, lease: 4242, tryNum: 1, input: Data("{}".utf8))
        let master = try StandInMaster(token: Array(cluster.slaveToken.utf8), jobs: [job])
        cluster.port = master.port
        try cluster.startSlave("s1", concurrent: 1)
        try await cluster.use {
            let deadline = Date().addingTimeInterval(30)
            func heartbeatAfterFinish() -> Bool {
                guard let finish = master.finishesSeen.first(where: { $0.results.contains { $0.id == job.id } }) else { return false }
                return master.heartbeatsSeen.contains { $0.at > finish.at && $0.leases.contains(JobLease(id: job.id, lease: job.lease)) }
            }
            while !heartbeatAfterFinish() {
                guard Date() < deadline else {
                    return XCTFail("no heartbeat for \(job.id) after its finish was sent: \(master.heartbeatsSeen.map(\.leases))")
                }
                try await Task.sleep(nanoseconds: 20_000_000)
            }
        }
    }
}
