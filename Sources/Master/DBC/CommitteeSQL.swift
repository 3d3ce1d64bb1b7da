import Foundation
import Shared

/// DBC orders in SQL both backends accept (VARCHAR keys, BIGINT heights, no
/// INSERT OR REPLACE, no backend functions): one implementation for SQLite
/// and MariaDB, over whichever connection the store holds.
struct CommitteeSQL<Connection: SQLConnection> {
    let db: Connection

    /// SQLite's DDL; MariaDB's is in `MariaDBSchema` (engine, charset, key lengths).
    static var sqliteSchema: String { """
        CREATE TABLE dbc_orders (
            id VARCHAR(32) NOT NULL PRIMARY KEY,
            machine VARCHAR(255) NOT NULL,
            machine_id VARCHAR(255) NOT NULL,
            round_no INTEGER NOT NULL,
            booked_at BIGINT NOT NULL,
            status VARCHAR(32) NOT NULL,
            result VARCHAR(32) NOT NULL DEFAULT '',
            valid_members TEXT,
            invalid_members TEXT,
            unruly_members TEXT,
            agreed_info TEXT,
            summarized_at BIGINT NOT NULL DEFAULT -1,
            version INTEGER NOT NULL DEFAULT 0,
            created_at BIGINT NOT NULL);
        CREATE INDEX dbc_orders_machine ON dbc_orders (machine, created_at);
        CREATE INDEX dbc_orders_status ON dbc_orders (status, created_at);
        CREATE TABLE dbc_members (
            order_id VARCHAR(32) NOT NULL,
            member_name VARCHAR(255) NOT NULL,
            seq INTEGER NOT NULL,
            slots VARCHAR(255) NOT NULL,
            hash VARCHAR(64) NOT NULL DEFAULT '',
            hashed_at BIGINT NOT NULL DEFAULT -1,
            info TEXT,
            revealed_at BIGINT NOT NULL DEFAULT -1,
            probe_job VARCHAR(32) NOT NULL DEFAULT '',
            probe_slot INTEGER NOT NULL DEFAULT -1,
            rand_str VARCHAR(255) NOT NULL DEFAULT '',
            held_info TEXT,
            note TEXT,
            PRIMARY KEY (order_id, member_name));
        """ }

    static var orderColumns: String { """
        id, machine, machine_id, round_no, booked_at, status, result, valid_members, invalid_members, unruly_members, \
        agreed_info, summarized_at, version
        """ }
    static var memberColumns: String { """
        order_id, member_name, seq, slots, hash, hashed_at, info, revealed_at, probe_job, probe_slot, rand_str, held_info, note
        """ }

    static func infoText(_ info: MachineInfo?) -> SQLValue {
        guard let info else { return .null }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return .text(String(decoding: try! encoder.encode(info), as: UTF8.self))
    }

    static func info(_ r: Connection.Row, _ i: Int) throws -> MachineInfo? {
        r.isNull(i) ? nil : try MachineInfo.decode(Data(r.text(i).utf8))
    }

    static func names(_ s: String) -> [String] { s.split(separator: ",").map(String.init) }

    func insertOrder(_ order: VerifyOrder, now: Int64) throws {
        let s = order.summary
        try db.run("""
            INSERT INTO dbc_orders (\(Self.orderColumns), created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(order.id), .text(order.machine), .text(order.machineID), .int(Int64(order.round)),
                  .int(order.bookedAt), .text(order.status.rawValue)] + Self.summaryValues(s) + [.int(Int64(order.version)), .int(now)])
        for m in order.members {
            try db.run("""
                INSERT INTO dbc_members (\(Self.memberColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, [.text(order.id), .text(m.name), .int(Int64(m.seq)), .text(m.slots.map(String.init).joined(separator: ","))]
                    + Self.memberValues(m))
        }
    }

    /// result, valid, invalid, unruly, agreed_info, summarized_at
    static func summaryValues(_ s: VerifySummary?) -> [SQLValue] {
        [.text(s?.result.rawValue ?? ""),
         s.map { .text($0.valid.joined(separator: ",")) } ?? .null,
         s.map { .text($0.invalid.joined(separator: ",")) } ?? .null,
         s.map { .text($0.unruly.joined(separator: ",")) } ?? .null,
         infoText(s?.info), .int(s?.at ?? -1)]
    }

    /// hash, hashed_at, info, revealed_at, probe_job, probe_slot, rand_str, held_info, note
    static func memberValues(_ m: BookedMember) -> [SQLValue] {
        [.text(m.hash ?? ""), .int(m.hashedAt ?? -1), infoText(m.info), .int(m.revealedAt ?? -1),
         .text(m.probeJob), .int(Int64(m.probeSlot)), .text(m.randStr), infoText(m.held), .text(m.note)]
    }

    func updateOrder(_ order: VerifyOrder) throws -> Bool {
        let s = order.summary
        let changed = try db.run("""
            UPDATE dbc_orders SET status = ?, result = ?, valid_members = ?, invalid_members = ?, unruly_members = ?,
                   agreed_info = ?, summarized_at = ?, version = version + 1
            WHERE id = ? AND version = ?
            """, [.text(order.status.rawValue)] + Self.summaryValues(s) + [.text(order.id), .int(Int64(order.version))])
        guard changed == 1 else { return false }
        for m in order.members {
            try db.run("""
                UPDATE dbc_members SET hash = ?, hashed_at = ?, info = ?, revealed_at = ?, probe_job = ?, probe_slot = ?,
                       rand_str = ?, held_info = ?, note = ?
                WHERE order_id = ? AND member_name = ?
                """, Self.memberValues(m) + [.text(order.id), .text(m.name)])
        }
        return true
    }

    private func loadOrders(where condition: String, _ params: [SQLValue]) throws -> [VerifyOrder] {
        var orders = try db.query("""
            SELECT \(Self.orderColumns) FROM dbc_orders WHERE \(condition) ORDER BY created_at, round_no, id
            """, params) { (r: Connection.Row) -> VerifyOrder in
            // A value this release does not know is an error naming the row, not a guess.
            func unknown(_ column: String, _ value: String, _ expected: [String]) -> StoreError {
                .corruptRow(table: "dbc_orders", id: r.text(0), column: column, value: value, expected: expected.joined(separator: ", "))
            }
            let result = r.text(6)
            var summary: VerifySummary?
            if !result.isEmpty {
                guard let verdict = VerifyResult(rawValue: result) else {
                    throw unknown("result", result, ["\"\" (not summarised yet)"] + VerifyResult.allCases.map(\.rawValue))
                }
                summary = VerifySummary(result: verdict, valid: Self.names(r.text(7)), invalid: Self.names(r.text(8)),
                                        unruly: Self.names(r.text(9)), info: try Self.info(r, 10), at: r.int(11))
            }
            guard let status = VerifyStatus(rawValue: r.text(5)) else {
                throw unknown("status", r.text(5), VerifyStatus.allCases.map(\.rawValue))
            }
            return VerifyOrder(id: r.text(0), machine: r.text(1), machineID: r.text(2), round: Int(r.int(3)), bookedAt: r.int(4),
                               members: [], status: status, summary: summary, version: Int(r.int(12)))
        }
        for i in orders.indices {
            orders[i].members = try db.query("""
                SELECT \(Self.memberColumns) FROM dbc_members WHERE order_id = ? ORDER BY seq
                """, [.text(orders[i].id)]) { (r: Connection.Row) -> BookedMember in
                var m = BookedMember(name: r.text(1), seq: Int(r.int(2)), slots: Self.names(r.text(3)).compactMap { Int64($0) })
                let hash = r.text(4)
                m.hash = hash.isEmpty ? nil : hash
                m.hashedAt = r.int(5) < 0 ? nil : r.int(5)
                m.info = try Self.info(r, 6)
                m.revealedAt = r.int(7) < 0 ? nil : r.int(7)
                m.probeJob = r.text(8)
                m.probeSlot = Int(r.int(9))
                m.randStr = r.text(10)
                m.held = try Self.info(r, 11)
                m.note = r.text(12)
                return m
            }
        }
        return orders
    }

    func openOrders() throws -> [VerifyOrder] {
        try loadOrders(where: "status <> ?", [.text(VerifyStatus.finished.rawValue)])
    }

    func orders(machine: String?) throws -> [VerifyOrder] {
        if let machine { return try loadOrders(where: "machine = ?", [.text(machine)]) }
        return try loadOrders(where: "1 = 1", [])
    }
}

extension SQLiteStore: CommitteeStore {
    var committee: CommitteeSQL<SQLiteConnection> { CommitteeSQL(db: db) }
    public func insertOrder(_ order: VerifyOrder, now: Int64) throws { try committee.insertOrder(order, now: now) }
    public func updateOrder(_ order: VerifyOrder) throws -> Bool { try committee.updateOrder(order) }
    public func openOrders() throws -> [VerifyOrder] { try committee.openOrders() }
    public func orders(machine: String?) throws -> [VerifyOrder] { try committee.orders(machine: machine) }
}

extension MariaDBStore: CommitteeStore {
    var committee: CommitteeSQL<MariaDBConnection> { CommitteeSQL(db: db) }
    public func insertOrder(_ order: VerifyOrder, now: Int64) throws { try committee.insertOrder(order, now: now) }
    public func updateOrder(_ order: VerifyOrder) throws -> Bool { try committee.updateOrder(order) }
    public func openOrders() throws -> [VerifyOrder] { try committee.openOrders() }
    public func orders(machine: String?) throws -> [VerifyOrder] { try committee.orders(machine: machine) }
}
