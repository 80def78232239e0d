//! The store contract, run against every adapter. A PostgreSQL adapter adds
//! itself to [`adapters`] and must pass the same suite.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod contract;

use scan2dms_store::{SqliteStore, StateStore};

/// Fresh, empty stores of every kind available here.
pub fn adapters() -> Vec<(&'static str, Box<dyn StateStore>, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().expect("temp dir");
    let on_disk = SqliteStore::open(&dir.path().join("state.db")).expect("sqlite file store");
    vec![
        ("sqlite-memory", Box::new(SqliteStore::in_memory().expect("sqlite memory store")), None),
        ("sqlite-file", Box::new(on_disk), Some(dir)),
    ]
}

#[test]
fn migrations_apply_once_and_refuse_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.db");
    drop(SqliteStore::open(&path).unwrap());
    drop(SqliteStore::open(&path).unwrap());
    let connection = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0)).unwrap();
    assert_eq!(version, 6, "one per migration, applied once");
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
