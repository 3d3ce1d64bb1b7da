import ServiceLifecycle

/// One part of a daemon in its `ServiceGroup`: already set up when the group
/// runs (so that a failure to open a store or bind a port ends the start with
/// one clear line, before anything runs), it is stopped when the group shuts
/// down. The group stops its services in the reverse of their order, so a
/// part listed after another stops before it.
public struct DaemonPart: Service, CustomStringConvertible {
    public let description: String
    private let stop: @Sendable () async -> Void

    public init(_ name: String, stop: @escaping @Sendable () async -> Void) {
        description = name
        self.stop = stop
    }

    public func run() async {
        // Cancelled instead (the group failed): stop all the same.
        try? await gracefulShutdown()
        await stop()
    }

    /// Undoes a start that failed after this part was set up, outside any group.
    public func stopNow() async { await stop() }
}
