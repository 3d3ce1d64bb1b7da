-- wdpost schema for MariaDB (10.8+; migration 2 uses ADD COLUMN IF NOT EXISTS, which MySQL lacks): the same statements
-- the master runs on start (Sources/Master/MariaDBSchema.swift; a test keeps
-- the two identical). A master migrates an empty database by itself; this file
-- is for DBAs who create the schema by hand or review it.
--
-- Create the database and a user first, for example:
--   CREATE DATABASE `venus-cluster-wdpost` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
--   CREATE USER 'wdpost'@'%' IDENTIFIED BY '...';
--   GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP ON `venus-cluster-wdpost`.* TO 'wdpost'@'%';
-- (a name with '-' needs the backticks), then: USE `venus-cluster-wdpost`; SOURCE mariadb-schema.sql;
--
-- Timestamps are microseconds since 1970 (BIGINT). Claims use
-- SELECT ... FOR UPDATE SKIP LOCKED, so several masters may share the database.

CREATE TABLE IF NOT EXISTS schema_version (
    version INT NOT NULL PRIMARY KEY
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Migration 1: the job table and its archive.
CREATE TABLE IF NOT EXISTS jobs (
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
    seq BIGINT NOT NULL AUTO_INCREMENT,
    PRIMARY KEY (id),
    UNIQUE KEY jobs_seq (seq),
    UNIQUE KEY jobs_unique_key (unique_key),
    KEY jobs_claim (state, kind, deadline_at, priority, created_at),
    KEY jobs_running (state, heartbeat_at),
    KEY jobs_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE IF NOT EXISTS jobs_archive (
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
    seq BIGINT NOT NULL,
    PRIMARY KEY (id),
    KEY jobs_archive_unique_key (unique_key),
    KEY jobs_archive_created (created_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO schema_version (version) VALUES (1);

-- Migration 2: jobs pinned to one worker (DBC probes run on the machine under test).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS pin VARCHAR(255) NOT NULL DEFAULT '';
ALTER TABLE jobs_archive ADD COLUMN IF NOT EXISTS pin VARCHAR(255) NOT NULL DEFAULT '';

INSERT INTO schema_version (version) VALUES (2);

-- Migration 3: DeepBrainChain verification orders and their booked members.
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

INSERT INTO schema_version (version) VALUES (3);

-- Migration 4: the claim index in claim order (DESC keys need MariaDB 10.8+).
CREATE INDEX IF NOT EXISTS jobs_claim_order ON jobs (state, deadline_at, priority DESC, created_at, seq);
DROP INDEX IF EXISTS jobs_claim ON jobs;

INSERT INTO schema_version (version) VALUES (4);

-- Migration 5: no index of its own for Running jobs (the claim-order index's state prefix serves them).
DROP INDEX IF EXISTS jobs_running ON jobs;

INSERT INTO schema_version (version) VALUES (5);

-- Migration 6: the creation-time indexes end with seq, the list's tie-break (a page of `wdpost list` reads on from its cursor).
CREATE INDEX IF NOT EXISTS jobs_created_seq ON jobs (created_at, seq);
DROP INDEX IF EXISTS jobs_created ON jobs;
CREATE INDEX IF NOT EXISTS jobs_archive_created_seq ON jobs_archive (created_at, seq);
DROP INDEX IF EXISTS jobs_archive_created ON jobs_archive;

INSERT INTO schema_version (version) VALUES (6);

-- Migration 7: the claim index leads with kind (within state): a claim reads only the ranges of its kinds.
CREATE INDEX IF NOT EXISTS jobs_claim_kind ON jobs (state, kind, deadline_at, priority DESC, created_at, seq);
DROP INDEX IF EXISTS jobs_claim_order ON jobs;

INSERT INTO schema_version (version) VALUES (7);

-- Migration 8: text compares byte for byte, trailing spaces included, as in SQLite (utf8mb4_bin pads with spaces).
ALTER TABLE jobs CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;
ALTER TABLE jobs_archive CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;
ALTER TABLE dbc_orders CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;
ALTER TABLE dbc_members CONVERT TO CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin;

INSERT INTO schema_version (version) VALUES (8);

-- Migration 9: a proof job's sector size (claims honour a slave's allowed_sizes) and sector count (`list`).
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS sector_size VARCHAR(16) NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS sectors INT NOT NULL DEFAULT 0;
ALTER TABLE jobs_archive ADD COLUMN IF NOT EXISTS sector_size VARCHAR(16) NOT NULL DEFAULT '';
ALTER TABLE jobs_archive ADD COLUMN IF NOT EXISTS sectors INT NOT NULL DEFAULT 0;

INSERT INTO schema_version (version) VALUES (9);

-- Migration 10: the ComputeChain outbox, one row per (block, worker) task, written with the task's job.
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
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_nopad_bin;

INSERT INTO schema_version (version) VALUES (10);
