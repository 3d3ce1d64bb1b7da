import ServiceLifecycle
import Shared

/// The damocles front end as a part of the master's `ServiceGroup`: it
/// serves stdin/stdout until the group shuts down or damocles-manager closes
/// our stdin; the latter ends the master as SIGTERM does (list it with
/// `successTerminationBehavior: .gracefullyShutdownGroup`).
public struct ExtProverService: Service, CustomStringConvertible {
    public var description: String { "damocles ext-prover front end" }
    let frontEnd: ExtProverFrontEnd

    public init(_ frontEnd: ExtProverFrontEnd) { self.frontEnd = frontEnd }

    public func run() async {
        let (eof, seen) = AsyncStream<Void>.makeStream()
        frontEnd.start { seen.finish() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { for await _ in eof {} }
            group.addTask { try? await gracefulShutdown() }
            await group.next()
            group.cancelAll()
        }
        frontEnd.stop()
    }
}
