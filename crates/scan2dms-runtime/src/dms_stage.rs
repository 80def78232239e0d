//! The DMS stages: push files each document of a batch into the DMS, verify
//! reads every one back.
//!
//! Push: per record a folder (found by the record id or created, with the
//! order's index data), in it the register documents go to until they are
//! classified, and in that each document with its index fields and an
//! external id `<batch>/<record>/<document>`. Exactly once comes from
//! `scan2dms_dms::push_document`, which searches by that id before every
//! insert and after every insert whose answer was lost; so a push stage run
//! again after a crash or a failure finds what it filed before instead of
//! filing it twice. Records go to the DMS in parallel, at most
//! `dms.max_concurrent_requests` at a time (the client also limits requests
//! and their rate).
//!
//! Verify: each document's file is read back from the DMS and its SHA-256
//! and length compared with the e-file's; only then is it `verified`. When
//! every document of the batch is, the batch is done and the staging copies
//! (e-files and OCR word files, both personal data) are deleted unless
//! `dms.keep_staging` says otherwise.
//!
//! Not done here: deciding the document type and register (classification
//! comes later), updating or deleting anything in the DMS.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use scan2dms_core::{Event, StageOutcome, step};
use scan2dms_dms::{
    DmsTarget, DocumentSpec, Fields, FolderSpec, ObjectId, PushRequest, RegisterSpec, RetryPolicy, ensure_folder,
    ensure_register, push_document, thread_sleep, verify,
};
use scan2dms_store::{BatchRow, DocumentRecord, NewEvent};

use crate::{Observer, Pipeline, now_ms};

/// The retry policy of single DMS requests inside a stage.
fn policy(pipeline: &Pipeline) -> RetryPolicy {
    RetryPolicy { max_attempts: pipeline.config.dms.max_attempts, ..RetryPolicy::default() }
}

/// Our id of a document in the DMS.
pub fn external_id(document: &DocumentRecord) -> String {
    format!("{}/{}/{}", document.batch_id, document.record_id, document.document_no)
}

pub fn push(pipeline: &Pipeline, row: &BatchRow, _observer: &dyn Observer) -> Result<StageOutcome, String> {
    let dms = pipeline.dms().ok_or("no dms target is configured")?;
    let documents = pipeline.store.documents(Some(&row.batch_id)).map_err(|error| error.to_string())?;
    let titles: HashMap<String, String> =
        pipeline.store.batch_records(&row.batch_id).map_err(|error| error.to_string())?.into_iter().collect();
    let series = match &row.order_id {
        Some(order_id) => order_id
            .parse::<scan2dms_model::OrderId>()
            .ok()
            .and_then(|order_id| pipeline.store.order(&order_id).ok().flatten())
            .map(|order| order.series.to_string()),
        None => None,
    };
    let mut by_record: BTreeMap<&str, Vec<&DocumentRecord>> = BTreeMap::new();
    for document in &documents {
        by_record.entry(document.record_id.as_str()).or_default().push(document);
    }
    let records: Vec<(&str, Vec<&DocumentRecord>)> = by_record.into_iter().collect();
    let policy = policy(pipeline);
    let workers = pipeline.config.dms.max_concurrent_requests;
    let filed = on_worker_threads(&records, workers, |(record_id, record_documents)| {
        let mut folder_fields = Fields::new();
        folder_fields.insert("record_id".to_owned(), (*record_id).to_owned());
        if let Some(title) = titles.get(*record_id) {
            folder_fields.insert("title".to_owned(), title.clone());
        }
        if let Some(series) = &series {
            folder_fields.insert("series".to_owned(), series.clone());
        }
        if let Some(order_id) = &row.order_id {
            folder_fields.insert("order_id".to_owned(), order_id.clone());
        }
        push_record(pipeline, &*dms, record_id, folder_fields, record_documents, &policy)
    })?;
    let mut filed: Vec<(String, u32, String)> = filed.into_iter().flatten().collect();
    filed.sort();
    let (next, _) = step(&row.batch, now_ms(), &Event::Succeeded(StageOutcome::Completed), &pipeline.config.retry)
        .map_err(|error| error.to_string())?;
    pipeline
        .store
        .finish_push(&row.batch_id, &row.batch, &next, &filed, now_ms())
        .map_err(|error| error.to_string())?;
    Ok(StageOutcome::Completed)
}

/// One record: its folder, its register, then its documents in order.
fn push_record(
    pipeline: &Pipeline,
    dms: &dyn DmsTarget,
    record_id: &str,
    folder_fields: Fields,
    documents: &[&DocumentRecord],
    policy: &RetryPolicy,
) -> Result<Vec<(String, u32, String)>, String> {
    let sleep: &dyn Fn(Duration) = &thread_sleep;
    let folder = FolderSpec { key: record_id.to_owned(), fields: folder_fields };
    let folder = ensure_folder(dms, &folder, policy, sleep).map_err(|error| format!("record {record_id}: {error}"))?;
    // One register per document type; unclassified documents go to the
    // configured one.
    let mut registers: BTreeMap<String, ObjectId> = BTreeMap::new();
    let mut filed = Vec::with_capacity(documents.len());
    for document in documents {
        let register_name = document.doc_type().unwrap_or(&pipeline.config.dms.register).to_owned();
        let register = match registers.get(&register_name) {
            Some(register) => register.clone(),
            None => {
                let spec = RegisterSpec { name: register_name.clone(), fields: Fields::new() };
                let found = ensure_register(dms, &folder.object_id, &spec, policy, sleep)
                    .map_err(|error| format!("record {record_id}: {error}"))?;
                registers.insert(register_name, found.object_id.clone());
                found.object_id
            }
        };
        let efile = document
            .efile
            .as_ref()
            .ok_or_else(|| format!("record {record_id} document {}: no e-file to push", document.document_no))?;
        let mut fields = Fields::new();
        fields.insert("batch_id".to_owned(), document.batch_id.clone());
        fields.insert("record_id".to_owned(), document.record_id.clone());
        fields.insert("document_no".to_owned(), document.document_no.to_string());
        fields.insert("pages".to_owned(), document.page_nos.len().to_string());
        fields.insert("sha256".to_owned(), efile.sha256.clone());
        if let Some(doc_type) = document.doc_type() {
            fields.insert("doc_type".to_owned(), doc_type.to_owned());
        }
        if let Some(classification) = &document.classification {
            for (name, value) in &classification.fields {
                fields.insert(name.clone(), value.clone());
            }
        }
        let spec = DocumentSpec {
            external_id: external_id(document),
            file_name: format!("{record_id}_{:03}.pdf", document.document_no),
            mime_type: "application/pdf".to_owned(),
            fields,
        };
        let content = pipeline.data_dir.join(&efile.path);
        let request = PushRequest { parent: &register, document: &spec, content: &content };
        let outcome = push_document(dms, &request, policy, sleep)
            .map_err(|error| format!("record {record_id} document {}: {error}", document.document_no))?;
        if !outcome.created {
            tracing::info!(record_id, document_no = document.document_no, "already in the dms; not filed again");
        }
        filed.push((document.record_id.clone(), document.document_no, outcome.object_id.as_str().to_owned()));
    }
    Ok(filed)
}

pub fn verify_stage(pipeline: &Pipeline, row: &BatchRow, _observer: &dyn Observer) -> Result<StageOutcome, String> {
    let dms = pipeline.dms().ok_or("no dms target is configured")?;
    let documents = pipeline.store.documents(Some(&row.batch_id)).map_err(|error| error.to_string())?;
    let policy = policy(pipeline);
    let check = |document: &DocumentRecord| -> Result<(String, u32), String> {
        let what = format!("record {} document {}", document.record_id, document.document_no);
        let (Some(efile), Some(object)) = (&document.efile, &document.dms) else {
            return Err(format!("{what}: not pushed"));
        };
        let object_id = ObjectId::parse(&object.object_id).map_err(|error| format!("{what}: {error}"))?;
        verify(&*dms, &object_id, &efile.sha256, efile.bytes, &policy, &thread_sleep)
            .map_err(|error| format!("{what}: {error}"))?;
        Ok((document.record_id.clone(), document.document_no))
    };
    let mut verified = on_worker_threads(&documents, pipeline.config.dms.max_concurrent_requests, check)?;
    verified.sort();
    let (next, _) = step(&row.batch, now_ms(), &Event::Succeeded(StageOutcome::Completed), &pipeline.config.retry)
        .map_err(|error| error.to_string())?;
    pipeline
        .store
        .finish_verify(&row.batch_id, &row.batch, &next, &verified, now_ms())
        .map_err(|error| error.to_string())?;
    if !pipeline.config.dms.keep_staging {
        delete_staging(pipeline, &row.batch_id);
    }
    Ok(StageOutcome::Completed)
}

/// Runs `work` on every item, `workers` at a time on threads of their own
/// (DMS requests wait on the network, not the CPU pool), and stops handing
/// out items at the first failure, which it returns. Results in no order.
fn on_worker_threads<T: Sync, R: Send>(
    items: &[T],
    workers: usize,
    work: impl Fn(&T) -> Result<R, String> + Sync,
) -> Result<Vec<R>, String> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<R>> = Mutex::new(Vec::with_capacity(items.len()));
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..workers.clamp(1, items.len().max(1)) {
            scope.spawn(|| {
                while lock(&failure).is_none() {
                    let Some(item) = items.get(next.fetch_add(1, Ordering::Relaxed)) else { return };
                    match work(item) {
                        Ok(result) => lock(&done).push(result),
                        Err(error) => {
                            lock(&failure).get_or_insert(error);
                        }
                    }
                }
            });
        }
    });
    match failure.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        Some(error) => Err(error),
        None => Ok(done.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner)),
    }
}

/// Removes the batch's e-files and OCR word files once the DMS holds the
/// documents verified. A failure is logged and noted, never fatal: the batch
/// is done either way, and an operator can remove what is left.
fn delete_staging(pipeline: &Pipeline, batch_id: &str) {
    let batch_dir = pipeline.batch_dir(batch_id);
    let mut removed = Vec::new();
    for part in ["efiles", "ocr"] {
        let dir = batch_dir.join(part);
        if !dir.exists() {
            continue;
        }
        match std::fs::remove_dir_all(&dir) {
            Ok(()) => removed.push(part),
            Err(error) => tracing::warn!(batch_id, path = %dir.display(), %error, "cannot delete staging copy"),
        }
    }
    let detail =
        if removed.is_empty() { "nothing to delete".to_owned() } else { format!("deleted {}", removed.join(", ")) };
    if let Err(error) = pipeline.store.append_event(&NewEvent::batch(batch_id, "staging_deleted", detail), now_ms()) {
        tracing::warn!(batch_id, %error, "cannot log the staging deletion");
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
