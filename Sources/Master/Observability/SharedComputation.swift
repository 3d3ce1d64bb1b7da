import Foundation

/// A value computed at most once per `ttl` and shared: callers within the
/// window get the last result, and callers that arrive while it is being
/// computed wait for that same computation instead of starting their own. A
/// failure is not kept (the next caller tries again).
actor SharedComputation<Value: Sendable> {
    private let ttl: Int64
    private let compute: @Sendable () async throws -> Value
    private var last: (value: Value, at: UInt64)?
    private var inFlight: Task<Value, Error>?
    /// How many times `compute` has run, and how many callers waited for a
    /// computation another had started (for tests and diagnostics).
    private(set) var computations = 0
    private(set) var joined = 0

    /// `ttl` in µs.
    init(ttl: Int64, _ compute: @escaping @Sendable () async throws -> Value) {
        self.ttl = ttl
        self.compute = compute
    }

    func value() async throws -> Value {
        if let last, DispatchTime.now().uptimeNanoseconds - last.at < UInt64(max(0, ttl)) * 1_000 { return last.value }
        if let inFlight {
            joined += 1
            return try await inFlight.value
        }
        let task = Task { try await compute() }
        inFlight = task
        computations += 1
        // Others calling meanwhile (the actor is re-entered at this await) share `task`.
        defer { inFlight = nil }
        let value = try await task.value
        last = (value, DispatchTime.now().uptimeNanoseconds)
        return value
    }
}
