//! The state store: the single source of truth of scan2dms.
//!
//! [`StateStore`] is the port every other part talks to. [`SqliteStore`] is
//! the embedded default, for one process on one machine; [`PostgresStore`]
//! is for workers and servers on several hosts sharing one database. Both
//! pass the same contract suite (`tests/it/contract.rs`). The store holds
//! orders, batches, the records and pages a batch delivered, and an
//! append-only event log per batch: the processing record RESISCAN asks
//! for. For the server it also holds its users (token hashes, never tokens)
//! and who uploaded which batch.
//!
//! Three rules make it safe under crashes and concurrent workers:
//! - every state change is a compare-and-set against the state the caller
//!   read ([`StateStore::transition`]), written in one transaction with its
//!   event, so a change is never half applied and never applied twice;
//! - a record is delivered at most once: accepting a batch claims its
//!   records in a table whose primary key is the record id, in the same
//!   transaction as the state change;
//! - a worker takes work with [`StateStore::claim_next`], which picks and
//!   starts a batch in one transaction and gives it a lease, so two workers
//!   never run the same batch, and a batch whose worker died is found by its
//!   expired lease ([`StateStore::expired_leases`]) rather than by a process
//!   guessing that it is alone.
//!
//! The store knows rows, not files: it never reads a delivery itself.

mod lease;
mod postgres;
mod schema;
mod sqlite;
mod types;

pub use lease::{ClaimRequest, ClaimStep, Lease};
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;
pub use types::*;

use std::collections::HashMap;

use scan2dms_core::Batch;
use scan2dms_model::{AcceptanceReport, BatchId, OrderId, RecordId};

/// The port. Methods take `&self`; adapters synchronise internally.
pub trait StateStore: Send + Sync {
    /// Adds an order list, or merges a re-import: new records are added,
    /// known ones updated; records are never removed.
    fn import_order(&self, order: &NewOrder, now_ms: i64) -> Result<ImportSummary, StoreError>;
    fn order(&self, order_id: &OrderId) -> Result<Option<OrderRow>, StoreError>;
    /// The record ids of an order.
    fn order_records(&self, order_id: &OrderId) -> Result<Vec<RecordId>, StoreError>;
    /// Every order with its delivery progress.
    fn order_progress(&self) -> Result<Vec<OrderProgress>, StoreError>;

    /// Registers a delivery once; a second call with the same batch id
    /// returns the row already there and changes nothing.
    fn register_batch(&self, batch: &NewBatch, now_ms: i64) -> Result<Registration, StoreError>;
    fn batch(&self, batch_id: &str) -> Result<Option<BatchRow>, StoreError>;
    /// All batches in registration order, optionally only those in one state.
    fn batches(&self, state: Option<&str>) -> Result<Vec<BatchRow>, StoreError>;

    /// Moves a batch from `from` to `to` and logs `event`, atomically.
    /// Fails with [`StoreError::Conflict`] when the batch is no longer in `from`.
    /// Leaving a running state ends the batch's lease; this and every
    /// `finish_*` method do so.
    fn transition(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        event: &NewEvent,
        now_ms: i64,
    ) -> Result<(), StoreError>;

    /// Ends validation: stores the report, and for an accepted batch its
    /// records and pages, and claims its records. When another accepted batch
    /// holds one of them, nothing is written and the holders are returned.
    fn finish_validation(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        result: &ValidationResult,
        now_ms: i64,
    ) -> Result<ClaimOutcome, StoreError>;
    fn report(&self, batch_id: &str) -> Result<Option<AcceptanceReport>, StoreError>;

    /// For the given records, the accepted batch (other than `this_batch`) that delivered each.
    fn delivered(&self, record_ids: &[RecordId], this_batch: &str) -> Result<HashMap<RecordId, BatchId>, StoreError>;

    /// Appends to the event log (for what is not a state change).
    fn append_event(&self, event: &NewEvent, now_ms: i64) -> Result<(), StoreError>;
    fn events(&self, batch_id: &str) -> Result<Vec<EventRow>, StoreError>;
    fn pages(&self, batch_id: &str) -> Result<Vec<PageRecord>, StoreError>;

    /// Ends the OCR stage: stores every page's result, replaces the batch's
    /// documents, adds the processing warnings to its report, and moves the
    /// batch on, in one transaction.
    fn finish_ocr(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        outcome: &OcrOutcome,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Ends the e-file stage: records each document's e-file and moves the batch on.
    fn finish_efiles(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        efiles: &[(String, u32, EfileRecord)],
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Ends the push stage: records each document's DMS object id (state
    /// `pushed`) and moves the batch on.
    fn finish_push(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        objects: &[(String, u32, String)],
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Ends the verify stage: marks the documents whose bytes the DMS gave
    /// back unchanged as `verified` and moves the batch on.
    fn finish_verify(
        &self,
        batch_id: &str,
        from: &Batch,
        to: &Batch,
        verified: &[(String, u32)],
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Records a reviewer's decision on a document sent to review, with an
    /// event in the batch's log. Fails when there is no such document.
    fn decide_review(
        &self,
        batch_id: &str,
        record_id: &str,
        document_no: u32,
        doc_type: &str,
        decided_by: &str,
        now_ms: i64,
    ) -> Result<(), StoreError>;
    /// Documents sent to review and not yet decided, oldest batch first.
    fn review_queue(&self) -> Result<Vec<DocumentRecord>, StoreError>;
    /// Record ids and titles of an accepted batch (its records.csv).
    fn batch_records(&self, batch_id: &str) -> Result<Vec<(String, String)>, StoreError>;
    /// Documents of one batch, or of all batches, in batch, record and number order.
    fn documents(&self, batch_id: Option<&str>) -> Result<Vec<DocumentRecord>, StoreError>;

    // --- The server's: users, who uploaded which batch, progress and counts
    // (migration 5). Kept together; the server is their only writer.

    /// Adds a user; when the name is taken, nothing changes.
    fn add_user(&self, user: &NewUser, now_ms: i64) -> Result<UserAdded, StoreError>;
    fn user(&self, user_id: &str) -> Result<Option<UserRow>, StoreError>;
    /// All users, by name.
    fn users(&self) -> Result<Vec<UserRow>, StoreError>;
    /// Makes `upload.user_id` the uploader of the batch id and logs an
    /// `uploaded` event, in one transaction, unless the batch is registered
    /// already or another user uploaded it.
    fn claim_upload(&self, upload: &NewUpload, now_ms: i64) -> Result<UploadClaim, StoreError>;
    fn upload(&self, batch_id: &str) -> Result<Option<UploadRow>, StoreError>;
    /// Uploads of one user, or of all, oldest first.
    fn uploads(&self, user_id: Option<&str>) -> Result<Vec<UploadRow>, StoreError>;
    /// Every order with how far its records got, by series and order id.
    fn order_stage_progress(&self) -> Result<Vec<OrderStageProgress>, StoreError>;
    /// Batches, pages, documents and events counted by state, status and kind.
    fn counts(&self) -> Result<StoreCounts, StoreError>;
    /// Per day since `since_ms`: batches verified in the DMS, with their
    /// records and pages, oldest day first. For throughput and the forecast.
    fn daily_throughput(&self, since_ms: i64) -> Result<Vec<DailyThroughput>, StoreError>;

    // --- Work leases (SQLite migration 7): how workers on many hosts share
    // the batches without running one twice.

    /// Starts the oldest batch due for one of the request's stages: calls
    /// `request.claim` with the batch locked and writes the running state,
    /// its event and a lease for `request.worker_id`, in one transaction.
    /// Returns the batch as stored, or `None` when nothing is due. Skips a
    /// validation while an earlier batch is pending or running validation,
    /// and a push while a document of the batch awaits review. Concurrent
    /// callers never get the same batch and, on a shared store, never wait
    /// for each other's claim. When `request.claim` refuses, nothing is
    /// written and the error is [`StoreError::ClaimRefused`].
    fn claim_next(&self, request: &ClaimRequest<'_>, now_ms: i64) -> Result<Option<BatchRow>, StoreError>;
    /// Extends the lease while `worker_id` still holds it and the batch still
    /// runs; `false` when the lease was lost (the batch was interrupted,
    /// finished, or taken over), so the worker stops.
    fn renew_lease(&self, batch_id: &str, worker_id: &str, until_ms: i64) -> Result<bool, StoreError>;
    /// Running batches whose lease ran out before `now_ms`, or that have
    /// none (started before leases existed), in registration order: the
    /// batches whose worker is presumed dead.
    fn expired_leases(&self, now_ms: i64) -> Result<Vec<BatchRow>, StoreError>;
    /// Whether other processes, on other hosts, may use the same store. When
    /// not, a starting process may treat every running batch as its own,
    /// interrupted by its last exit; when so, only an expired lease says so.
    fn is_shared(&self) -> bool;
}
