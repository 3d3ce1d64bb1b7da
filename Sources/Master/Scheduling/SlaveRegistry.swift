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
        lock.lock(); entries[key] = nil; rentedNames[key] = nil; lock.unlock()
    }

    /// Connections whose machine is rented, with their slave's name: kept
    /// apart so that the check on every claim is a look at an (almost always
    /// empty) table, not a walk over every slave.
    private var rentedNames: [ObjectIdentifier: String] = [:]

    /// Records what the slave said; false when the connection is gone.
    @discardableResult
    func setRented(_ key: ObjectIdentifier, _ rented: Bool) -> Bool {
        lock.lock(); defer { lock.unlock() }
        guard let name = entries[key]?.name else { return false }
        entries[key]?.rented = rented
        rentedNames[key] = rented ? name : nil
        return true
    }

    /// Whether a slave of this name said its machine is rented: claims are
    /// checked by name, as the store hands jobs to a worker name.
    func isRented(_ name: String) -> Bool {
        lock.lock(); defer { lock.unlock() }
        return !rentedNames.isEmpty && rentedNames.values.contains(name)
    }

    var rentedCount: Int {
        lock.lock(); defer { lock.unlock() }
        return rentedNames.count
    }

    func touch(_ key: ObjectIdentifier, now: Int64) {
        lock.lock(); entries[key]?.lastSeen = now; lock.unlock()
    }

    func snapshot() -> [Entry] {
        lock.lock(); defer { lock.unlock() }
        return entries.values.sorted { ($0.name, $0.address) < ($1.name, $1.address) }
    }
}
