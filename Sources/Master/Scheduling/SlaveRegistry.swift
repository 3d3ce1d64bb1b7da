import Foundation
import Shared

/// The slaves connected to this master right now (in memory: each master knows
/// its own connections; the jobs they hold are in the store).
final class SlaveRegistry: @unchecked Sendable {
    struct Entry {
        var name: String
        var address: String
        var capabilities: Capabilities
        var lastSeen: Int64
        /// Its DBC machine is rented (`RentNotice`): it claims nothing meanwhile.
        var rented = false
    }

    private let lock = NSLock()
    private var entries: [ObjectIdentifier: Entry] = [:]

    var count: Int {
        lock.lock(); defer { lock.unlock() }
        return entries.count
    }

    func add(_ key: ObjectIdentifier, _ entry: Entry) {
        lock.lock(); entries[key] = entry; lock.unlock()
    }

    func remove(_ key: ObjectIdentifier) {
        lock.lock(); entries[key] = nil; lock.unlock()
    }

    /// Records what the slave said, for `slaves`, metrics and the status page
    /// (its connection is what stops its claims); false when the connection is gone.
    @discardableResult
    func setRented(_ key: ObjectIdentifier, _ rented: Bool) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard entries[key] != nil else { return false }
        entries[key]?.rented = rented
        return true
    }

    var rentedCount: Int {
        lock.lock(); defer { lock.unlock() }
        return entries.values.filter(\.rented).count
    }

    func touch(_ key: ObjectIdentifier, now: Int64) {
        lock.lock(); entries[key]?.lastSeen = now; lock.unlock()
    }

    func snapshot() -> [Entry] {
        lock.lock(); defer { lock.unlock() }
        return entries.values.sorted { ($0.name, $0.address) < ($1.name, $1.address) }
    }
}
