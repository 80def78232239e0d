//! Rows going into and coming out of the store. The store owns these types;
//! callers convert from their own.

use scan2dms_core::Batch;
use scan2dms_model::{AcceptanceReport, BatchId, OrderId, RecordId, Series};

use crate::lease::Lease;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Database(String),
    #[error("batch {batch_id} changed under us: expected state {expected}, found {found}")]
    Conflict { batch_id: String, expected: String, found: String },
    #[error("batch {0} is not registered")]
    UnknownBatch(String),
    #[error(
        "state database {path} has schema version {found}, newer than this scan2dms knows ({known}); upgrade scan2dms"
    )]
    SchemaTooNew { path: String, found: i64, known: i64 },
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The state machine refused the claim of a batch; nothing was written.
    #[error("batch {batch_id} cannot be claimed: {reason}")]
    ClaimRefused { batch_id: String, reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub order_id: OrderId,
    pub series: Series,
    pub source: String,
    pub records: Vec<NewOrderRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrderRecord {
    pub record_id: RecordId,
    pub title: String,
    pub box_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportSummary {
    pub added: usize,
    pub updated: usize,
    pub unchanged: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRow {
    pub order_id: OrderId,
    pub series: Series,
    pub imported_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderProgress {
    pub order_id: String,
    pub series: String,
    pub records: u64,
    /// Records delivered in accepted batches.
    pub delivered: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBatch {
    pub batch_id: BatchId,
    /// File or directory name the delivery arrived as.
    pub source_name: String,
    /// Where the delivery now lives in the work area.
    pub source_path: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    Registered(BatchRow),
    AlreadyRegistered(BatchRow),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRow {
    pub batch_id: String,
    pub source_name: String,
    pub source_path: String,
    pub batch: Batch,
    pub order_id: Option<String>,
    pub outcome: Option<String>,
    pub last_error: Option<String>,
    pub received_at_ms: i64,
    pub updated_at_ms: i64,
    pub pages: u64,
    /// Who runs it and until when; only while the batch is running, and
    /// `None` for a batch that a worker started before leases existed
    /// (or through [`StateStore::transition`](crate::StateStore::transition)).
    pub lease: Option<Lease>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    pub batch_id: String,
    pub record_id: Option<String>,
    pub page_no: Option<u32>,
    /// Short, stable, snake_case: `registered`, `claimed`, `accepted`, …
    pub kind: String,
    /// Free text or JSON; never OCR text or personal names.
    pub detail: String,
}

impl NewEvent {
    pub fn batch(batch_id: &str, kind: &str, detail: impl Into<String>) -> NewEvent {
        NewEvent {
            batch_id: batch_id.to_owned(),
            record_id: None,
            page_no: None,
            kind: kind.to_owned(),
            detail: detail.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    pub seq: i64,
    pub at_ms: i64,
    pub batch_id: String,
    pub record_id: Option<String>,
    pub page_no: Option<u32>,
    pub kind: String,
    pub detail: String,
}

/// What validation hands to the store.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidationResult {
    pub report: AcceptanceReport,
    pub order_id: Option<OrderId>,
    pub records: Vec<DeliveredRecord>,
    pub pages: Vec<PageRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredRecord {
    pub record_id: RecordId,
    pub title: String,
    pub box_id: String,
    pub pages: u32,
}

/// One scanned page: what index.csv said, and from the OCR stage on what
/// the pipeline found.
#[derive(Debug, Clone, PartialEq)]
pub struct PageRecord {
    pub record_id: String,
    pub page_no: u32,
    pub document_no: Option<u32>,
    pub file: String,
    pub file_page: u32,
    pub sha256: Option<String>,
    pub result: Option<PageResult>,
}

/// What the OCR stage found on a page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageResult {
    /// `ok`, `empty`, `failed`, `timeout`; `separator` for separator sheets.
    pub status: String,
    pub confidence: Option<f32>,
    pub blank: bool,
    pub separator: bool,
    /// Clockwise degrees the stored image was turned to make it upright.
    pub rotation: u16,
    /// Degrees to turn the (upright) image anticlockwise to level its lines,
    /// as measured; `None` when there was no text to measure.
    pub skew: Option<f32>,
    pub dpi: Option<f32>,
    pub text: String,
}

/// A document of a record, from the OCR stage on.
#[derive(Debug, Clone, PartialEq)]
pub struct DocumentRecord {
    pub batch_id: String,
    pub record_id: String,
    pub document_no: u32,
    /// `ocr_done`, `efile_done`, `pushed`, then `verified`.
    pub state: String,
    pub page_nos: Vec<u32>,
    pub efile: Option<EfileRecord>,
    /// Where the DMS holds it, from the push stage on.
    pub dms: Option<DmsRecord>,
    /// What the classifier made of it (from the OCR stage on, when a model
    /// is loaded).
    pub classification: Option<Classification>,
    /// A person's decision on a document sent to review.
    pub review: Option<ReviewDecision>,
}

impl DocumentRecord {
    /// The type the document is filed under: a person's decision first.
    pub fn doc_type(&self) -> Option<&str> {
        self.review
            .as_ref()
            .map(|review| review.doc_type.as_str())
            .or_else(|| self.classification.as_ref().map(|classification| classification.doc_type.as_str()))
    }

    /// Sent to review and not decided yet: it is not filed until it is.
    pub fn awaits_review(&self) -> bool {
        self.review.is_none() && self.classification.as_ref().is_some_and(|classification| classification.needs_review)
    }
}

/// The classifier's verdict on a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Classification {
    pub doc_type: String,
    /// Calibrated probability of `doc_type`, 0 to 1.
    pub confidence: f32,
    /// Below the configured threshold: a person decides before it is filed.
    pub needs_review: bool,
    /// Key fields read from the text (record key, dates, tax kind), by name.
    pub fields: std::collections::BTreeMap<String, String>,
}

/// A reviewer's decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewDecision {
    pub doc_type: String,
    pub decided_by: String,
    pub decided_at_ms: i64,
}

/// A document's object in the DMS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmsRecord {
    pub object_id: String,
    /// The DMS returned the e-file's exact bytes (SHA-256 and length).
    pub verified: bool,
}

/// Where a document's e-file is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfileRecord {
    /// Relative to the data directory.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    Stored,
    /// Records another accepted batch delivered first, with that batch.
    AlreadyDelivered(Vec<(RecordId, BatchId)>),
}

/// Everything the OCR stage hands to the store for one batch.
#[derive(Debug, Clone, PartialEq)]
pub struct OcrOutcome {
    /// Keyed by record and page number.
    pub pages: Vec<(String, u32, PageResult)>,
    pub documents: Vec<DocumentRecord>,
    pub warnings: Vec<scan2dms_model::Finding<scan2dms_model::WarningCode>>,
}

// Users, uploads and counts for the server (migration 5).

/// A user of the server. `role` is `contractor` or `staff`; the token is
/// stored only as its hash (a PHC string), and `user_id` is its public part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub user_id: String,
    pub name: String,
    pub role: String,
    pub token_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRow {
    pub user_id: String,
    pub name: String,
    pub role: String,
    pub token_hash: String,
    pub created_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserAdded {
    Added(UserRow),
    /// The name is taken; nothing changed.
    NameTaken(UserRow),
}

/// A finished upload about to be handed to the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    pub batch_id: BatchId,
    pub user_id: String,
    /// The archive's file name, as it goes into the inbox.
    pub source_name: String,
    pub bytes: u64,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadRow {
    pub batch_id: String,
    pub user_id: String,
    pub source_name: String,
    pub bytes: u64,
    pub sha256: String,
    pub uploaded_at_ms: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadClaim {
    /// The batch id is the uploader's now (again, after an upload of theirs
    /// that never reached the inbox).
    Claimed(UploadRow),
    /// Another user uploaded this batch id.
    OwnedByOther,
    /// A batch with this id is registered already.
    Registered,
}

/// How far one order got, in records (and its batches).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderStageProgress {
    pub order_id: String,
    pub series: String,
    /// Records on the order list.
    pub records: u64,
    /// Batches that named this order, whatever their outcome.
    pub batches: u64,
    pub rejected_batches: u64,
    /// Records delivered in accepted batches.
    pub accepted: u64,
    /// Accepted records with documents (the OCR stage ran).
    pub ocr_done: u64,
    /// Accepted records every document of which has its e-file.
    pub efile_done: u64,
    /// ... is in the DMS.
    pub pushed: u64,
    /// ... came back from the DMS unchanged.
    pub verified: u64,
}

/// What one day finished, for throughput and the forecast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyThroughput {
    /// `YYYY-MM-DD`, UTC.
    pub day: String,
    /// Batches whose documents were all verified in the DMS that day.
    pub batches: u64,
    pub records: u64,
    pub pages: u64,
}

/// Counts for monitoring, each by its key, in key order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreCounts {
    pub batches_by_state: Vec<(String, u64)>,
    /// Pages by OCR status; `pending` for pages not read yet.
    pub pages_by_status: Vec<(String, u64)>,
    pub documents_by_state: Vec<(String, u64)>,
    pub events_by_kind: Vec<(String, u64)>,
    /// Per stage: runs that ended (in success, failure or a crash) and
    /// their total wall time in milliseconds, from the event log.
    pub stage_runs: Vec<(String, u64, u64)>,
    /// Failed runs of the push and verify stages: the DMS's errors that
    /// outlasted the retries of single requests.
    pub dms_failures: u64,
}
