//! Versioned schema migrations of both stores.
//!
//! The lists are append-only: a released migration is never edited, a change
//! is a new entry, in both lists at once, so the two schemas keep the same
//! tables and columns (the types are each database's own). Each start
//! applies the missing ones in one transaction, and refuses a database a
//! newer scan2dms has migrated further. SQLite keeps the number applied in
//! `PRAGMA user_version`, PostgreSQL in the `schema_migrations` table, one
//! row per migration.

/// SQLite.
pub const MIGRATIONS: &[&str] = &[
    // 1: orders, batches, delivered records and pages, the event log.
    r#"
    CREATE TABLE orders (
        order_id       TEXT PRIMARY KEY,
        series         TEXT NOT NULL,
        source         TEXT NOT NULL,
        imported_at_ms INTEGER NOT NULL
    );
    CREATE TABLE order_records (
        order_id  TEXT NOT NULL REFERENCES orders(order_id),
        record_id TEXT NOT NULL,
        title     TEXT NOT NULL,
        box_id    TEXT NOT NULL,
        PRIMARY KEY (order_id, record_id)
    );
    CREATE TABLE batches (
        seq            INTEGER PRIMARY KEY AUTOINCREMENT,
        batch_id       TEXT NOT NULL UNIQUE,
        source_name    TEXT NOT NULL,
        source_path    TEXT NOT NULL,
        state          TEXT NOT NULL,
        attempts       INTEGER NOT NULL DEFAULT 0,
        not_before_ms  INTEGER,
        order_id       TEXT,
        outcome        TEXT,
        report_json    TEXT,
        last_error     TEXT,
        received_at_ms INTEGER NOT NULL,
        updated_at_ms  INTEGER NOT NULL
    );
    CREATE INDEX batches_by_state ON batches(state);
    -- The records a batch delivered (from its records.csv), kept for every
    -- accepted batch.
    CREATE TABLE batch_records (
        batch_id  TEXT NOT NULL REFERENCES batches(batch_id),
        record_id TEXT NOT NULL,
        title     TEXT NOT NULL,
        box_id    TEXT NOT NULL,
        pages     INTEGER NOT NULL,
        PRIMARY KEY (batch_id, record_id)
    );
    -- At most one accepted delivery per record: the primary key is the rule.
    CREATE TABLE delivered_records (
        record_id TEXT PRIMARY KEY,
        batch_id  TEXT NOT NULL REFERENCES batches(batch_id)
    );
    CREATE TABLE pages (
        batch_id    TEXT NOT NULL REFERENCES batches(batch_id),
        record_id   TEXT NOT NULL,
        page_no     INTEGER NOT NULL,
        document_no INTEGER,
        file        TEXT NOT NULL,
        file_page   INTEGER NOT NULL,
        sha256      TEXT,
        PRIMARY KEY (batch_id, record_id, page_no)
    );
    -- Documents are filled by the OCR stage.
    CREATE TABLE documents (
        batch_id    TEXT NOT NULL REFERENCES batches(batch_id),
        record_id   TEXT NOT NULL,
        document_no INTEGER NOT NULL,
        state       TEXT NOT NULL,
        PRIMARY KEY (batch_id, record_id, document_no)
    );
    CREATE TABLE events (
        seq       INTEGER PRIMARY KEY AUTOINCREMENT,
        at_ms     INTEGER NOT NULL,
        batch_id  TEXT NOT NULL,
        record_id TEXT,
        page_no   INTEGER,
        kind      TEXT NOT NULL,
        detail    TEXT NOT NULL
    );
    CREATE INDEX events_by_batch ON events(batch_id, seq);
    -- The processing record is append-only.
    CREATE TRIGGER events_no_update BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    CREATE TRIGGER events_no_delete BEFORE DELETE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
    "#,
    // 2: what the OCR stage learnt per page, and documents with their e-files.
    r#"
    ALTER TABLE pages ADD COLUMN status TEXT;
    ALTER TABLE pages ADD COLUMN confidence REAL;
    ALTER TABLE pages ADD COLUMN blank INTEGER;
    ALTER TABLE pages ADD COLUMN separator INTEGER;
    ALTER TABLE pages ADD COLUMN rotation INTEGER;
    ALTER TABLE pages ADD COLUMN dpi REAL;
    ALTER TABLE pages ADD COLUMN text TEXT;
    ALTER TABLE documents ADD COLUMN page_nos TEXT NOT NULL DEFAULT '[]';
    ALTER TABLE documents ADD COLUMN efile_path TEXT;
    ALTER TABLE documents ADD COLUMN efile_sha256 TEXT;
    ALTER TABLE documents ADD COLUMN efile_bytes INTEGER;
    "#,
    // 3: the measured skew of each page, undone in the e-file.
    r#"
    ALTER TABLE pages ADD COLUMN skew REAL;
    "#,
    // 4: each document's object in the DMS and whether its bytes were read back.
    r#"
    ALTER TABLE documents ADD COLUMN dms_object_id TEXT;
    ALTER TABLE documents ADD COLUMN dms_verified INTEGER NOT NULL DEFAULT 0;
    "#,
    // 5: the server's users (contractors and staff, by token) and who
    // uploaded which batch. An upload is owned before it reaches the inbox,
    // so before intake registers it: no foreign key to batches.
    r#"
    CREATE TABLE users (
        user_id       TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        role          TEXT NOT NULL CHECK (role IN ('contractor', 'staff')),
        token_hash    TEXT NOT NULL,
        created_at_ms INTEGER NOT NULL
    );
    CREATE TABLE uploads (
        batch_id       TEXT PRIMARY KEY,
        user_id        TEXT NOT NULL REFERENCES users(user_id),
        source_name    TEXT NOT NULL,
        bytes          INTEGER NOT NULL,
        sha256         TEXT NOT NULL,
        uploaded_at_ms INTEGER NOT NULL
    );
    CREATE INDEX uploads_by_user ON uploads(user_id, uploaded_at_ms);
    "#,
    // 6: each document's type as classified, its key fields, and a
    // reviewer's decision where the classifier was unsure.
    r#"
    ALTER TABLE documents ADD COLUMN doc_type TEXT;
    ALTER TABLE documents ADD COLUMN doc_type_confidence REAL;
    ALTER TABLE documents ADD COLUMN needs_review INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN fields_json TEXT;
    ALTER TABLE documents ADD COLUMN review_doc_type TEXT;
    ALTER TABLE documents ADD COLUMN reviewed_by TEXT;
    ALTER TABLE documents ADD COLUMN reviewed_at_ms INTEGER;
    CREATE INDEX documents_awaiting_review ON documents(needs_review, review_doc_type);
    "#,
    // 7: the lease of a running batch: which worker runs it and until when.
    r#"
    ALTER TABLE batches ADD COLUMN lease_owner TEXT;
    ALTER TABLE batches ADD COLUMN lease_expires_ms INTEGER;
    "#,
];

/// PostgreSQL. Its first migration is the SQLite schema as of SQLite
/// migration 6, when the adapter was written; from then on each change is one
/// entry here and one there. Integers are `BIGINT` throughout (the Rust side
/// converts), flags are `BOOLEAN`, and the sequence numbers are identity
/// columns.
pub const POSTGRES_MIGRATIONS: &[&str] = &[
    // 1: SQLite migrations 1 to 6.
    r#"
    CREATE TABLE orders (
        order_id       TEXT PRIMARY KEY,
        series         TEXT NOT NULL,
        source         TEXT NOT NULL,
        imported_at_ms BIGINT NOT NULL
    );
    CREATE TABLE order_records (
        order_id  TEXT NOT NULL REFERENCES orders(order_id),
        record_id TEXT NOT NULL,
        title     TEXT NOT NULL,
        box_id    TEXT NOT NULL,
        PRIMARY KEY (order_id, record_id)
    );
    CREATE TABLE batches (
        seq            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        batch_id       TEXT NOT NULL UNIQUE,
        source_name    TEXT NOT NULL,
        source_path    TEXT NOT NULL,
        state          TEXT NOT NULL,
        attempts       BIGINT NOT NULL DEFAULT 0,
        not_before_ms  BIGINT,
        order_id       TEXT,
        outcome        TEXT,
        report_json    TEXT,
        last_error     TEXT,
        received_at_ms BIGINT NOT NULL,
        updated_at_ms  BIGINT NOT NULL
    );
    CREATE INDEX batches_by_state ON batches(state);
    CREATE TABLE batch_records (
        batch_id  TEXT NOT NULL REFERENCES batches(batch_id),
        record_id TEXT NOT NULL,
        title     TEXT NOT NULL,
        box_id    TEXT NOT NULL,
        pages     BIGINT NOT NULL,
        PRIMARY KEY (batch_id, record_id)
    );
    -- At most one accepted delivery per record: the primary key is the rule.
    CREATE TABLE delivered_records (
        record_id TEXT PRIMARY KEY,
        batch_id  TEXT NOT NULL REFERENCES batches(batch_id)
    );
    CREATE TABLE pages (
        batch_id    TEXT NOT NULL REFERENCES batches(batch_id),
        record_id   TEXT NOT NULL,
        page_no     BIGINT NOT NULL,
        document_no BIGINT,
        file        TEXT NOT NULL,
        file_page   BIGINT NOT NULL,
        sha256      TEXT,
        status      TEXT,
        confidence  REAL,
        blank       BOOLEAN,
        separator   BOOLEAN,
        rotation    BIGINT,
        dpi         REAL,
        text        TEXT,
        skew        REAL,
        PRIMARY KEY (batch_id, record_id, page_no)
    );
    CREATE TABLE documents (
        batch_id            TEXT NOT NULL REFERENCES batches(batch_id),
        record_id           TEXT NOT NULL,
        document_no         BIGINT NOT NULL,
        state               TEXT NOT NULL,
        page_nos            TEXT NOT NULL DEFAULT '[]',
        efile_path          TEXT,
        efile_sha256        TEXT,
        efile_bytes         BIGINT,
        dms_object_id       TEXT,
        dms_verified        BOOLEAN NOT NULL DEFAULT FALSE,
        doc_type            TEXT,
        doc_type_confidence REAL,
        needs_review        BOOLEAN NOT NULL DEFAULT FALSE,
        fields_json         TEXT,
        review_doc_type     TEXT,
        reviewed_by         TEXT,
        reviewed_at_ms      BIGINT,
        PRIMARY KEY (batch_id, record_id, document_no)
    );
    CREATE INDEX documents_awaiting_review ON documents(needs_review, review_doc_type);
    CREATE TABLE events (
        seq       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        at_ms     BIGINT NOT NULL,
        batch_id  TEXT NOT NULL,
        record_id TEXT,
        page_no   BIGINT,
        kind      TEXT NOT NULL,
        detail    TEXT NOT NULL
    );
    CREATE INDEX events_by_batch ON events(batch_id, seq);
    -- The processing record is append-only, whoever connects: the database
    -- refuses to change or remove an event, one at a time or all at once.
    CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the event log is append-only';
    END
    $$;
    CREATE TRIGGER events_no_update_or_delete BEFORE UPDATE OR DELETE ON events
        FOR EACH ROW EXECUTE FUNCTION events_append_only();
    CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
        FOR EACH STATEMENT EXECUTE FUNCTION events_append_only();
    CREATE TABLE users (
        user_id       TEXT PRIMARY KEY,
        name          TEXT NOT NULL UNIQUE,
        role          TEXT NOT NULL CHECK (role IN ('contractor', 'staff')),
        token_hash    TEXT NOT NULL,
        created_at_ms BIGINT NOT NULL
    );
    CREATE TABLE uploads (
        batch_id       TEXT PRIMARY KEY,
        user_id        TEXT NOT NULL REFERENCES users(user_id),
        source_name    TEXT NOT NULL,
        bytes          BIGINT NOT NULL,
        sha256         TEXT NOT NULL,
        uploaded_at_ms BIGINT NOT NULL
    );
    CREATE INDEX uploads_by_user ON uploads(user_id, uploaded_at_ms);
    "#,
    // 2: SQLite migration 7, the lease of a running batch.
    r#"
    ALTER TABLE batches ADD COLUMN lease_owner TEXT;
    ALTER TABLE batches ADD COLUMN lease_expires_ms BIGINT;
    "#,
];
