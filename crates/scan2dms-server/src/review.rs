//! Review: documents the classifier could not type with confidence, a
//! person's decision on each, and the page thumbnails to decide by.
//!
//! The queue and the decision are the store's (`review_queue`,
//! `decide_review`). This module adds what a reviewer needs around them:
//! the batch's series (from its order) and so the types that may be
//! chosen, a check of the decision against them, and small images of the
//! pages. [`decide`] serves both the JSON API and the dashboard's form, so
//! both refuse the same things.
//!
//! Thumbnails are decoded from the delivered page image on request, on
//! rayon (CPU work, like every decode), and left to the browser's private
//! cache; the server writes nothing for them.
//!
//! What it deliberately does not do: run a stage. The workers file a batch
//! once none of its documents waits for review, as with any command the
//! server writes into the store.

use std::collections::{BTreeMap, HashMap};
use std::io::Cursor;
use std::path::{Component, Path, PathBuf};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use scan2dms_classify::DocType;
use scan2dms_model::{OrderId, Series};
use scan2dms_store::{DocumentRecord, StateStore, StoreError};
use serde::{Deserialize, Serialize};

use crate::api::timestamp;
use crate::auth::Caller;
use crate::{ApiError, AppState};

/// The width of a thumbnail in pixels (its height keeps the page's shape).
pub const THUMBNAIL_WIDTH: u32 = 300;

/// A document waiting for review, with what a reviewer decides by.
#[derive(Debug, Clone)]
pub(crate) struct ReviewItem {
    pub document: DocumentRecord,
    /// The series of the batch's order; `None` when the batch names no
    /// order the store knows (then every type may be chosen).
    pub series: Option<Series>,
    pub allowed_types: &'static [DocType],
}

/// The review queue, oldest batch first, each document with its series.
pub(crate) async fn review_items(state: &AppState) -> Result<Vec<ReviewItem>, ApiError> {
    state
        .store(|store| {
            let queue = store.review_queue()?;
            let mut series_of_batch: HashMap<String, Option<Series>> = HashMap::new();
            let mut items = Vec::with_capacity(queue.len());
            for document in queue {
                let series = match series_of_batch.get(&document.batch_id) {
                    Some(series) => *series,
                    None => {
                        let series = batch_series(store, &document.batch_id)?;
                        series_of_batch.insert(document.batch_id.clone(), series);
                        series
                    }
                };
                items.push(ReviewItem { document, series, allowed_types: allowed_types(series) });
            }
            Ok(items)
        })
        .await
}

/// A document's name, as in the DMS and the CLI: `<batch>/<record>/<document>`.
pub(crate) fn document_name(document: &DocumentRecord) -> String {
    format!("{}/{}/{}", document.batch_id, document.record_id, document.document_no)
}

/// Where the dashboard's thumbnail of a page of a record is.
pub(crate) fn thumbnail_url(batch_id: &str, record_id: &str, page_no: u32) -> String {
    // Batch and record ids hold only A-Z a-z 0-9 . _ -, safe in a path.
    format!("/batches/{batch_id}/records/{record_id}/pages/{page_no}/thumbnail")
}

/// A decision that was written.
#[derive(Debug, Clone)]
pub(crate) struct Decided {
    pub name: String,
    pub doc_type: DocType,
    pub decided_by: String,
    pub decided_at_ms: i64,
}

/// Decides the type of a document in review: 404 when there is no such
/// document, 409 when it does not wait for review (never sent, or decided
/// already), 422 when the type is unknown or not one of the batch's series.
///
/// The check and the write are two store calls: two reviewers deciding the
/// same document at the same moment both succeed, the later one counts, and
/// the batch's log shows both.
pub(crate) async fn decide(
    state: &AppState,
    caller: &Caller,
    batch_id: &str,
    record_id: &str,
    document_no: &str,
    doc_type: &str,
) -> Result<Decided, ApiError> {
    let name = format!("{batch_id}/{record_id}/{document_no}");
    let not_found = || ApiError::NotFound(format!("no document {name}"));
    let document_no: u32 = document_no.parse().map_err(|_| not_found())?;
    let (batch, record) = (batch_id.to_owned(), record_id.to_owned());
    let (document, series) = state
        .store(move |store| {
            let document = store
                .documents(Some(&batch))?
                .into_iter()
                .find(|document| document.record_id == record && document.document_no == document_no);
            let series = match &document {
                Some(_) => batch_series(store, &batch)?,
                None => None,
            };
            Ok((document, series))
        })
        .await?;
    let document = document.ok_or_else(not_found)?;
    if !document.awaits_review() {
        let why = match &document.review {
            Some(review) => format!("was decided already ({} by {})", review.doc_type, review.decided_by),
            None => "was not sent to review".to_owned(),
        };
        return Err(ApiError::Conflict(format!("document {name} {why}")));
    }
    let doc_type: DocType = doc_type.trim().parse().map_err(|error| ApiError::Unprocessable(format!("{error}")))?;
    let allowed = allowed_types(series);
    if !allowed.contains(&doc_type) {
        let names: Vec<&str> = allowed.iter().map(|allowed| allowed.as_str()).collect();
        return Err(ApiError::Unprocessable(format!(
            "document type {doc_type} is not one of the {} series: {}",
            series.map_or("batch's", Series::as_str),
            names.join(", ")
        )));
    }
    let decided_by = format!("staff:{}", caller.name);
    let decided_at_ms = jiff::Timestamp::now().as_millisecond();
    let (batch, record, by) = (batch_id.to_owned(), record_id.to_owned(), decided_by.clone());
    state
        .store(move |store| store.decide_review(&batch, &record, document_no, doc_type.as_str(), &by, decided_at_ms))
        .await?;
    tracing::info!(
        batch_id,
        record_id,
        document_no,
        doc_type = doc_type.as_str(),
        user_id = %caller.user_id,
        "review decided"
    );
    Ok(Decided { name, doc_type, decided_by, decided_at_ms })
}

/// The series of a batch's order, when it names one the store knows.
fn batch_series(store: &dyn StateStore, batch_id: &str) -> Result<Option<Series>, StoreError> {
    let Some(row) = store.batch(batch_id)? else { return Ok(None) };
    let Some(order_id) = row.order_id.as_deref().and_then(|order_id| order_id.parse::<OrderId>().ok()) else {
        return Ok(None);
    };
    Ok(store.order(&order_id)?.map(|order| order.series))
}

fn allowed_types(series: Option<Series>) -> &'static [DocType] {
    series.map_or(&DocType::ALL, DocType::for_series)
}

#[derive(Debug, Serialize)]
pub struct ReviewItemJson {
    /// `<batch>/<record>/<document>`
    document: String,
    batch_id: String,
    record_id: String,
    document_no: u32,
    state: String,
    /// The classifier's guess.
    doc_type: Option<String>,
    /// Its calibrated confidence, 0 to 1.
    confidence: Option<f32>,
    series: Option<&'static str>,
    allowed_types: Vec<&'static str>,
    fields: BTreeMap<String, String>,
    pages: Vec<ReviewPageJson>,
    links: ReviewLinks,
}

#[derive(Debug, Serialize)]
struct ReviewPageJson {
    page_no: u32,
    thumbnail: String,
}

#[derive(Debug, Serialize)]
struct ReviewLinks {
    decide: String,
    batch: String,
}

/// `GET /api/review`
pub async fn queue(State(state): State<AppState>) -> Result<Json<Vec<ReviewItemJson>>, ApiError> {
    let items = review_items(&state).await?;
    Ok(Json(
        items
            .into_iter()
            .map(|item| {
                let document = item.document;
                let name = document_name(&document);
                let classification = document.classification.as_ref();
                let pages = document
                    .page_nos
                    .iter()
                    .map(|&page_no| ReviewPageJson {
                        page_no,
                        thumbnail: thumbnail_url(&document.batch_id, &document.record_id, page_no),
                    })
                    .collect();
                ReviewItemJson {
                    links: ReviewLinks {
                        decide: format!("/api/review/{name}"),
                        batch: format!("/api/batches/{}", document.batch_id),
                    },
                    document: name,
                    doc_type: classification.map(|classification| classification.doc_type.clone()),
                    confidence: classification.map(|classification| classification.confidence),
                    series: item.series.map(Series::as_str),
                    allowed_types: item.allowed_types.iter().map(|doc_type| doc_type.as_str()).collect(),
                    fields: classification.map(|classification| classification.fields.clone()).unwrap_or_default(),
                    pages,
                    batch_id: document.batch_id,
                    record_id: document.record_id,
                    document_no: document.document_no,
                    state: document.state,
                }
            })
            .collect(),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    doc_type: String,
}

#[derive(Debug, Serialize)]
pub struct DecidedJson {
    document: String,
    doc_type: &'static str,
    decided_by: String,
    decided_at: String,
}

/// `POST /api/review/{batch}/{record}/{document}` with `{"doc_type": "zeugnis"}`.
pub async fn decide_api(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath((batch_id, record_id, document_no)): UrlPath<(String, String, String)>,
    body: Bytes,
) -> Result<Json<DecidedJson>, ApiError> {
    let request: DecisionBody = serde_json::from_slice(&body).map_err(|error| {
        ApiError::BadRequest(format!("decision body: {error} (expected {{\"doc_type\": \"...\"}})"))
    })?;
    let decided = decide(&state, &caller, &batch_id, &record_id, &document_no, &request.doc_type).await?;
    Ok(Json(DecidedJson {
        document: decided.name,
        doc_type: decided.doc_type.as_str(),
        decided_by: decided.decided_by,
        decided_at: timestamp(decided.decided_at_ms),
    }))
}

/// `GET /batches/{id}/records/{record}/pages/{page}/thumbnail`: the page,
/// upright, [`THUMBNAIL_WIDTH`] pixels wide, as a grayscale PNG.
pub async fn page_thumbnail(
    State(state): State<AppState>,
    UrlPath((batch_id, record_id, page_no)): UrlPath<(String, String, String)>,
) -> Result<Response, ApiError> {
    let not_found = || ApiError::NotFound(format!("no page {page_no} of record {record_id} in batch {batch_id}"));
    let page_number: u32 = page_no.parse().map_err(|_| not_found())?;
    let (batch, record) = (batch_id.clone(), record_id.clone());
    let (row, page) = state
        .store(move |store| {
            let Some(row) = store.batch(&batch)? else { return Ok(None) };
            let page =
                store.pages(&batch)?.into_iter().find(|page| page.record_id == record && page.page_no == page_number);
            Ok(page.map(|page| (row, page)))
        })
        .await?
        .ok_or_else(not_found)?;
    let source = PageSource {
        data_dir: state.data_dir().to_owned(),
        batch_id: row.batch_id,
        source_path: row.source_path,
        file: page.file,
        file_page: page.file_page,
        rotation: page.result.as_ref().map_or(0, |result| result.rotation),
        limits: scan2dms_imaging::Limits {
            max_pixels: state.config().limits.max_image_pixels,
            max_pages_per_file: state.config().limits.max_pages_per_file,
        },
    };
    let png = on_cpu(move || render_thumbnail(&source)).await?.map_err(|error| match error {
        ThumbnailError::Missing(detail) => {
            tracing::warn!(batch_id, record_id, page_no = page_number, error = %detail, "page image not available");
            ApiError::NotFound(format!("the image of page {page_number} of record {record_id} is not available"))
        }
        ThumbnailError::Image(detail) => ApiError::Internal(format!(
            "thumbnail of page {page_number} of record {record_id} in batch {batch_id}: {detail}"
        )),
    })?;
    let mut response = png.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("image/png"));
    // The delivered image never changes under its batch; staff only, so private.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, max-age=3600"));
    Ok(response)
}

/// Everything needed to find and draw one page, off the async threads.
#[derive(Debug)]
struct PageSource {
    data_dir: PathBuf,
    batch_id: String,
    source_path: String,
    /// Relative to the bag's `data/` directory.
    file: String,
    /// 1-based page within the file.
    file_page: u32,
    /// Clockwise degrees that make the stored image upright.
    rotation: u16,
    limits: scan2dms_imaging::Limits,
}

#[derive(Debug)]
enum ThumbnailError {
    /// The bag or the file is gone (or never was where the store says).
    Missing(String),
    /// The file is there but does not give a picture.
    Image(String),
}

fn render_thumbnail(source: &PageSource) -> Result<Vec<u8>, ThumbnailError> {
    // The work area's layout, as the pipeline keeps it (runtime::batch_dir).
    let unpacked = source.data_dir.join("batches").join(&source.batch_id).join("bag");
    let bag = scan2dms_delivery::archive::bag_root(&source.data_dir.join(&source.source_path), &unpacked)
        .map_err(ThumbnailError::Missing)?;
    let path = inside(&bag.join("data"), &source.file)
        .ok_or_else(|| ThumbnailError::Image(format!("page file {:?} leaves the bag", source.file)))?;
    if !path.is_file() {
        return Err(ThumbnailError::Missing(format!("{} does not exist", path.display())));
    }
    let page_index = source.file_page.checked_sub(1).ok_or_else(|| ThumbnailError::Image("file page 0".to_owned()))?;
    let decoded = scan2dms_imaging::decode_page(&path, page_index as usize, &source.limits)
        .map_err(|error| ThumbnailError::Image(format!("{}: {error}", path.display())))?;
    let gray = decoded.gray;
    let quarter_turns = (source.rotation / 90) % 4;
    // Scale to the upright page's width, then turn: turning the small image is cheaper.
    let (upright_width, upright_height) =
        if quarter_turns % 2 == 1 { (gray.height(), gray.width()) } else { (gray.width(), gray.height()) };
    let width = upright_width.clamp(1, THUMBNAIL_WIDTH);
    let height = (u64::from(upright_height) * u64::from(width) / u64::from(upright_width.max(1))).max(1);
    let height = u32::try_from(height).unwrap_or(u32::MAX);
    let (scaled_width, scaled_height) = if quarter_turns % 2 == 1 { (height, width) } else { (width, height) };
    let small = image::imageops::thumbnail(&gray, scaled_width, scaled_height);
    let upright = match quarter_turns {
        1 => image::imageops::rotate90(&small),
        2 => image::imageops::rotate180(&small),
        3 => image::imageops::rotate270(&small),
        _ => small,
    };
    let mut png = Vec::new();
    upright
        .write_to(&mut Cursor::new(&mut png), image::ImageFormat::Png)
        .map_err(|error| ThumbnailError::Image(format!("cannot encode the thumbnail: {error}")))?;
    Ok(png)
}

/// `relative` under `root`, unless it is absolute or climbs out.
fn inside(root: &Path, relative: &str) -> Option<PathBuf> {
    let relative = Path::new(relative);
    relative
        .components()
        .all(|component| matches!(component, Component::Normal(_) | Component::CurDir))
        .then(|| root.join(relative))
}

/// Runs CPU work on rayon's pool and waits for it without blocking the
/// async threads; a panic becomes an internal error instead of ending the
/// process.
async fn on_cpu<T, F>(work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (sender, receiver) = tokio::sync::oneshot::channel();
    rayon::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
        // The request may have gone; then nobody waits for the result.
        let _ = sender.send(result);
    });
    match receiver.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(_)) => Err(ApiError::Internal("thumbnail work panicked".to_owned())),
        Err(_) => Err(ApiError::Internal("thumbnail work ended without a result".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_files_stay_inside_the_bag() {
        let root = Path::new("/data/bag/data");
        assert_eq!(inside(root, "images/PN-000001/0001.tif"), Some(root.join("images/PN-000001/0001.tif")));
        assert_eq!(inside(root, "../bag-info.txt"), None);
        assert_eq!(inside(root, "images/../../x.tif"), None);
        assert_eq!(inside(root, "/etc/passwd"), None);
    }
}
