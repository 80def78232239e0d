//! The SQLite adapter: one connection in WAL mode behind a mutex.
//!
//! WAL with `synchronous = FULL` makes every committed transaction durable
//! before the call returns, so a SIGKILL right after loses nothing the caller
//! was told is stored. It is a store for one process: it says it is not
//! shared ([`StateStore::is_shared`]), though its leases work all the same.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use scan2dms_core::{Batch, BatchState};
use scan2dms_model::{AcceptanceReport, BatchId, OrderId, RecordId};

use crate::StateStore;
use crate::lease::{self, ClaimRequest, Lease};
use crate::schema::MIGRATIONS;
use crate::types::*;

#[derive(Debug)]
pub struct SqliteStore {
    connection: Mutex<Connection>,
}

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> StoreError {
        StoreError::Database(error.to_string())
    }
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let connection = Connection::open(path)
            .map_err(|error| StoreError::Database(format!("cannot open {}: {error}", path.display())))?;
        Self::setup(connection, &path.display().to_string())
    }

    /// A private in-memory database, for tests.
    pub fn in_memory() -> Result<SqliteStore, StoreError> {
        Self::setup(Connection::open_in_memory()?, ":memory:")
    }

    fn setup(mut connection: Connection, name: &str) -> Result<SqliteStore, StoreError> {
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        let version: i64 = connection.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::SchemaTooNew { path: name.to_owned(), found: version, known });
        }
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Exclusive)?;
        for migration in &MIGRATIONS[version as usize..] {
            transaction.execute_batch(migration)?;
        }
        transaction.pragma_update(None, "user_version", known)?;
        transaction.commit()?;
        Ok(SqliteStore { connection: Mutex::new(connection) })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves no half transaction behind
        // (SQLite rolls it back), so the connection is still usable.
        self.connection.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

const BATCH_COLUMNS: &str = "b.batch_id, b.source_name, b.source_path, b.state, b.attempts, b.not_before_ms, \
     b.order_id, b.outcome, b.last_error, b.received_at_ms, b.updated_at_ms, \
     (SELECT COUNT(*) FROM pages p WHERE p.batch_id = b.batch_id), b.lease_owner, b.lease_expires_ms";

fn batch_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<BatchRow> {
    let state_name: String = row.get(3)?;
    let state = state_name
        .parse::<BatchState>()
        .map_err(|error| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, error.into()))?;
    Ok(BatchRow {
        batch_id: row.get(0)?,
        source_name: row.get(1)?,
        source_path: row.get(2)?,
        batch: Batch { state, attempts: row.get(4)?, not_before_ms: row.get(5)? },
        order_id: row.get(6)?,
        outcome: row.get(7)?,
        last_error: row.get(8)?,
        received_at_ms: row.get(9)?,
        updated_at_ms: row.get(10)?,
        pages: row.get(11)?,
        lease: match row.get::<_, Option<String>>(12)? {
            None => None,
            // An owner without an expiry never happens; taken as expired.
            Some(worker_id) => {
                Some(Lease { worker_id, expires_ms: row.get::<_, Option<i64>>(13)?.unwrap_or(i64::MIN) })
            }
        },
    })
}

fn insert_event(transaction: &Transaction<'_>, event: &NewEvent, now_ms: i64) -> rusqlite::Result<()> {
    transaction.execute(
        "INSERT INTO events (at_ms, batch_id, record_id, page_no, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![now_ms, event.batch_id, event.record_id, event.page_no, event.kind, event.detail],
    )?;
    Ok(())
}

/// The compare-and-set at the heart of every state change. A batch that
/// stops running loses its lease; one that starts gets `lease`, if any.
fn set_state(
    transaction: &Transaction<'_>,
    batch_id: &str,
    from: &Batch,
    to: &Batch,
    last_error: Option<&str>,
    lease: Option<&Lease>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let changed = transaction.execute(
        "UPDATE batches SET state = ?1, attempts = ?2, not_before_ms = ?3, updated_at_ms = ?4,
                last_error = COALESCE(?5, last_error),
                lease_owner = CASE WHEN ?9 THEN COALESCE(?10, lease_owner) END,
                lease_expires_ms = CASE WHEN ?9 THEN COALESCE(?11, lease_expires_ms) END
         WHERE batch_id = ?6 AND state = ?7 AND attempts = ?8",
        params![
            to.state.name(),
            to.attempts,
            to.not_before_ms,
            now_ms,
            last_error,
            batch_id,
            from.state.name(),
            from.attempts,
            matches!(to.state, BatchState::Running(_)),
            lease.map(|lease| lease.worker_id.as_str()),
            lease.map(|lease| lease.expires_ms)
        ],
    )?;
    if changed == 1 {
        return Ok(());
    }
    let found: Option<(String, u32)> = transaction
        .query_row("SELECT state, attempts FROM batches WHERE batch_id = ?1", [batch_id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    match found {
        None => Err(StoreError::UnknownBatch(batch_id.to_owned())),
        Some((state, attempts)) => Err(StoreError::Conflict {
            batch_id: batch_id.to_owned(),
            expected: format!("{} (attempt {})", from.state, from.attempts),
            found: format!("{state} (attempt {attempts})"),
        }),
    }
}

impl StateStore for SqliteStore {
    fn import_order(&self, order: &NewOrder, now_ms: i64) -> Result<ImportSummary, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let known_series: Option<String> = transaction
            .query_row("SELECT series FROM orders WHERE order_id = ?1", [order.order_id.as_str()], |row| row.get(0))
            .optional()?;
        match known_series {
            Some(series) if series != order.series.as_str() => {
                return Err(StoreError::Database(format!(
                    "order {} was imported as series {series}, the new list says {}",
                    order.order_id, order.series
                )));
            }
            Some(_) => {}
            None => {
                transaction.execute(
                    "INSERT INTO orders (order_id, series, source, imported_at_ms) VALUES (?1, ?2, ?3, ?4)",
                    params![order.order_id.as_str(), order.series.as_str(), order.source, now_ms],
                )?;
            }
        }
        let mut summary = ImportSummary { added: 0, updated: 0, unchanged: 0 };
        {
            let mut select = transaction
                .prepare("SELECT title, box_id FROM order_records WHERE order_id = ?1 AND record_id = ?2")?;
            let mut insert = transaction
                .prepare("INSERT INTO order_records (order_id, record_id, title, box_id) VALUES (?1, ?2, ?3, ?4)")?;
            let mut update = transaction
                .prepare("UPDATE order_records SET title = ?3, box_id = ?4 WHERE order_id = ?1 AND record_id = ?2")?;
            for record in &order.records {
                let key = params![order.order_id.as_str(), record.record_id.as_str()];
                let existing: Option<(String, String)> =
                    select.query_row(key, |row| Ok((row.get(0)?, row.get(1)?))).optional()?;
                let values = params![order.order_id.as_str(), record.record_id.as_str(), record.title, record.box_id];
                match existing {
                    None => {
                        insert.execute(values)?;
                        summary.added += 1;
                    }
                    Some((title, box_id)) if title == record.title && box_id == record.box_id => summary.unchanged += 1,
                    Some(_) => {
                        update.execute(values)?;
                        summary.updated += 1;
                    }
                }
            }
        }
        transaction.commit()?;
        Ok(summary)
    }

    fn order(&self, order_id: &OrderId) -> Result<Option<OrderRow>, StoreError> {
        let connection = self.lock();
        let row: Option<(String, i64)> = connection
            .query_row("SELECT series, imported_at_ms FROM orders WHERE order_id = ?1", [order_id.as_str()], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .optional()?;
        row.map(|(series, imported_at_ms)| {
            let series = series.parse().map_err(|error| StoreError::Corrupt(format!("order {order_id}: {error}")))?;
            Ok(OrderRow { order_id: order_id.clone(), series, imported_at_ms })
        })
        .transpose()
    }

    fn order_records(&self, order_id: &OrderId) -> Result<Vec<RecordId>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT record_id FROM order_records WHERE order_id = ?1 ORDER BY record_id")?;
        let ids = statement.query_map([order_id.as_str()], |row| row.get::<_, String>(0))?;
        ids.map(|id| {
            let id = id?;
            id.parse().map_err(|error| StoreError::Corrupt(format!("order {order_id}: {error}")))
        })
        .collect()
    }

    fn order_progress(&self) -> Result<Vec<OrderProgress>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT o.order_id, o.series, COUNT(r.record_id), COUNT(d.record_id)
             FROM orders o
             LEFT JOIN order_records r ON r.order_id = o.order_id
             LEFT JOIN delivered_records d ON d.record_id = r.record_id
             GROUP BY o.order_id ORDER BY o.order_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(OrderProgress {
                order_id: row.get(0)?,
                series: row.get(1)?,
                records: row.get(2)?,
                delivered: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn register_batch(&self, batch: &NewBatch, now_ms: i64) -> Result<Registration, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let select = format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE b.batch_id = ?1");
        if let Some(existing) = transaction.query_row(&select, [batch.batch_id.as_str()], batch_row).optional()? {
            return Ok(Registration::AlreadyRegistered(existing));
        }
        let initial = Batch::received();
        transaction.execute(
            "INSERT INTO batches (batch_id, source_name, source_path, state, attempts, received_at_ms, updated_at_ms)
             VALUES (?1, ?2, ?3, ?4, 0, ?5, ?5)",
            params![batch.batch_id.as_str(), batch.source_name, batch.source_path, initial.state.name(), now_ms],
        )?;
        insert_event(
            &transaction,
            &NewEvent::batch(batch.batch_id.as_str(), "registered", format!("delivered as {}", batch.source_name)),
            now_ms,
        )?;
        let row = transaction.query_row(&select, [batch.batch_id.as_str()], batch_row)?;
        transaction.commit()?;
        Ok(Registration::Registered(row))
    }

    fn batch(&self, batch_id: &str) -> Result<Option<BatchRow>, StoreError> {
        let connection = self.lock();
        let select = format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE b.batch_id = ?1");
        Ok(connection.query_row(&select, [batch_id], batch_row).optional()?)
    }

    fn batches(&self, state: Option<&str>) -> Result<Vec<BatchRow>, StoreError> {
        let connection = self.lock();
        let select = format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE ?1 IS NULL OR b.state = ?1 ORDER BY b.seq");
        let mut statement = connection.prepare(&select)?;
        let rows = statement.query_map([state], batch_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn transition(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        event: &NewEvent,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let last_error = matches!(event.kind.as_str(), "failed" | "interrupted").then_some(event.detail.as_str());
        set_state(&transaction, batch_id, from, to, last_error, None, now_ms)?;
        insert_event(&transaction, event, now_ms)?;
        transaction.commit()?;
        Ok(())
    }

    fn finish_validation(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        result: &ValidationResult,
        now_ms: i64,
    ) -> Result<ClaimOutcome, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let accepted = result.report.is_accepted();
        if accepted {
            let mut holders = Vec::new();
            {
                let mut holder = transaction.prepare(
                    "SELECT d.batch_id FROM delivered_records d WHERE d.record_id = ?1 AND d.batch_id <> ?2",
                )?;
                for record in &result.records {
                    if let Some(other) = holder
                        .query_row(params![record.record_id.as_str(), batch_id], |row| row.get::<_, String>(0))
                        .optional()?
                    {
                        let other = other.parse::<BatchId>().map_err(|error| StoreError::Corrupt(error.to_string()))?;
                        holders.push((record.record_id.clone(), other));
                    }
                }
            }
            if !holders.is_empty() {
                return Ok(ClaimOutcome::AlreadyDelivered(holders));
            }
        }
        set_state(&transaction, batch_id, from, to, None, None, now_ms)?;
        let report_json =
            serde_json::to_string(&result.report).map_err(|error| StoreError::Database(error.to_string()))?;
        transaction.execute(
            "UPDATE batches SET outcome = ?1, report_json = ?2, order_id = ?3 WHERE batch_id = ?4",
            params![
                result.report.outcome.as_str(),
                report_json,
                result.order_id.as_ref().map(OrderId::as_str),
                batch_id
            ],
        )?;
        // A batch validated again (after a retry) replaces what it stored before.
        transaction.execute("DELETE FROM pages WHERE batch_id = ?1", [batch_id])?;
        transaction.execute("DELETE FROM batch_records WHERE batch_id = ?1", [batch_id])?;
        transaction.execute("DELETE FROM delivered_records WHERE batch_id = ?1", [batch_id])?;
        if accepted {
            let mut record_insert = transaction.prepare(
                "INSERT INTO batch_records (batch_id, record_id, title, box_id, pages) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut claim =
                transaction.prepare("INSERT INTO delivered_records (record_id, batch_id) VALUES (?1, ?2)")?;
            for record in &result.records {
                record_insert.execute(params![
                    batch_id,
                    record.record_id.as_str(),
                    record.title,
                    record.box_id,
                    record.pages
                ])?;
                claim.execute(params![record.record_id.as_str(), batch_id])?;
            }
            let mut page_insert = transaction.prepare(
                "INSERT INTO pages (batch_id, record_id, page_no, document_no, file, file_page, sha256)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )?;
            for page in &result.pages {
                page_insert.execute(params![
                    batch_id,
                    page.record_id,
                    page.page_no,
                    page.document_no,
                    page.file,
                    page.file_page,
                    page.sha256
                ])?;
            }
        }
        let report = &result.report;
        let detail = format!(
            "{}: {} reason(s), {} warning(s), {} record(s), {} page(s)",
            report.outcome.as_str(),
            report.reasons.len(),
            report.warnings.len(),
            result.records.len(),
            result.pages.len()
        );
        insert_event(&transaction, &NewEvent::batch(batch_id, report.outcome.as_str(), detail), now_ms)?;
        transaction.commit()?;
        Ok(ClaimOutcome::Stored)
    }

    fn report(&self, batch_id: &str) -> Result<Option<AcceptanceReport>, StoreError> {
        let connection = self.lock();
        let json: Option<Option<String>> = connection
            .query_row("SELECT report_json FROM batches WHERE batch_id = ?1", [batch_id], |row| row.get(0))
            .optional()?;
        match json.flatten() {
            None => Ok(None),
            Some(json) => serde_json::from_str(&json)
                .map(Some)
                .map_err(|error| StoreError::Corrupt(format!("report of batch {batch_id}: {error}"))),
        }
    }

    fn delivered(&self, record_ids: &[RecordId], this_batch: &str) -> Result<HashMap<RecordId, BatchId>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT batch_id FROM delivered_records WHERE record_id = ?1 AND batch_id <> ?2")?;
        let mut delivered = HashMap::new();
        for record_id in record_ids {
            let holder: Option<String> =
                statement.query_row(params![record_id.as_str(), this_batch], |row| row.get(0)).optional()?;
            if let Some(holder) = holder {
                let holder =
                    holder.parse().map_err(|error: scan2dms_model::IdError| StoreError::Corrupt(error.to_string()))?;
                delivered.insert(record_id.clone(), holder);
            }
        }
        Ok(delivered)
    }

    fn append_event(&self, event: &NewEvent, now_ms: i64) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        insert_event(&transaction, event, now_ms)?;
        transaction.commit()?;
        Ok(())
    }

    fn events(&self, batch_id: &str) -> Result<Vec<EventRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT seq, at_ms, batch_id, record_id, page_no, kind, detail FROM events WHERE batch_id = ?1 ORDER BY seq",
        )?;
        let rows = statement.query_map([batch_id], |row| {
            Ok(EventRow {
                seq: row.get(0)?,
                at_ms: row.get(1)?,
                batch_id: row.get(2)?,
                record_id: row.get(3)?,
                page_no: row.get(4)?,
                kind: row.get(5)?,
                detail: row.get(6)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn pages(&self, batch_id: &str) -> Result<Vec<PageRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT record_id, page_no, document_no, file, file_page, sha256,
                    status, confidence, blank, separator, rotation, dpi, text, skew
             FROM pages WHERE batch_id = ?1 ORDER BY record_id, page_no",
        )?;
        let rows = statement.query_map([batch_id], |row| {
            let status: Option<String> = row.get(6)?;
            let result = match status {
                None => None,
                Some(status) => Some(PageResult {
                    status,
                    confidence: row.get(7)?,
                    blank: row.get::<_, Option<bool>>(8)?.unwrap_or(false),
                    separator: row.get::<_, Option<bool>>(9)?.unwrap_or(false),
                    rotation: row.get::<_, Option<u16>>(10)?.unwrap_or(0),
                    dpi: row.get(11)?,
                    text: row.get::<_, Option<String>>(12)?.unwrap_or_default(),
                    skew: row.get(13)?,
                }),
            };
            Ok(PageRecord {
                record_id: row.get(0)?,
                page_no: row.get(1)?,
                document_no: row.get(2)?,
                file: row.get(3)?,
                file_page: row.get(4)?,
                sha256: row.get(5)?,
                result,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn finish_ocr(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        outcome: &OcrOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_state(&transaction, batch_id, from, to, None, None, now_ms)?;
        {
            let mut update = transaction.prepare(
                "UPDATE pages SET status = ?4, confidence = ?5, blank = ?6, separator = ?7, rotation = ?8, dpi = ?9, text = ?10,
                     skew = ?11
                 WHERE batch_id = ?1 AND record_id = ?2 AND page_no = ?3",
            )?;
            for (record_id, page_no, result) in &outcome.pages {
                update.execute(params![
                    batch_id,
                    record_id,
                    page_no,
                    result.status,
                    result.confidence,
                    result.blank,
                    result.separator,
                    result.rotation,
                    result.dpi,
                    result.text,
                    result.skew
                ])?;
            }
            transaction.execute("DELETE FROM documents WHERE batch_id = ?1", [batch_id])?;
            let mut insert = transaction.prepare(
                "INSERT INTO documents (batch_id, record_id, document_no, state, page_nos,
                                        doc_type, doc_type_confidence, needs_review, fields_json)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for document in &outcome.documents {
                let page_nos = serde_json::to_string(&document.page_nos)
                    .map_err(|error| StoreError::Database(error.to_string()))?;
                let classification = document.classification.as_ref();
                let fields = classification
                    .map(|classification| serde_json::to_string(&classification.fields))
                    .transpose()
                    .map_err(|error| StoreError::Database(error.to_string()))?;
                insert.execute(params![
                    batch_id,
                    document.record_id,
                    document.document_no,
                    document.state,
                    page_nos,
                    classification.map(|classification| classification.doc_type.as_str()),
                    classification.map(|classification| classification.confidence),
                    classification.is_some_and(|classification| classification.needs_review),
                    fields
                ])?;
            }
        }
        // The contractor's report also carries what processing found.
        let json: Option<String> =
            transaction
                .query_row("SELECT report_json FROM batches WHERE batch_id = ?1", [batch_id], |row| row.get(0))?;
        if let Some(json) = json {
            let mut report: AcceptanceReport = serde_json::from_str(&json)
                .map_err(|error| StoreError::Corrupt(format!("report of batch {batch_id}: {error}")))?;
            // A stage run again replaces the warnings of its earlier run.
            report.warnings.retain(|warning| !is_ocr_warning(warning.code));
            report.warnings.extend(outcome.warnings.iter().cloned());
            let report = AcceptanceReport::new(report.batch_id, report.reasons, report.warnings);
            let json = serde_json::to_string(&report).map_err(|error| StoreError::Database(error.to_string()))?;
            transaction.execute(
                "UPDATE batches SET report_json = ?1, outcome = ?2 WHERE batch_id = ?3",
                params![json, report.outcome.as_str(), batch_id],
            )?;
        }
        let detail = format!(
            "{} page(s), {} document(s), {} warning(s)",
            outcome.pages.len(),
            outcome.documents.len(),
            outcome.warnings.len()
        );
        insert_event(&transaction, &NewEvent::batch(batch_id, "ocr_done", detail), now_ms)?;
        transaction.commit()?;
        Ok(())
    }

    fn finish_efiles(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        efiles: &[(String, u32, EfileRecord)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_state(&transaction, batch_id, from, to, None, None, now_ms)?;
        {
            let mut update = transaction.prepare(
                "UPDATE documents SET state = 'efile_done', efile_path = ?4, efile_sha256 = ?5, efile_bytes = ?6
                 WHERE batch_id = ?1 AND record_id = ?2 AND document_no = ?3",
            )?;
            for (record_id, document_no, efile) in efiles {
                let changed =
                    update.execute(params![batch_id, record_id, document_no, efile.path, efile.sha256, efile.bytes])?;
                if changed != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "batch {batch_id}: no document {document_no} of record {record_id} for its e-file"
                    )));
                }
            }
        }
        let bytes: u64 = efiles.iter().map(|(_, _, efile)| efile.bytes).sum();
        let detail = format!("{} e-file(s), {bytes} bytes", efiles.len());
        insert_event(&transaction, &NewEvent::batch(batch_id, "efiles_done", detail), now_ms)?;
        transaction.commit()?;
        Ok(())
    }

    fn finish_push(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        objects: &[(String, u32, String)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_state(&transaction, batch_id, from, to, None, None, now_ms)?;
        {
            let mut update = transaction.prepare(
                "UPDATE documents SET state = 'pushed', dms_object_id = ?4, dms_verified = 0
                 WHERE batch_id = ?1 AND record_id = ?2 AND document_no = ?3",
            )?;
            for (record_id, document_no, object_id) in objects {
                if update.execute(params![batch_id, record_id, document_no, object_id])? != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "batch {batch_id}: no document {document_no} of record {record_id} for dms object {object_id}"
                    )));
                }
            }
        }
        let detail = format!("{} document(s) in the dms", objects.len());
        insert_event(&transaction, &NewEvent::batch(batch_id, "pushed", detail), now_ms)?;
        transaction.commit()?;
        Ok(())
    }

    fn finish_verify(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        verified: &[(String, u32)],
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        set_state(&transaction, batch_id, from, to, None, None, now_ms)?;
        {
            let mut update = transaction.prepare(
                "UPDATE documents SET state = 'verified', dms_verified = 1
                 WHERE batch_id = ?1 AND record_id = ?2 AND document_no = ?3 AND dms_object_id IS NOT NULL",
            )?;
            for (record_id, document_no) in verified {
                if update.execute(params![batch_id, record_id, document_no])? != 1 {
                    return Err(StoreError::Corrupt(format!(
                        "batch {batch_id}: document {document_no} of record {record_id} was never pushed"
                    )));
                }
            }
        }
        let detail = format!("{} document(s) read back from the dms unchanged", verified.len());
        insert_event(&transaction, &NewEvent::batch(batch_id, "verified", detail), now_ms)?;
        transaction.commit()?;
        Ok(())
    }

    fn batch_records(&self, batch_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        let connection = self.lock();
        let mut statement =
            connection.prepare("SELECT record_id, title FROM batch_records WHERE batch_id = ?1 ORDER BY record_id")?;
        let rows = statement.query_map([batch_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn documents(&self, batch_id: Option<&str>) -> Result<Vec<DocumentRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {DOCUMENT_COLUMNS}
             FROM documents d JOIN batches b ON b.batch_id = d.batch_id
             WHERE ?1 IS NULL OR d.batch_id = ?1
             ORDER BY b.seq, d.record_id, d.document_no"
        ))?;
        let rows = statement.query_map([batch_id], document_row)?;
        rows.map(|row| row?).collect()
    }

    fn decide_review(
        &self,
        batch_id: &str,
        record_id: &str,
        document_no: u32,
        doc_type: &str,
        decided_by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = transaction.execute(
            "UPDATE documents SET review_doc_type = ?4, reviewed_by = ?5, reviewed_at_ms = ?6
             WHERE batch_id = ?1 AND record_id = ?2 AND document_no = ?3",
            params![batch_id, record_id, document_no, doc_type, decided_by, now_ms],
        )?;
        if changed != 1 {
            return Err(StoreError::Corrupt(format!(
                "batch {batch_id} has no document {document_no} of record {record_id}"
            )));
        }
        let detail = format!("record {record_id} document {document_no}: type {doc_type}, decided by {decided_by}");
        insert_event(&transaction, &NewEvent::batch(batch_id, "review_decided", detail), now_ms)?;
        transaction.commit()?;
        Ok(())
    }

    fn review_queue(&self) -> Result<Vec<DocumentRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {DOCUMENT_COLUMNS}
             FROM documents d JOIN batches b ON b.batch_id = d.batch_id
             WHERE d.needs_review = 1 AND d.review_doc_type IS NULL
             ORDER BY b.seq, d.record_id, d.document_no"
        ))?;
        let rows = statement.query_map([], document_row)?;
        rows.map(|row| row?).collect()
    }

    // --- The server's (migration 5).

    fn add_user(&self, user: &NewUser, now_ms: i64) -> Result<UserAdded, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let select = format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1");
        if let Some(existing) = transaction.query_row(&select, [&user.name], user_row).optional()? {
            return Ok(UserAdded::NameTaken(existing));
        }
        transaction.execute(
            "INSERT INTO users (user_id, name, role, token_hash, created_at_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![user.user_id, user.name, user.role, user.token_hash, now_ms],
        )?;
        let row = transaction.query_row(&select, [&user.name], user_row)?;
        transaction.commit()?;
        Ok(UserAdded::Added(row))
    }

    fn user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError> {
        let connection = self.lock();
        let select = format!("SELECT {USER_COLUMNS} FROM users WHERE user_id = ?1");
        Ok(connection.query_row(&select, [user_id], user_row).optional()?)
    }

    fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY name"))?;
        let rows = statement.query_map([], user_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn claim_upload(&self, upload: &NewUpload, now_ms: i64) -> Result<UploadClaim, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let batch_id = upload.batch_id.as_str();
        let registered: bool =
            transaction
                .query_row("SELECT COUNT(*) > 0 FROM batches WHERE batch_id = ?1", [batch_id], |row| row.get(0))?;
        if registered {
            return Ok(UploadClaim::Registered);
        }
        let owner: Option<String> = transaction
            .query_row("SELECT user_id FROM uploads WHERE batch_id = ?1", [batch_id], |row| row.get(0))
            .optional()?;
        if owner.is_some_and(|owner| owner != upload.user_id) {
            return Ok(UploadClaim::OwnedByOther);
        }
        transaction.execute(
            "INSERT INTO uploads (batch_id, user_id, source_name, bytes, sha256, uploaded_at_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (batch_id) DO UPDATE SET source_name = ?3, bytes = ?4, sha256 = ?5, uploaded_at_ms = ?6",
            params![batch_id, upload.user_id, upload.source_name, upload.bytes, upload.sha256, now_ms],
        )?;
        let detail = format!(
            "{} by user {}: {} bytes, sha256 {}",
            upload.source_name, upload.user_id, upload.bytes, upload.sha256
        );
        insert_event(&transaction, &NewEvent::batch(batch_id, "uploaded", detail), now_ms)?;
        let select = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE batch_id = ?1");
        let row = transaction.query_row(&select, [batch_id], upload_row)?;
        transaction.commit()?;
        Ok(UploadClaim::Claimed(row))
    }

    fn upload(&self, batch_id: &str) -> Result<Option<UploadRow>, StoreError> {
        let connection = self.lock();
        let select = format!("SELECT {UPLOAD_COLUMNS} FROM uploads WHERE batch_id = ?1");
        Ok(connection.query_row(&select, [batch_id], upload_row).optional()?)
    }

    fn uploads(&self, user_id: Option<&str>) -> Result<Vec<UploadRow>, StoreError> {
        let connection = self.lock();
        let select = format!(
            "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE ?1 IS NULL OR user_id = ?1 ORDER BY uploaded_at_ms, batch_id"
        );
        let mut statement = connection.prepare(&select)?;
        let rows = statement.query_map([user_id], upload_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn order_stage_progress(&self) -> Result<Vec<OrderStageProgress>, StoreError> {
        let connection = self.lock();
        // Per accepted record: how many documents it has and how many of them
        // reached each stage; a record counts for a stage when all did.
        let mut statement = connection.prepare(
            "WITH per_document AS (
                 SELECT batch_id, record_id, COUNT(*) AS documents,
                        SUM(state IN ('efile_done', 'pushed', 'verified')) AS efiles,
                        SUM(dms_object_id IS NOT NULL) AS pushed,
                        SUM(dms_verified = 1) AS verified
                 FROM documents GROUP BY batch_id, record_id
             ),
             per_record AS (
                 SELECT r.order_id,
                        COALESCE(s.documents, 0) > 0 AS ocr_done,
                        COALESCE(s.documents, 0) > 0 AND s.efiles = s.documents AS efile_done,
                        COALESCE(s.documents, 0) > 0 AND s.pushed = s.documents AS pushed,
                        COALESCE(s.documents, 0) > 0 AND s.verified = s.documents AS verified
                 FROM order_records r
                 JOIN delivered_records d ON d.record_id = r.record_id
                 LEFT JOIN per_document s ON s.batch_id = d.batch_id AND s.record_id = r.record_id
             )
             SELECT o.order_id, o.series,
                    (SELECT COUNT(*) FROM order_records r WHERE r.order_id = o.order_id),
                    (SELECT COUNT(*) FROM batches b WHERE b.order_id = o.order_id),
                    (SELECT COUNT(*) FROM batches b WHERE b.order_id = o.order_id AND b.state = 'rejected'),
                    COUNT(p.order_id),
                    COALESCE(SUM(p.ocr_done), 0),
                    COALESCE(SUM(p.efile_done), 0),
                    COALESCE(SUM(p.pushed), 0),
                    COALESCE(SUM(p.verified), 0)
             FROM orders o LEFT JOIN per_record p ON p.order_id = o.order_id
             GROUP BY o.order_id ORDER BY o.series, o.order_id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(OrderStageProgress {
                order_id: row.get(0)?,
                series: row.get(1)?,
                records: row.get(2)?,
                batches: row.get(3)?,
                rejected_batches: row.get(4)?,
                accepted: row.get(5)?,
                ocr_done: row.get(6)?,
                efile_done: row.get(7)?,
                pushed: row.get(8)?,
                verified: row.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn daily_throughput(&self, since_ms: i64) -> Result<Vec<DailyThroughput>, StoreError> {
        let connection = self.lock();
        // A batch counts on the day of its last verification (a retried push
        // verifies it again).
        let mut statement = connection.prepare(
            "SELECT date(v.at_ms / 1000, 'unixepoch') AS day, COUNT(*),
                    COALESCE(SUM((SELECT COUNT(*) FROM batch_records r WHERE r.batch_id = v.batch_id)), 0),
                    COALESCE(SUM((SELECT SUM(r.pages) FROM batch_records r WHERE r.batch_id = v.batch_id)), 0)
             FROM (SELECT batch_id, MAX(at_ms) AS at_ms FROM events WHERE kind = 'verified' GROUP BY batch_id) v
             JOIN batches b ON b.batch_id = v.batch_id
             WHERE v.at_ms >= ?1 AND b.state = 'done'
             GROUP BY day ORDER BY day",
        )?;
        let rows = statement.query_map([since_ms], |row| {
            Ok(DailyThroughput { day: row.get(0)?, batches: row.get(1)?, records: row.get(2)?, pages: row.get(3)? })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn counts(&self) -> Result<StoreCounts, StoreError> {
        let connection = self.lock();
        let count_by = |sql: &str| -> Result<Vec<(String, u64)>, StoreError> {
            let mut statement = connection.prepare(sql)?;
            let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        Ok(StoreCounts {
            batches_by_state: count_by("SELECT state, COUNT(*) FROM batches GROUP BY state ORDER BY state")?,
            pages_by_status: count_by(
                "SELECT COALESCE(status, 'pending') AS key, COUNT(*) FROM pages GROUP BY key ORDER BY key",
            )?,
            documents_by_state: count_by("SELECT state, COUNT(*) FROM documents GROUP BY state ORDER BY state")?,
            events_by_kind: count_by("SELECT kind, COUNT(*) FROM events GROUP BY kind ORDER BY kind")?,
            // A stage run starts with its `claimed` event ("push_running
            // (attempt 1)") and ends with the batch's next event.
            stage_runs: {
                let mut statement = connection.prepare(
                    "SELECT substr(detail, 1, instr(detail, '_running') - 1) AS stage, COUNT(*), SUM(next_at - at_ms)
                     FROM (SELECT kind, detail, at_ms,
                                  LEAD(at_ms) OVER (PARTITION BY batch_id ORDER BY seq) AS next_at
                           FROM events)
                     WHERE kind = 'claimed' AND next_at IS NOT NULL AND instr(detail, '_running') > 0
                     GROUP BY stage ORDER BY stage",
                )?;
                let rows = statement
                    .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)?.max(0) as u64)))?;
                rows.collect::<Result<_, _>>()?
            },
            dms_failures: connection.query_row(
                "SELECT COUNT(*) FROM events WHERE kind = 'failed'
                   AND (detail LIKE '%now push\\_%' ESCAPE '\\' OR detail LIKE '%now verify\\_%' ESCAPE '\\')",
                [],
                |row| row.get(0),
            )?,
        })
    }

    // --- Work leases (migration 7).

    fn claim_next(&self, request: &ClaimRequest<'_>, now_ms: i64) -> Result<Option<BatchRow>, StoreError> {
        let Some(claimable) = lease::claimable_condition(request.stages, "?1") else { return Ok(None) };
        let mut connection = self.lock();
        // IMMEDIATE takes the write lock before the look, so no other
        // connection (another process on the same file) claims in between.
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let select = format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE {claimable} ORDER BY b.seq LIMIT 1");
        let Some(row) = transaction.query_row(&select, [now_ms], batch_row).optional()? else { return Ok(None) };
        let (running, event) = (request.claim)(&row)
            .map_err(|reason| StoreError::ClaimRefused { batch_id: row.batch_id.clone(), reason })?;
        lease::check_claim(&row, &running, &event)?;
        let lease = Lease { worker_id: request.worker_id.to_owned(), expires_ms: request.lease_until_ms };
        set_state(&transaction, &row.batch_id, &row.batch, &running, None, Some(&lease), now_ms)?;
        insert_event(&transaction, &event, now_ms)?;
        let claimed = transaction.query_row(
            &format!("SELECT {BATCH_COLUMNS} FROM batches b WHERE b.batch_id = ?1"),
            [&row.batch_id],
            batch_row,
        )?;
        transaction.commit()?;
        Ok(Some(claimed))
    }

    fn renew_lease(&self, batch_id: &str, worker_id: &str, until_ms: i64) -> Result<bool, StoreError> {
        let connection = self.lock();
        let renewed = connection.execute(
            &format!(
                "UPDATE batches SET lease_expires_ms = ?3
                 WHERE batch_id = ?1 AND lease_owner = ?2 AND state IN ({})",
                lease::running_states()
            ),
            params![batch_id, worker_id, until_ms],
        )?;
        Ok(renewed == 1)
    }

    fn expired_leases(&self, now_ms: i64) -> Result<Vec<BatchRow>, StoreError> {
        let connection = self.lock();
        let select = format!(
            "SELECT {BATCH_COLUMNS} FROM batches b
             WHERE b.state IN ({}) AND (b.lease_owner IS NULL OR b.lease_expires_ms IS NULL OR b.lease_expires_ms < ?1)
             ORDER BY b.seq",
            lease::running_states()
        );
        let mut statement = connection.prepare(&select)?;
        let rows = statement.query_map([now_ms], batch_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    fn is_shared(&self) -> bool {
        false
    }
}

const USER_COLUMNS: &str = "user_id, name, role, token_hash, created_at_ms";

fn user_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        user_id: row.get(0)?,
        name: row.get(1)?,
        role: row.get(2)?,
        token_hash: row.get(3)?,
        created_at_ms: row.get(4)?,
    })
}

const UPLOAD_COLUMNS: &str = "batch_id, user_id, source_name, bytes, sha256, uploaded_at_ms";

fn upload_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<UploadRow> {
    Ok(UploadRow {
        batch_id: row.get(0)?,
        user_id: row.get(1)?,
        source_name: row.get(2)?,
        bytes: row.get(3)?,
        sha256: row.get(4)?,
        uploaded_at_ms: row.get(5)?,
    })
}

/// Warnings the OCR stage owns.
fn is_ocr_warning(code: scan2dms_model::WarningCode) -> bool {
    use scan2dms_model::WarningCode;
    matches!(code, WarningCode::BlankPage | WarningCode::RotatedPage | WarningCode::LowOcrConfidence)
}

const DOCUMENT_COLUMNS: &str = "d.batch_id, d.record_id, d.document_no, d.state, d.page_nos, d.efile_path, \
     d.efile_sha256, d.efile_bytes, d.dms_object_id, d.dms_verified, d.doc_type, d.doc_type_confidence, \
     d.needs_review, d.fields_json, d.review_doc_type, d.reviewed_by, d.reviewed_at_ms";

/// One document row of [`DOCUMENT_COLUMNS`]; the outer error is the
/// database's, the inner one a row that does not parse.
fn document_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<DocumentRecord, StoreError>> {
    let batch_id: String = row.get(0)?;
    let record_id: String = row.get(1)?;
    let document_no: u32 = row.get(2)?;
    let page_nos: String = row.get(4)?;
    let efile = match row.get::<_, Option<String>>(5)? {
        None => None,
        Some(path) => Some(EfileRecord {
            path,
            sha256: row.get::<_, Option<String>>(6)?.unwrap_or_default(),
            bytes: row.get::<_, Option<u64>>(7)?.unwrap_or(0),
        }),
    };
    let dms = match row.get::<_, Option<String>>(8)? {
        None => None,
        Some(object_id) => Some(DmsRecord { object_id, verified: row.get::<_, bool>(9)? }),
    };
    let fields_json: Option<String> = row.get(13)?;
    let classification = match row.get::<_, Option<String>>(10)? {
        None => None,
        Some(doc_type) => Some((doc_type, row.get::<_, Option<f32>>(11)?.unwrap_or(0.0), row.get::<_, bool>(12)?)),
    };
    let review = match row.get::<_, Option<String>>(14)? {
        None => None,
        Some(doc_type) => Some(ReviewDecision {
            doc_type,
            decided_by: row.get::<_, Option<String>>(15)?.unwrap_or_default(),
            decided_at_ms: row.get::<_, Option<i64>>(16)?.unwrap_or(0),
        }),
    };
    let state: String = row.get(3)?;
    Ok((|| {
        let corrupt = |what: &str, error: serde_json::Error| {
            StoreError::Corrupt(format!("document {document_no} of {record_id}: {what}: {error}"))
        };
        let page_nos = serde_json::from_str(&page_nos).map_err(|error| corrupt("page numbers", error))?;
        let classification = match classification {
            None => None,
            Some((doc_type, confidence, needs_review)) => {
                let fields = match &fields_json {
                    Some(json) => serde_json::from_str(json).map_err(|error| corrupt("fields", error))?,
                    None => std::collections::BTreeMap::new(),
                };
                Some(Classification { doc_type, confidence, needs_review, fields })
            }
        };
        Ok(DocumentRecord { batch_id, record_id, document_no, state, page_nos, efile, dms, classification, review })
    })())
}
