import Foundation

/// The MariaDB/MySQL schema, as numbered migrations. `deploy/mariadb-schema.sql`
/// holds the same statements for DBAs (a test keeps the two identical).
///
/// Choices, and why:
/// - InnoDB (row locks, `FOR UPDATE SKIP LOCKED`), utf8mb4 with a binary
///   collation without padding (migration 8): job ids are case-sensitive
///   base58 and every comparison must match SQLite's byte-wise one.
/// - Timestamps are BIGINT microseconds, like the SQLite store; a job without
///   a deadline stores Int64.max so it sorts last.
/// - `seq` (AUTO_INCREMENT) records insertion order, the tie-break SQLite gets
///   from its rowid: jobs submitted together are claimed and listed in order.
/// - TEXT columns have no DEFAULT (MySQL refuses one); inserts give every value.
/// - The archive has the same columns but no unique constraint on unique_key,
///   so archiving two generations of one key never collides.
/// - DDL commits implicitly, so a migration is not one transaction; every
///   statement is `IF NOT EXISTS`, which makes re-running an interrupted
///   migration safe, and masters starting together serialise on a named lock.
enum MariaDBSchema {
    static let columns = JobSQL<MariaDBConnection>.columns

    static let versionTable = """
        CREATE TABLE IF NOT EXISTS schema_version (
            version INT NOT NULL PRIMARY KEY
        ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
        """

    /// The columns the job table and its archive share (migration 1), so the
    /// two cannot drift apart: archiving copies rows column for column.
    private static let jobColumns = """
        id VARCHAR(16) NOT NULL,
        kind VARCHAR(64) NOT NULL,
        state VARCHAR(16) NOT NULL,
        miner_id VARCHAR(128) NOT NULL DEFAULT '',
        deadline_idx BIGINT NOT NULL DEFAULT -1,
        partitions TEXT NOT NULL,
        priority BIGINT NOT NULL DEFAULT 0,
        deadline_at BIGINT NOT NULL,
        unique_key VARCHAR(512) NULL,
        input LONGBLOB NOT NULL,
        output LONGBLOB NULL,
        try_num INT NOT NULL DEFAULT 0,
        max_try INT NOT NULL,
        lease BIGINT NOT NULL DEFAULT 0,
        worker VARCHAR(255) NOT NULL DEFAULT '',
        not_before BIGINT NOT NULL DEFAULT 0,
        created_at BIGINT NOT NULL,
        started_at BIGINT NOT NULL DEFAULT 0,
        heartbeat_at BIGINT NOT NULL DEFAULT 0,
        finished_at BIGINT NOT NULL DEFAULT 0,
        error MEDIUMTEXT NOT NULL,
        """

    /// Statements of migration N are at index N-1.
    static let migrations: [[String]] = [
        [
            """
            CREATE TABLE IF NOT EXISTS jobs (
                \(jobColumns)
                seq BIGINT NOT NULL AUTO_INCREMENT,
                PRIMARY KEY (id),
                UNIQUE KEY jobs_seq (seq),
                UNIQUE KEY jobs_unique_key (unique_key),
                KEY jobs_claim (state, kind, deadline_at, priority, created_at),
                KEY jobs_running (state, heartbeat_at),
                KEY jobs_created (created_at)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS jobs_archive (
                \(jobColumns)
                seq BIGINT NOT NULL,
                PRIMARY KEY (id),
                KEY jobs_archive_unique_key (unique_key),
                KEY jobs_archive_created (created_at)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
        ],
        // 2: jobs pinned to one worker (DBC probes run on the machine under test).
        [
            "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS pin VARCHAR(255) NOT NULL DEFAULT ''",
            "ALTER TABLE jobs_archive ADD COLUMN IF NOT EXISTS pin VARCHAR(255) NOT NULL DEFAULT ''",
        ],
        // 3: DeepBrainChain verification orders (CommitteeSQL.swift reads and writes them).
        [
            """
            CREATE TABLE IF NOT EXISTS dbc_orders (
                id VARCHAR(32) NOT NULL,
                machine VARCHAR(255) NOT NULL,
                machine_id VARCHAR(255) NOT NULL,
                round_no INT NOT NULL,
                booked_at BIGINT NOT NULL,
                status VARCHAR(32) NOT NULL,
                result VARCHAR(32) NOT NULL DEFAULT '',
                valid_members TEXT NULL,
                invalid_members TEXT NULL,
                unruly_members TEXT NULL,
                agreed_info MEDIUMTEXT NULL,
                summarized_at BIGINT NOT NULL DEFAULT -1,
                version INT NOT NULL DEFAULT 0,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (id),
                KEY dbc_orders_machine (machine, created_at),
                KEY dbc_orders_status (status, created_at)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
            """
            CREATE TABLE IF NOT EXISTS dbc_members (
                order_id VARCHAR(32) NOT NULL,
                member_name VARCHAR(255) NOT NULL,
                seq INT NOT NULL,
                slots VARCHAR(255) NOT NULL,
                hash VARCHAR(64) NOT NULL DEFAULT '',
                hashed_at BIGINT NOT NULL DEFAULT -1,
                info MEDIUMTEXT NULL,
                revealed_at BIGINT NOT NULL DEFAULT -1,
                probe_job VARCHAR(32) NOT NULL DEFAULT '',
                probe_slot INT NOT NULL DEFAULT -1,
                rand_str VARCHAR(255) NOT NULL DEFAULT '',
                held_info MEDIUMTEXT NULL,
                note TEXT NULL,
                PRIMARY KEY (order_id, member_name)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin
            """,
        ],
        // 4: the claim index in claim order (state, then deadline, priority
        // high first, age), so a claim reads the first ready rows instead of
        // sorting every ready job of its kinds. DESC keys need MariaDB 10.8+.
        [
            "CREATE INDEX IF NOT EXISTS jobs_claim_order ON jobs (state, deadline_at, priority DESC, created_at, seq)",
            "DROP INDEX IF EXISTS jobs_claim ON jobs",
        ],
        // 5: no index of its own for Running jobs. Every claim and finish
        // changed two state-led indexes (and each heartbeat this one); the
        // claim-order index leads with state too, so the sweeps' and the
        // slave list's reads of the Running jobs use its `state = 'Running'`
        // range. One secondary index changes per transition instead of two.
        [
            "DROP INDEX IF EXISTS jobs_running ON jobs",
        ],
        // 6: the creation-time indexes end with seq, the list's tie-break, so
        // a page of `wdpost list` reads on from its cursor in index order
        // instead of sorting every row after it. Purges still seek on
        // created_at, the first column.
        [
            "CREATE INDEX IF NOT EXISTS jobs_created_seq ON jobs (created_at, seq)",
            "DROP INDEX IF EXISTS jobs_created ON jobs",
            "CREATE INDEX IF NOT EXISTS jobs_archive_created_seq ON jobs_archive (created_at, seq)",
            "DROP INDEX IF EXISTS jobs_archive_created ON jobs_archive",
        ],
        // 7: the claim index leads with kind (within state), so a claim reads
        // only the ranges of the kinds it asks for and never steps over ready
        // jobs of other kinds. Claim order follows within each kind; a claim
        // for several kinds merges their heads (see `ClaimRead`).
        [
            "CREATE INDEX IF NOT EXISTS jobs_claim_kind ON jobs (state, kind, deadline_at, priority DESC, created_at, seq)",
            "DROP INDEX IF EXISTS jobs_claim_order ON jobs",
        ],
        // 8: text compares as in SQLite, byte for byte including trailing
        // spaces. utf8mb4_bin is a PAD SPACE collation: "k" and "k " were one
        // unique key, and a kind or pin with a trailing space matched the one
        // without. utf8mb4_nopad_bin orders by code point, as SQLite's
        // byte-wise BINARY does for UTF-8, and pads nothing.
        [
            "ALTER TABLE jobs CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
            "ALTER TABLE jobs_archive CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
            "ALTER TABLE dbc_orders CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
            "ALTER TABLE dbc_members CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin",
        ],
        // 9: a proof job's sector size (claims honour a slave's allowed_sizes)
        // and sector count (`list`). Both tables, in the same order: archiving
        // copies rows column for column.
        [
            "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS sector_size VARCHAR(16) NOT NULL DEFAULT ''",
            "ALTER TABLE jobs ADD COLUMN IF NOT EXISTS sectors INT NOT NULL DEFAULT 0",
            "ALTER TABLE jobs_archive ADD COLUMN IF NOT EXISTS sector_size VARCHAR(16) NOT NULL DEFAULT ''",
            "ALTER TABLE jobs_archive ADD COLUMN IF NOT EXISTS sectors INT NOT NULL DEFAULT 0",
        ],
        // 10: the ComputeChain outbox (ComputeChainSQL.swift reads and writes it):
        // one row per (block, worker) task, written with the task's job.
        [
            """
            CREATE TABLE IF NOT EXISTS computechain_tasks (
                task_id VARCHAR(36) NOT NULL,
                worker VARCHAR(128) NOT NULL,
                block_height BIGINT NOT NULL,
                block_hash VARCHAR(128) NOT NULL,
                job_id VARCHAR(16) NOT NULL,
                state VARCHAR(16) NOT NULL,
                result_hash VARCHAR(128) NOT NULL DEFAULT '',
                nonce BIGINT NOT NULL DEFAULT -1,
                tx_hash VARCHAR(64) NOT NULL DEFAULT '',
                sent_height BIGINT NOT NULL DEFAULT -1,
                sends INT NOT NULL DEFAULT 0,
                rejections INT NOT NULL DEFAULT 0,
                confirmed_height BIGINT NOT NULL DEFAULT -1,
                error TEXT NULL,
                created_at BIGINT NOT NULL,
                updated_at BIGINT NOT NULL,
                PRIMARY KEY (task_id),
                KEY computechain_tasks_state (state, block_height),
                KEY computechain_tasks_height (block_height)
            ) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin
            """,
        ],
    ]
}
