//! The JSON API: batches, reports, documents, the event log, progress per
//! order, and retries (the review queue is in `review`). Wire types are
//! this module's own and converted by hand from the store's rows.
//!
//! Visibility is decided in one place, [`visible_batch`]: staff see every
//! batch; a contractor sees the batches it uploaded and nothing else, and
//! another's batch is a 404, the same as one that does not exist.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use scan2dms_core::{Event, Stage, step};
use scan2dms_store::{BatchRow, NewEvent, StoreError, UploadRow};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::{ApiError, AppState};

/// A batch the caller may see: registered by intake, or uploaded and
/// waiting in the inbox.
#[derive(Debug, Clone)]
pub(crate) enum BatchView {
    Registered { row: Box<BatchRow>, upload: Option<UploadRow> },
    Uploaded(UploadRow),
}

impl BatchView {
    pub fn batch_id(&self) -> &str {
        match self {
            BatchView::Registered { row, .. } => &row.batch_id,
            BatchView::Uploaded(upload) => &upload.batch_id,
        }
    }

    pub fn state(&self) -> String {
        match self {
            BatchView::Registered { row, .. } => row.batch.state.name(),
            BatchView::Uploaded(_) => UPLOADED.to_owned(),
        }
    }

    pub fn upload(&self) -> Option<&UploadRow> {
        match self {
            BatchView::Registered { upload, .. } => upload.as_ref(),
            BatchView::Uploaded(upload) => Some(upload),
        }
    }
}

/// The state of a batch that is uploaded but not yet taken by intake.
pub const UPLOADED: &str = "uploaded";

/// The batch, or 404 when it does not exist or is not the caller's.
pub(crate) async fn visible_batch(state: &AppState, caller: &Caller, batch_id: &str) -> Result<BatchView, ApiError> {
    let id = batch_id.to_owned();
    let (row, upload) = state.store(move |store| Ok((store.batch(&id)?, store.upload(&id)?))).await?;
    if !caller.is_staff() && upload.as_ref().is_none_or(|upload| upload.user_id != caller.user_id) {
        return Err(ApiError::not_found_batch(batch_id));
    }
    match (row, upload) {
        (Some(row), upload) => Ok(BatchView::Registered { row: Box::new(row), upload }),
        (None, Some(upload)) => Ok(BatchView::Uploaded(upload)),
        (None, None) => Err(ApiError::not_found_batch(batch_id)),
    }
}

/// Every batch the caller may see, registered ones in registration order,
/// then those still waiting in the inbox.
pub(crate) async fn visible_batches(
    state: &AppState,
    caller: &Caller,
    state_filter: Option<String>,
) -> Result<Vec<BatchView>, ApiError> {
    let user = (!caller.is_staff()).then(|| caller.user_id.clone());
    let (rows, uploads) = state
        .store(move |store| {
            let uploads = store.uploads(user.as_deref())?;
            let rows = match &user {
                None => store.batches(None)?,
                Some(_) => uploads
                    .iter()
                    .filter_map(|upload| store.batch(&upload.batch_id).transpose())
                    .collect::<Result<Vec<_>, StoreError>>()?,
            };
            Ok((rows, uploads))
        })
        .await?;
    let mut uploads_by_batch: std::collections::HashMap<String, UploadRow> =
        uploads.into_iter().map(|upload| (upload.batch_id.clone(), upload)).collect();
    let mut views: Vec<BatchView> = Vec::new();
    let mut rows = rows;
    rows.sort_by_key(|row| row.received_at_ms);
    for row in rows {
        let upload = uploads_by_batch.remove(&row.batch_id);
        views.push(BatchView::Registered { row: Box::new(row), upload });
    }
    let mut waiting: Vec<UploadRow> = uploads_by_batch.into_values().collect();
    waiting.sort_by(|a, b| (a.uploaded_at_ms, &a.batch_id).cmp(&(b.uploaded_at_ms, &b.batch_id)));
    views.extend(waiting.into_iter().map(BatchView::Uploaded));
    if let Some(wanted) = state_filter {
        views.retain(|view| view.state() == wanted);
    }
    Ok(views)
}

pub fn timestamp(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|at| at.round(jiff::Unit::Second).unwrap_or(at).to_string())
        .unwrap_or_default()
}

#[derive(Debug, Serialize)]
pub struct BatchJson {
    batch_id: String,
    /// `uploaded` (waiting in the inbox), then the pipeline's states:
    /// `received`, `validating`, `accepted`, `ocr_running`, …, `rejected`, `done`.
    state: String,
    attempts: u32,
    outcome: Option<String>,
    order_id: Option<String>,
    source_name: String,
    pages: u64,
    received_at: Option<String>,
    updated_at: Option<String>,
    upload: Option<UploadJson>,
    /// Staff only: why the last attempt failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error: Option<String>,
    links: BatchLinks,
}

#[derive(Debug, Serialize)]
struct UploadJson {
    uploaded_at: String,
    bytes: u64,
    sha256: String,
    /// Staff only: the uploading user's id.
    #[serde(skip_serializing_if = "Option::is_none")]
    user_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct BatchLinks {
    #[serde(rename = "self")]
    this: String,
    report: String,
    documents: String,
}

pub(crate) fn batch_json(view: &BatchView, caller: &Caller) -> BatchJson {
    let batch_id = view.batch_id().to_owned();
    let upload = view.upload().map(|upload| UploadJson {
        uploaded_at: timestamp(upload.uploaded_at_ms),
        bytes: upload.bytes,
        sha256: upload.sha256.clone(),
        user_id: caller.is_staff().then(|| upload.user_id.clone()),
    });
    let links = BatchLinks {
        this: format!("/api/batches/{batch_id}"),
        report: format!("/api/batches/{batch_id}/report"),
        documents: format!("/api/batches/{batch_id}/documents"),
    };
    match view {
        BatchView::Registered { row, .. } => BatchJson {
            batch_id,
            state: row.batch.state.name(),
            attempts: row.batch.attempts,
            outcome: row.outcome.clone(),
            order_id: row.order_id.clone(),
            source_name: row.source_name.clone(),
            pages: row.pages,
            received_at: Some(timestamp(row.received_at_ms)),
            updated_at: Some(timestamp(row.updated_at_ms)),
            upload,
            last_error: if caller.is_staff() { row.last_error.clone() } else { None },
            links,
        },
        BatchView::Uploaded(row) => BatchJson {
            batch_id,
            state: UPLOADED.to_owned(),
            attempts: 0,
            outcome: None,
            order_id: None,
            source_name: row.source_name.clone(),
            pages: 0,
            received_at: None,
            updated_at: None,
            upload,
            last_error: None,
            links,
        },
    }
}

/// `GET /healthz`
pub async fn healthz() -> &'static str {
    "ok\n"
}

#[derive(Debug, Deserialize)]
pub struct BatchesQuery {
    state: Option<String>,
}

/// `GET /api/batches[?state=...]`
pub async fn batches(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<BatchesQuery>,
) -> Result<Json<Vec<BatchJson>>, ApiError> {
    if let Some(wanted) = &query.state
        && wanted != UPLOADED
    {
        wanted.parse::<scan2dms_core::BatchState>().map_err(ApiError::BadRequest)?;
    }
    let views = visible_batches(&state, &caller, query.state).await?;
    Ok(Json(views.iter().map(|view| batch_json(view, &caller)).collect()))
}

/// `GET /api/batches/{id}`
pub async fn batch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch_id): Path<String>,
) -> Result<Json<BatchJson>, ApiError> {
    let view = visible_batch(&state, &caller, &batch_id).await?;
    Ok(Json(batch_json(&view, &caller)))
}

/// `GET /api/batches/{id}/report`: the acceptance report (JSON, or text
/// with `Accept: text/plain`); 202 while the batch is not validated yet.
pub async fn report(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch_id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let view = visible_batch(&state, &caller, &batch_id).await?;
    let id = batch_id.clone();
    let report = state.store(move |store| store.report(&id)).await?;
    let Some(report) = report else {
        let body = serde_json::json!({
            "batch_id": batch_id,
            "state": view.state(),
            "message": "not validated yet; ask again later",
        });
        let mut response = (StatusCode::ACCEPTED, Json(body)).into_response();
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return Ok(response);
    };
    let wants_text = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/plain") && !accept.contains("application/json"));
    if wants_text {
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], report.to_string()).into_response());
    }
    Ok(Json(report).into_response())
}

#[derive(Debug, Serialize)]
pub struct DocumentJson {
    record_id: String,
    document_no: u32,
    /// `ocr_done`, `efile_done`, `pushed`, `verified`.
    state: String,
    page_nos: Vec<u32>,
    efile: Option<EfileJson>,
    dms: Option<DmsJson>,
}

#[derive(Debug, Serialize)]
struct EfileJson {
    sha256: String,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct DmsJson {
    object_id: String,
    verified: bool,
}

/// `GET /api/batches/{id}/documents`
pub async fn documents(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch_id): Path<String>,
) -> Result<Json<Vec<DocumentJson>>, ApiError> {
    visible_batch(&state, &caller, &batch_id).await?;
    let documents = state.store(move |store| store.documents(Some(&batch_id))).await?;
    Ok(Json(
        documents
            .into_iter()
            .map(|document| DocumentJson {
                record_id: document.record_id,
                document_no: document.document_no,
                state: document.state,
                page_nos: document.page_nos,
                efile: document.efile.map(|efile| EfileJson { sha256: efile.sha256, bytes: efile.bytes }),
                dms: document.dms.map(|dms| DmsJson { object_id: dms.object_id, verified: dms.verified }),
            })
            .collect(),
    ))
}

#[derive(Debug, Serialize)]
pub struct EventJson {
    seq: i64,
    at: String,
    record_id: Option<String>,
    page_no: Option<u32>,
    kind: String,
    detail: String,
}

/// `GET /api/batches/{id}/events` (staff: details may name internal paths)
pub async fn events(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch_id): Path<String>,
) -> Result<Json<Vec<EventJson>>, ApiError> {
    visible_batch(&state, &caller, &batch_id).await?;
    let events = state.store(move |store| store.events(&batch_id)).await?;
    Ok(Json(
        events
            .into_iter()
            .map(|event| EventJson {
                seq: event.seq,
                at: timestamp(event.at_ms),
                record_id: event.record_id,
                page_no: event.page_no,
                kind: event.kind,
                detail: event.detail,
            })
            .collect(),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct RetryBody {
    from_stage: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct RetryJson {
    batch_id: String,
    from_state: String,
    state: String,
}

/// `POST /api/batches/{id}/retry` with an optional `{"from_stage": "ocr"}`.
pub async fn retry(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(batch_id): Path<String>,
    body: Bytes,
) -> Result<Json<RetryJson>, ApiError> {
    let request: RetryBody = if body.iter().all(u8::is_ascii_whitespace) {
        RetryBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|error| ApiError::BadRequest(format!("retry body: {error}")))?
    };
    let from = request.from_stage.as_deref().map(str::parse::<Stage>).transpose().map_err(ApiError::BadRequest)?;
    let (before, after) = request_retry(&state, &caller, &batch_id, from).await?;
    Ok(Json(RetryJson { batch_id, from_state: before, state: after }))
}

/// Asks for a batch to run again: the state machine's `retry_requested`,
/// stored as a compare-and-set; the workers pick the batch up from there.
pub(crate) async fn request_retry(
    state: &AppState,
    caller: &Caller,
    batch_id: &str,
    from: Option<Stage>,
) -> Result<(String, String), ApiError> {
    let view = visible_batch(state, caller, batch_id).await?;
    let BatchView::Registered { row, .. } = view else {
        return Err(ApiError::Conflict(format!("batch {batch_id} is not registered yet")));
    };
    if !caller.is_staff() {
        return Err(ApiError::Forbidden("only staff may retry".to_owned()));
    }
    let now = jiff::Timestamp::now().as_millisecond();
    let event = Event::RetryRequested { from };
    let (next, _effects) = step(&row.batch, now, &event, &state.config().retry).map_err(|_| {
        ApiError::Conflict(format!(
            "batch {batch_id} cannot be retried {}in state {}",
            from.map(|stage| format!("from {stage} ")).unwrap_or_default(),
            row.batch.state
        ))
    })?;
    let detail = format!(
        "from {}; now {}; requested by user {}",
        from.map_or_else(|| "the failed stage".to_owned(), |stage| stage.to_string()),
        next.state,
        caller.user_id
    );
    let id = batch_id.to_owned();
    let before = row.batch.clone();
    let after = next.clone();
    state
        .store(move |store| {
            store.transition(&id, &before, &after, &NewEvent::batch(&id, "retry_requested", detail), now)
        })
        .await?;
    tracing::info!(batch_id, user_id = %caller.user_id, from = %row.batch.state, to = %next.state, "retry requested");
    Ok((row.batch.state.name(), next.state.name()))
}

#[derive(Debug, Serialize)]
pub struct OrderJson {
    order_id: String,
    series: String,
    records: u64,
    batches: u64,
    rejected_batches: u64,
    accepted: u64,
    ocr_done: u64,
    efile_done: u64,
    pushed: u64,
    verified: u64,
}

/// `GET /api/orders`: every order with how far its records got.
pub async fn orders(State(state): State<AppState>) -> Result<Json<Vec<OrderJson>>, ApiError> {
    let progress = state.store(|store| store.order_stage_progress()).await?;
    Ok(Json(
        progress
            .into_iter()
            .map(|order| OrderJson {
                order_id: order.order_id,
                series: order.series,
                records: order.records,
                batches: order.batches,
                rejected_batches: order.rejected_batches,
                accepted: order.accepted,
                ocr_done: order.ocr_done,
                efile_done: order.efile_done,
                pushed: order.pushed,
                verified: order.verified,
            })
            .collect(),
    ))
}
