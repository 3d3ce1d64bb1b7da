import Foundation

/// Requests waiting for jobs to end, by job id. Whoever commits an end (a
/// finish, an admin's remove or reset) calls `notify`; a waiter then reads
/// the job from the store again. A waiter registers before it reads the job,
/// so an end committed between its read and its wait still wakes it.
/// Ends nobody here sees (the sweeps' timeouts, another master on a shared
/// database) are found by the front-end's periodic store check, which
/// notifies too.
public final class CompletionWaiters: @unchecked Sendable {
    public struct Ticket: Sendable {
        let id: String
        let number: UInt64
    }

    private enum Slot {
        case armed
        case notified
        case waiting(CheckedContinuation<Void, Never>)
    }

    private let lock = NSLock()
    private var slots: [String: [UInt64: Slot]] = [:]
    private var next: UInt64 = 0

    public init() {}

    /// Starts listening for the end of job `id`; then read it, then `wait` (or `cancel`).
    public func register(_ id: String) -> Ticket {
        lock.withLock {
            next &+= 1
            slots[id, default: [:]][next] = .armed
            return Ticket(id: id, number: next)
        }
    }

    public func cancel(_ ticket: Ticket) {
        lock.withLock { remove(ticket) }
    }

    /// Returns once job `ticket.id` has been notified since `register`.
    public func wait(_ ticket: Ticket) async {
        await withCheckedContinuation { (cont: CheckedContinuation<Void, Never>) in
            let resumeNow = lock.withLock { () -> Bool in
                guard case .armed? = slots[ticket.id]?[ticket.number] else {
                    remove(ticket)
                    return true
                }
                slots[ticket.id]?[ticket.number] = .waiting(cont)
                return false
            }
            if resumeNow { cont.resume() }
        }
    }

    /// Jobs `ids` may have ended: wakes everyone waiting on them.
    public func notify<S: Sequence>(_ ids: S) where S.Element == String {
        var woken: [CheckedContinuation<Void, Never>] = []
        lock.withLock {
            for id in ids {
                guard var entries = slots[id] else { continue }
                for (number, slot) in entries {
                    if case let .waiting(cont) = slot {
                        woken.append(cont)
                        entries[number] = nil
                    } else {
                        entries[number] = .notified
                    }
                }
                slots[id] = entries.isEmpty ? nil : entries
            }
        }
        woken.forEach { $0.resume() }
    }

    /// The jobs someone waits on now (for the periodic store check).
    public var waitedIDs: [String] { lock.withLock { Array(slots.keys) } }

    private func remove(_ ticket: Ticket) {
        slots[ticket.id]?[ticket.number] = nil
        if slots[ticket.id]?.isEmpty == true { slots[ticket.id] = nil }
    }
}
