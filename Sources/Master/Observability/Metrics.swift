import Foundation

/// The master's counters and histograms, rendered in Prometheus' text format.
/// Hand-written rather than a metrics package: a dozen series, no labels
/// beyond a few fixed ones, and nothing extra to build.
public final class MasterMetrics: @unchecked Sendable {
    public enum Counter: String, CaseIterable {
        case claims = "wdpost_claims_total"
        case finishesAccepted = "wdpost_finishes_accepted_total"
        case finishesFailed = "wdpost_finishes_failed_total"
        case finishesStale = "wdpost_finishes_stale_total"
        case finishesRepeated = "wdpost_finishes_repeated_total"
        case retries = "wdpost_retries_total"
        case heartbeatTimeouts = "wdpost_heartbeat_timeouts_total"
        case taskTimeouts = "wdpost_task_timeouts_total"
        case verificationFailures = "wdpost_verification_failures_total"
        case submits = "wdpost_jobs_submitted_total"
        case rejectedConnections = "wdpost_rejected_connections_total"

        var help: String {
            switch self {
            case .claims: return "Jobs handed to slaves."
            case .finishesAccepted: return "Successful results recorded."
            case .finishesFailed: return "Failed attempts recorded (slave error or verification failure)."
            case .finishesStale: return "Results refused because their lease was not current."
            case .finishesRepeated: return "Results already recorded with the same lease, acknowledged again."
            case .retries: return "Failed attempts that put the job back to ReadyToRun."
            case .heartbeatTimeouts: return "Running jobs taken back after heartbeat_timeout."
            case .taskTimeouts: return "Running jobs taken back after task.timeout."
            case .verificationFailures: return "Results of verified kinds that did not verify."
            case .submits: return "Jobs submitted."
            case .rejectedConnections: return "Connections refused (bad frame, wrong token, limit reached)."
            }
        }
    }

    private let lock = NSLock()
    private var counters: [Counter: Int] = [:]
    let dbLatency = Histogram(name: "wdpost_db_operation_seconds",
                              help: "Time from queueing a store operation to its commit.",
                              buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5])

    /// The longest batch of each maintenance sweep so far, in seconds (from
    /// queueing it to its commit: its transaction is at most that long).
    private var longestBatch: [String: Double] = [:]

    public init() {}

    func observeMaintenanceBatch(_ sweep: String, since startNanos: UInt64) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - startNanos) / 1e9
        lock.withLock { longestBatch[sweep] = max(longestBatch[sweep] ?? 0, seconds) }
    }

    public func add(_ counter: Counter, _ n: Int = 1) {
        guard n != 0 else { return }
        lock.withLock { counters[counter, default: 0] += n }
    }

    public func value(_ counter: Counter) -> Int { lock.withLock { counters[counter] ?? 0 } }

    /// The exposition text; job counts and slaves are read by the caller at scrape time.
    func render(jobCounts: [JobCount], connectedSlaves: Int, rentedSlaves: Int = 0) -> String {
        var out = ""
        let snapshot = lock.withLock { counters }
        for counter in Counter.allCases {
            out += "# HELP \(counter.rawValue) \(counter.help)\n# TYPE \(counter.rawValue) counter\n"
            out += "\(counter.rawValue) \(snapshot[counter] ?? 0)\n"
        }
        out += "# HELP wdpost_jobs Jobs in the job table by state and kind.\n# TYPE wdpost_jobs gauge\n"
        for c in jobCounts {
            out += "wdpost_jobs{state=\"\(escape(c.state))\",kind=\"\(escape(c.kind))\"} \(c.count)\n"
        }
        out += "# HELP wdpost_connected_slaves Slaves connected to this master.\n# TYPE wdpost_connected_slaves gauge\n"
        out += "wdpost_connected_slaves \(connectedSlaves)\n"
        out += "# HELP wdpost_rented_slaves Connected slaves whose DBC machine is rented (they take no jobs).\n# TYPE wdpost_rented_slaves gauge\n"
        out += "wdpost_rented_slaves \(rentedSlaves)\n"
        out += dbLatency.render()
        let longest = lock.withLock { longestBatch }
        out += "# HELP wdpost_maintenance_longest_batch_seconds Longest batch of each maintenance sweep, queueing to commit.\n"
        out += "# TYPE wdpost_maintenance_longest_batch_seconds gauge\n"
        for (sweep, seconds) in longest.sorted(by: { $0.key < $1.key }) {
            out += "wdpost_maintenance_longest_batch_seconds{sweep=\"\(escape(sweep))\"} \(seconds)\n"
        }
        return out
    }

    func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n")
    }
}

/// A cumulative Prometheus histogram.
final class Histogram: @unchecked Sendable {
    let name: String
    let help: String
    let buckets: [Double]
    private let lock = NSLock()
    private var counts: [Int]
    private var sum = 0.0
    private var total = 0

    init(name: String, help: String, buckets: [Double]) {
        self.name = name
        self.help = help
        self.buckets = buckets
        counts = Array(repeating: 0, count: buckets.count)
    }

    func observe(_ seconds: Double) {
        lock.withLock {
            if let i = buckets.firstIndex(where: { seconds <= $0 }) { counts[i] += 1 }
            sum += seconds
            total += 1
        }
    }

    func render() -> String {
        let (counts, sum, total) = lock.withLock { (self.counts, self.sum, self.total) }
        var out = "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        var cumulative = 0
        for (bound, n) in zip(buckets, counts) {
            cumulative += n
            out += "\(name)_bucket{le=\"\(bound)\"} \(cumulative)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(total)\n\(name)_sum \(sum)\n\(name)_count \(total)\n"
        return out
    }
}
