import Foundation
import Shared

/// The `dbc-doctor` kind: the node doctor on this slave's host (its
/// `[dbc] doctor_root`), the report as the job's output. Failing checks are
/// the report, not a failed job; only bad input fails the attempt.
public struct DBCDoctorRunner: Runner {
    let root: String

    public init(root: String) { self.root = root }

    public func run(_ job: Assignment) async throws -> Data {
        var input = DBCDoctorInput()
        if !job.input.isEmpty {
            do { input = try JSONDecoder().decode(DBCDoctorInput.self, from: job.input) } catch {
                throw JobFailure("dbc-doctor: input is not {\"libvirt\": \"HOST:PORT\", \"node_dat\": PATH} (both optional)")
            }
        }
        var doctor = NodeDoctor(tree: MachineTree(root: root), nodeDat: input.nodeDat)
        if let text = input.libvirt {
            guard let address = HostPort(text) else { throw JobFailure("dbc-doctor: libvirt \"\(text.prefix(200))\": expected HOST:PORT") }
            doctor.libvirt = address
        }
        // The libvirt connect may wait up to its timeout: off the executor's threads.
        let checks = try await onThread("dbc-doctor") { doctor.run() }
        return DoctorReport.json(checks)
    }
}
