//! The store contract, run against every adapter: SQLite always, PostgreSQL
//! when `SCAN2DMS_TEST_POSTGRES_URL` names a database to use (each store in
//! a fresh schema of its own, so tests run in parallel). Without the
//! variable the PostgreSQL cases are skipped with a note, except on CI
//! (`CI` set), where that is a failure: the shared store must not go
//! untested there.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod contract;
mod leases;

use std::sync::atomic::{AtomicU32, Ordering};

use scan2dms_store::{PostgresStore, SqliteStore, StateStore};

/// Fresh, empty stores of every kind available here, each with what keeps
/// its storage around until the test is done.
pub fn adapters() -> Vec<(&'static str, Box<dyn StateStore>, Scratch)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let on_disk = SqliteStore::open(&dir.path().join("state.db")).expect("sqlite file store");
    let mut stores: Vec<(&'static str, Box<dyn StateStore>, Scratch)> = vec![
        ("sqlite-memory", Box::new(SqliteStore::in_memory().expect("sqlite memory store")), Scratch::None),
        ("sqlite-file", Box::new(on_disk), Scratch::Dir(dir)),
    ];
    if let Some(url) = postgres_url() {
        let schema = fresh_schema_name();
        let store = PostgresStore::open_in_schema(&url, &schema).expect("postgres store");
        stores.push(("postgres", Box::new(store), Scratch::PostgresSchema { url, schema }));
    }
    stores
}

/// Storage a store of [`adapters`] lives in, removed when dropped.
#[derive(Debug)]
pub enum Scratch {
    None,
    Dir(#[allow(dead_code, reason = "held for its drop")] tempfile::TempDir),
    PostgresSchema { url: String, schema: String },
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Scratch::PostgresSchema { url, schema } = self {
            // Best effort: a schema left behind (a test that hung, a lock)
            // is harmless, and its name says where it came from.
            if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
                let _ = client.batch_execute(&format!("SET lock_timeout = '5s'; DROP SCHEMA {schema} CASCADE"));
            }
        }
    }
}

/// The database for the PostgreSQL cases, if any.
pub fn postgres_url() -> Option<String> {
    match std::env::var("SCAN2DMS_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ if on_ci() => panic!(
            "SCAN2DMS_TEST_POSTGRES_URL is not set on CI: the PostgreSQL store must be tested there \
             (e.g. postgres://postgres@127.0.0.1:5432/test)"
        ),
        _ => {
            // Straight to stderr: the harness would swallow `eprintln!` of a
            // test that passes, and a skip nobody sees is a silent one.
            static NOTE: std::sync::Once = std::sync::Once::new();
            NOTE.call_once(|| {
                let note = "note: SCAN2DMS_TEST_POSTGRES_URL is not set; the PostgreSQL store is not tested\n";
                let _ = std::io::Write::write_all(&mut std::io::stderr(), note.as_bytes());
            });
            None
        }
    }
}

fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| !value.is_empty() && value != "false" && value != "0")
}

/// Unique per process, call and moment, so parallel tests and runs on one
/// database never share a schema.
pub fn fresh_schema_name() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("scan2dms_test_{}_{count}_{nanos}", std::process::id())
}

#[test]
fn migrations_apply_once_and_refuse_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).unwrap());
    drop(SqliteStore::open(&path).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    assert_eq!(version, 7, "one per migration, applied once");
    connection.pragma_update(None, "user_version", 99).unwrap();
    drop(connection);
    let error = SqliteStore::open(&path).unwrap_err().to_string();
    assert!(error.contains("schema version 99"), "{error}");
}

#[test]
fn the_event_log_cannot_be_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    let store = SqliteStore::open(&path).unwrap();
    store.append_event(&scan2dms_store::NewEvent::batch("B-1", "note", "x"), 1).unwrap();
    let connection = rusqlite::Connection::open(&path).unwrap();
    let update = connection.execute("UPDATE events SET detail = 'y'", []).unwrap_err().to_string();
    let delete = connection.execute("DELETE FROM events", []).unwrap_err().to_string();
    assert!(update.contains("append-only") && delete.contains("append-only"), "{update} / {delete}");
}

/// A connection of its own to a test schema, as another program would have.
fn postgres_client(url: &str, schema: &str) -> postgres::Client {
    let mut client = postgres::Client::connect(url, postgres::NoTls).unwrap();
    client.batch_execute(&format!("SET search_path = {schema}")).unwrap();
    client
}

#[test]
fn postgres_migrations_apply_once_and_refuse_a_newer_schema() {
    let Some(url) = postgres_url() else { return };
    let schema = fresh_schema_name();
    let _scratch = Scratch::PostgresSchema { url: url.clone(), schema: schema.clone() };
    drop(PostgresStore::open_in_schema(&url, &schema).unwrap());
    drop(PostgresStore::open_in_schema(&url, &schema).unwrap());
    let mut client = postgres_client(&url, &schema);
    let versions: Vec<i64> = client
        .query("SELECT version FROM schema_migrations ORDER BY version", &[])
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(versions, [1, 2], "one row per migration, applied once");
    client.execute("INSERT INTO schema_migrations (version, applied_at_ms) VALUES (99, 0)", &[]).unwrap();
    let error = PostgresStore::open_in_schema(&url, &schema).unwrap_err().to_string();
    assert!(error.contains("schema version 99") && error.contains(&schema), "{error}");
}

#[test]
fn postgres_event_log_cannot_be_rewritten() {
    let Some(url) = postgres_url() else { return };
    let schema = fresh_schema_name();
    let _scratch = Scratch::PostgresSchema { url: url.clone(), schema: schema.clone() };
    let store = PostgresStore::open_in_schema(&url, &schema).unwrap();
    store.append_event(&scan2dms_store::NewEvent::batch("B-1", "note", "x"), 1).unwrap();
    let mut client = postgres_client(&url, &schema);
    let mut refusal = |sql: &str| client.batch_execute(sql).unwrap_err().as_db_error().unwrap().message().to_owned();
    for sql in ["UPDATE events SET detail = 'y'", "DELETE FROM events", "TRUNCATE events"] {
        let message = refusal(sql);
        assert!(message.contains("append-only"), "{sql}: {message}");
    }
    assert_eq!(store.events("B-1").unwrap()[0].detail, "x");
}

#[test]
fn postgres_errors_say_what_failed_and_where() {
    let Some(url) = postgres_url() else { return };
    let schema = fresh_schema_name();
    let _scratch = Scratch::PostgresSchema { url: url.clone(), schema: schema.clone() };
    let store = PostgresStore::open_in_schema(&url, &schema).unwrap();
    let upload = scan2dms_store::NewUpload {
        batch_id: "B-1".parse().unwrap(),
        user_id: "nobody".into(),
        source_name: "B-1.zip".into(),
        bytes: 1,
        sha256: "ab".repeat(32),
    };
    let error = store.claim_upload(&upload, 1).unwrap_err().to_string();
    assert!(error.contains("insert into uploads") && error.contains("table uploads"), "{error}");
    let bad_schema = PostgresStore::open_in_schema(&url, "Robert'); DROP TABLE x; --").unwrap_err().to_string();
    assert!(bad_schema.contains("not a plain identifier"), "{bad_schema}");
    let unreachable = PostgresStore::open("postgres://postgres:secret@127.0.0.1:1/test").unwrap_err().to_string();
    assert!(unreachable.contains("connect to postgres database test on 127.0.0.1:1"), "{unreachable}");
    assert!(!unreachable.contains("secret"), "no password in messages: {unreachable}");
}
