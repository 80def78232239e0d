//! Uploads: resumable per tus 1.0 (core, creation, checksum, termination)
//! and, for small bags, in one plain request.
//!
//! An upload lives in `<inbox>/.uploads/` (hidden, so intake ignores it):
//! `<id>.part` holds the bytes received, `<id>.json` what the upload is
//! (who, which file, how long). The offset is the length of the part file,
//! synced before it is reported, so a server restart resumes where the
//! client left off. A PATCH cut short keeps what arrived, unless it came
//! with a checksum: then the whole chunk is kept or none of it.
//!
//! A complete upload is handed over in two steps: the store records who
//! uploaded the batch (with the archive's SHA-256, an `uploaded` event in
//! the batch's log), then the file is hard-linked into the inbox under its
//! own name, which fails rather than replace a delivery already there, and
//! the part file is removed. Intake registers it as any delivery; its batch
//! id is the file name without `.zip` or `.tar`.

use std::path::{Path, PathBuf};
use std::pin::Pin;

use axum::Extension;
use axum::body::{Body, HttpBody};
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use scan2dms_model::BatchId;
use scan2dms_store::{NewUpload, UploadClaim, UploadRow};
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use crate::auth::{Caller, random_id};
use crate::{ApiError, AppState};

pub const TUS_VERSION: &str = "1.0.0";
pub const TUS_EXTENSIONS: &str = "creation,checksum,termination";
pub const TUS_CHECKSUM_ALGORITHMS: &str = "sha1,sha256";

/// Unfinished uploads untouched for this long are removed.
const UPLOAD_EXPIRY: std::time::Duration = std::time::Duration::from_secs(7 * 24 * 3600);

/// What an upload is; `<id>.json` beside its part file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UploadInfo {
    upload_id: String,
    user_id: String,
    filename: String,
    batch_id: String,
    length: u64,
    /// The client's `Upload-Metadata`, returned on HEAD.
    metadata: String,
    created_at_ms: i64,
    finished: Option<Finished>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Finished {
    sha256: String,
    at_ms: i64,
}

/// `OPTIONS /api/uploads`: what this server speaks.
pub async fn tus_options(State(state): State<AppState>) -> Response {
    let mut headers = HeaderMap::new();
    put(&mut headers, "tus-resumable", TUS_VERSION);
    put(&mut headers, "tus-version", TUS_VERSION);
    put(&mut headers, "tus-extension", TUS_EXTENSIONS);
    put(&mut headers, "tus-checksum-algorithm", TUS_CHECKSUM_ALGORITHMS);
    put(&mut headers, "tus-max-size", &state.options().max_upload_bytes.to_string());
    (StatusCode::NO_CONTENT, headers).into_response()
}

/// `POST /api/uploads`: creates an upload of `Upload-Length` bytes for the
/// file named in `Upload-Metadata` (`filename`, base64, e.g. `B-1.zip`).
pub async fn tus_create(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
) -> Response {
    tus(create(&state, &caller, &headers).await)
}

async fn create(state: &AppState, caller: &Caller, headers: &HeaderMap) -> Result<Response, ApiError> {
    check_tus_version(headers)?;
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::BadRequest("Upload-Defer-Length is not supported; send Upload-Length".to_owned()));
    }
    let length = header_u64(headers, "upload-length")?
        .ok_or_else(|| ApiError::BadRequest("Upload-Length is missing".to_owned()))?;
    let max = state.options().max_upload_bytes;
    if length > max {
        return Err(ApiError::PayloadTooLarge(format!("upload of {length} bytes exceeds the limit of {max} bytes")));
    }
    let metadata = header_str(headers, "upload-metadata")?.unwrap_or_default().to_owned();
    let filename = metadata_value(&metadata, "filename")?
        .or(metadata_value(&metadata, "name")?)
        .ok_or_else(|| ApiError::BadRequest("Upload-Metadata needs the archive's filename".to_owned()))?;
    let batch_id = delivery_name(&filename)?;
    check_free(state, caller, &batch_id).await?;

    let upload_id = random_id()?;
    let info = UploadInfo {
        upload_id: upload_id.clone(),
        user_id: caller.user_id.clone(),
        filename,
        batch_id: batch_id.to_string(),
        length,
        metadata,
        created_at_ms: now_ms(),
        finished: None,
    };
    let dir = uploads_dir(state);
    let created = info.clone();
    blocking(move || {
        std::fs::create_dir_all(&dir)?;
        remove_expired(&dir);
        std::fs::File::create(dir.join(format!("{}.part", created.upload_id)))?.sync_all()?;
        write_info(&dir, &created)
    })
    .await?;
    tracing::info!(upload_id = %upload_id, batch_id = %info.batch_id, user_id = %caller.user_id, length, "upload created");
    let mut headers = HeaderMap::new();
    put(&mut headers, "location", &format!("/api/uploads/{upload_id}"));
    put(&mut headers, "upload-offset", "0");
    Ok((StatusCode::CREATED, headers).into_response())
}

/// `HEAD /api/uploads/{id}`: how much has arrived.
pub async fn tus_head(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(upload_id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    tus(head(&state, &caller, &upload_id, &headers).await)
}

async fn head(state: &AppState, caller: &Caller, upload_id: &str, headers: &HeaderMap) -> Result<Response, ApiError> {
    check_tus_version(headers)?;
    let info = load(state, caller, upload_id).await?;
    // A PATCH in flight (say, one whose client went away) ends first, so
    // the offset is the one the next PATCH will be checked against.
    let lock = upload_lock(state, upload_id);
    let _held = lock.lock().await;
    let offset = offset_of(state, &info).await?;
    let mut headers = HeaderMap::new();
    put(&mut headers, "upload-offset", &offset.to_string());
    put(&mut headers, "upload-length", &info.length.to_string());
    if !info.metadata.is_empty() {
        put(&mut headers, "upload-metadata", &info.metadata);
    }
    put(&mut headers, "cache-control", "no-store");
    if info.finished.is_some() {
        batch_links(&mut headers, &info.batch_id);
    }
    Ok((StatusCode::OK, headers).into_response())
}

/// `PATCH /api/uploads/{id}`: appends the body at `Upload-Offset`.
pub async fn tus_patch(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(upload_id): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    tus(patch(&state, &caller, &upload_id, &headers, body).await)
}

async fn patch(
    state: &AppState,
    caller: &Caller,
    upload_id: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_tus_version(headers)?;
    let content_type = header_str(headers, "content-type")?.unwrap_or_default();
    if !content_type.eq_ignore_ascii_case("application/offset+octet-stream") {
        return Err(ApiError::UnsupportedMediaType(
            "a PATCH must be sent as Content-Type: application/offset+octet-stream".to_owned(),
        ));
    }
    let client_offset = header_u64(headers, "upload-offset")?
        .ok_or_else(|| ApiError::BadRequest("Upload-Offset is missing".to_owned()))?;
    let checksum = Checksum::from_header(headers)?;
    let info = load(state, caller, upload_id).await?;

    // One PATCH per upload at a time; a second waits for the first.
    let lock = upload_lock(state, upload_id);
    let _held = lock.lock().await;
    let info = load(state, caller, &info.upload_id).await?;
    let offset = offset_of(state, &info).await?;
    if client_offset != offset {
        return Err(ApiError::Conflict(format!("Upload-Offset is {client_offset}, the upload is at {offset}")));
    }
    if info.finished.is_some() {
        return Err(ApiError::Conflict(format!("the upload is complete and was handed over as {}", info.batch_id)));
    }
    let remaining = info.length.saturating_sub(offset);
    if let Some(declared) = header_u64(headers, "content-length")?
        && declared > remaining
    {
        return Err(ApiError::PayloadTooLarge(format!(
            "{declared} bytes sent, {remaining} left of the declared Upload-Length"
        )));
    }
    let part = part_path(state, upload_id);
    // Nothing left to send: the PATCH only asks to finish (again).
    let written = if remaining == 0 { 0 } else { append(&part, offset, remaining, body, checksum).await? };
    let offset = offset + written;
    let mut response_headers = HeaderMap::new();
    put(&mut response_headers, "upload-offset", &offset.to_string());
    if offset == info.length {
        let batch_id = finish(state, caller, &info).await?;
        batch_links(&mut response_headers, &batch_id);
    }
    Ok((StatusCode::NO_CONTENT, response_headers).into_response())
}

/// `DELETE /api/uploads/{id}`: abandons an unfinished upload.
pub async fn tus_delete(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(upload_id): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    tus(terminate(&state, &caller, &upload_id, &headers).await)
}

async fn terminate(
    state: &AppState,
    caller: &Caller,
    upload_id: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    check_tus_version(headers)?;
    let lock = upload_lock(state, upload_id);
    let _held = lock.lock().await;
    let info = load(state, caller, upload_id).await?;
    if info.finished.is_some() {
        return Err(ApiError::Conflict(format!("the upload was handed over as batch {}", info.batch_id)));
    }
    let dir = uploads_dir(state);
    let id = upload_id.to_owned();
    blocking(move || {
        remove_if_present(&dir.join(format!("{id}.part")))?;
        remove_if_present(&dir.join(format!("{id}.json")))
    })
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Serialize)]
struct UploadStatusJson {
    upload_id: String,
    filename: String,
    batch_id: String,
    length: u64,
    offset: u64,
    finished: bool,
    sha256: Option<String>,
    links: UploadLinks,
}

#[derive(Debug, Serialize)]
struct UploadLinks {
    batch: String,
    report: String,
}

/// `GET /api/uploads/{id}`: the upload as JSON, for people and scripts.
pub async fn upload_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    UrlPath(upload_id): UrlPath<String>,
) -> Result<Response, ApiError> {
    let info = load(&state, &caller, &upload_id).await?;
    let offset = offset_of(&state, &info).await?;
    Ok(axum::Json(UploadStatusJson {
        upload_id: info.upload_id,
        filename: info.filename,
        length: info.length,
        offset,
        finished: info.finished.is_some(),
        sha256: info.finished.map(|finished| finished.sha256),
        links: UploadLinks {
            batch: format!("/api/batches/{}", info.batch_id),
            report: format!("/api/batches/{}/report", info.batch_id),
        },
        batch_id: info.batch_id,
    })
    .into_response())
}

#[derive(Debug, Serialize)]
struct UploadedJson {
    batch_id: String,
    state: &'static str,
    bytes: u64,
    sha256: String,
    links: UploadLinks,
}

/// `POST /api/batches?name=B-1.zip`: a small bag in one request, the
/// archive as the body. Optional `Upload-Checksum` as with tus.
pub async fn plain_upload(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<std::collections::HashMap<String, String>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let filename = query
        .get("name")
        .cloned()
        .ok_or_else(|| ApiError::BadRequest("name the archive: POST /api/batches?name=<batch id>.zip".to_owned()))?;
    let batch_id = delivery_name(&filename)?;
    let content_type = header_str(&headers, "content-type")?.unwrap_or_default().to_ascii_lowercase();
    if content_type.starts_with("multipart/") {
        return Err(ApiError::UnsupportedMediaType(
            "send the archive itself as the request body, not as a multipart form".to_owned(),
        ));
    }
    let max = state.options().max_plain_upload_bytes;
    if let Some(declared) = header_u64(&headers, "content-length")?
        && declared > max
    {
        return Err(ApiError::PayloadTooLarge(format!(
            "{declared} bytes exceed the single-request limit of {max} bytes; use the resumable upload at /api/uploads"
        )));
    }
    let checksum = Checksum::from_header(&headers)?;
    check_free(&state, &caller, &batch_id).await?;

    let dir = uploads_dir(&state);
    let create_dir = dir.clone();
    blocking(move || std::fs::create_dir_all(&create_dir)).await?;
    let part = dir.join(format!("plain-{}.part", random_id()?));
    let result = async {
        let bytes = append(&part, 0, max, body, checksum).await?;
        let sha256 = file_sha256(&part).await?;
        hand_over(&state, &caller, &part, &filename, &batch_id, bytes, &sha256).await?;
        Ok::<_, ApiError>((bytes, sha256))
    }
    .await;
    let (bytes, sha256) = match result {
        Ok(done) => done,
        Err(error) => {
            let part = part.clone();
            let _ = blocking(move || remove_if_present(&part)).await;
            return Err(error);
        }
    };
    tracing::info!(batch_id = %batch_id, user_id = %caller.user_id, bytes, "plain upload handed to the inbox");
    let mut response_headers = HeaderMap::new();
    put(&mut response_headers, "location", &format!("/api/batches/{batch_id}"));
    batch_links(&mut response_headers, batch_id.as_str());
    let body = UploadedJson {
        batch_id: batch_id.to_string(),
        state: "uploaded",
        bytes,
        sha256,
        links: UploadLinks {
            batch: format!("/api/batches/{batch_id}"),
            report: format!("/api/batches/{batch_id}/report"),
        },
    };
    Ok((StatusCode::CREATED, response_headers, axum::Json(body)).into_response())
}

/// The batch id a delivery file name stands for, as intake reads it: the
/// name without `.zip` or `.tar`.
pub(crate) fn delivery_name(filename: &str) -> Result<BatchId, ApiError> {
    let stem = [".zip", ".tar"]
        .iter()
        .find_map(|suffix| filename.strip_suffix(suffix))
        .ok_or_else(|| ApiError::BadRequest(format!("{filename:?}: a delivery is a .zip or .tar file")))?;
    stem.parse::<BatchId>().map_err(|error| ApiError::BadRequest(format!("{filename:?}: {error}")))
}

/// Refuses a batch id that is registered, uploaded by someone else or
/// waiting in the inbox.
async fn check_free(state: &AppState, caller: &Caller, batch_id: &BatchId) -> Result<(), ApiError> {
    let id = batch_id.to_string();
    let (registered, upload) = state.store(move |store| Ok((store.batch(&id)?, store.upload(&id)?))).await?;
    if let Some(row) = registered {
        return Err(ApiError::Conflict(format!(
            "batch {batch_id} is already registered (now {}); a redelivery needs a new batch id and Replaces-Batch",
            row.batch.state
        )));
    }
    if upload.is_some_and(|upload| upload.user_id != caller.user_id) {
        return Err(ApiError::Conflict(format!("batch id {batch_id} was uploaded by another user")));
    }
    if let Some(name) = waiting_in_inbox(state.inbox_dir(), batch_id) {
        return Err(ApiError::Conflict(format!("a delivery {name} waits in the inbox already")));
    }
    Ok(())
}

fn waiting_in_inbox(inbox: &Path, batch_id: &BatchId) -> Option<String> {
    [String::new(), ".zip".to_owned(), ".tar".to_owned()]
        .into_iter()
        .map(|suffix| format!("{batch_id}{suffix}"))
        .find(|name| std::fs::symlink_metadata(inbox.join(name)).is_ok())
}

/// Ends a complete tus upload: hands it over and marks it finished.
async fn finish(state: &AppState, caller: &Caller, info: &UploadInfo) -> Result<String, ApiError> {
    let part = part_path(state, &info.upload_id);
    let batch_id = delivery_name(&info.filename)?;
    let sha256 = if tokio::fs::try_exists(&part).await.unwrap_or(true) {
        let sha256 = file_sha256(&part).await?;
        hand_over(state, caller, &part, &info.filename, &batch_id, info.length, &sha256).await?;
        sha256
    } else {
        // Handed over by a process that stopped before it could note it.
        let id = batch_id.to_string();
        match state.store(move |store| store.upload(&id)).await? {
            Some(upload) if upload.user_id == info.user_id => upload.sha256,
            _ => return Err(ApiError::Internal(format!("upload {} lost its data", info.upload_id))),
        }
    };
    let mut finished = info.clone();
    finished.finished = Some(Finished { sha256, at_ms: now_ms() });
    let dir = uploads_dir(state);
    blocking(move || write_info(&dir, &finished)).await?;
    tracing::info!(upload_id = %info.upload_id, batch_id = %batch_id, user_id = %caller.user_id, "upload handed to the inbox");
    Ok(batch_id.to_string())
}

/// Records the uploader, then links the file into the inbox.
async fn hand_over(
    state: &AppState,
    caller: &Caller,
    part: &Path,
    filename: &str,
    batch_id: &BatchId,
    bytes: u64,
    sha256: &str,
) -> Result<UploadRow, ApiError> {
    if let Some(name) = waiting_in_inbox(state.inbox_dir(), batch_id) {
        return Err(ApiError::Conflict(format!("a delivery {name} waits in the inbox already")));
    }
    let upload = NewUpload {
        batch_id: batch_id.clone(),
        user_id: caller.user_id.clone(),
        source_name: filename.to_owned(),
        bytes,
        sha256: sha256.to_owned(),
    };
    let row = match state.store(move |store| store.claim_upload(&upload, now_ms())).await? {
        UploadClaim::Claimed(row) => row,
        UploadClaim::OwnedByOther => {
            return Err(ApiError::Conflict(format!("batch id {batch_id} was uploaded by another user")));
        }
        UploadClaim::Registered => {
            return Err(ApiError::Conflict(format!("batch {batch_id} is already registered")));
        }
    };
    let part = part.to_owned();
    let inbox = state.inbox_dir().to_owned();
    let target = inbox.join(filename);
    let linked = tokio::task::spawn_blocking(move || link_into_inbox(&part, &inbox, &target))
        .await
        .map_err(|error| ApiError::Internal(format!("hand-over panicked: {error}")))?;
    match linked {
        Ok(()) => Ok(row),
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {
            Err(ApiError::Conflict(format!("a delivery {filename} waits in the inbox already")))
        }
        Err(error) => Err(ApiError::Internal(format!("cannot move the upload into the inbox: {error}"))),
    }
}

/// Puts the complete file into the inbox in one step, never over an entry
/// already there: a hard link (which refuses an existing name), then the
/// part file goes. Where links are not possible, a rename after a check.
fn link_into_inbox(part: &Path, inbox: &Path, target: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(inbox)?;
    match std::fs::hard_link(part, target) {
        Ok(()) => std::fs::remove_file(part)?,
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => return Err(error),
        Err(_) => {
            if std::fs::symlink_metadata(target).is_ok() {
                return Err(std::io::Error::from(std::io::ErrorKind::AlreadyExists));
            }
            std::fs::rename(part, target)?;
        }
    }
    std::fs::File::open(inbox)?.sync_all()
}

/// Writes the body at `offset`, at most `limit` bytes, and syncs. With a
/// checksum the chunk is kept only when it matches; without, whatever
/// arrived before the connection broke is kept.
async fn append(
    part: &Path,
    offset: u64,
    limit: u64,
    mut body: Body,
    checksum: Option<Checksum>,
) -> Result<u64, ApiError> {
    let io = |error: std::io::Error| ApiError::Internal(format!("cannot write {}: {error}", part.display()));
    let mut file =
        tokio::fs::OpenOptions::new().write(true).create(true).truncate(false).open(part).await.map_err(io)?;
    file.seek(std::io::SeekFrom::Start(offset)).await.map_err(io)?;
    let mut hasher = checksum.as_ref().map(Checksum::hasher);
    let mut written = 0u64;
    let outcome: Result<(), ApiError> = loop {
        let frame = std::future::poll_fn(|context| Pin::new(&mut body).poll_frame(context)).await;
        let data = match frame {
            None => break Ok(()),
            Some(Err(error)) => break Err(ApiError::BadRequest(format!("the upload broke off: {error}"))),
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
        };
        if written + data.len() as u64 > limit {
            break Err(ApiError::PayloadTooLarge(format!("more than the {limit} bytes expected")));
        }
        if let Some(hasher) = hasher.as_mut() {
            hasher.update(&data);
        }
        file.write_all(&data).await.map_err(io)?;
        written += data.len() as u64;
    };
    let keep = match (&outcome, &checksum, hasher) {
        (Ok(()), Some(checksum), Some(hasher)) => {
            let actual = hasher.finish();
            if actual == checksum.expected {
                Ok(written)
            } else {
                Err(ApiError::ChecksumMismatch(format!(
                    "{} of the {written} bytes received does not match Upload-Checksum",
                    checksum.algorithm
                )))
            }
        }
        (Ok(()), _, _) => Ok(written),
        // A broken chunk with a checksum cannot be trusted; one without
        // is kept, as far as it came.
        (Err(ApiError::BadRequest(_)), None, _) => Ok(written),
        (Err(error), _, _) => Err(error.clone()),
    };
    match &keep {
        Ok(kept) => {
            file.flush().await.map_err(io)?;
            file.set_len(offset + kept).await.map_err(io)?;
        }
        Err(_) => file.set_len(offset).await.map_err(io)?,
    }
    file.sync_all().await.map_err(io)?;
    match (outcome, keep) {
        (Err(error), Ok(kept)) => {
            tracing::info!(part = %part.display(), kept, %error, "upload broke off; what arrived is kept");
            Err(error)
        }
        (_, keep) => keep,
    }
}

/// A tus `Upload-Checksum`: algorithm and the expected digest.
#[derive(Debug, Clone)]
struct Checksum {
    algorithm: &'static str,
    expected: Vec<u8>,
}

enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

impl Hasher {
    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha1(hasher) => hasher.update(data),
            Hasher::Sha256(hasher) => hasher.update(data),
        }
    }

    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(hasher) => hasher.finalize().to_vec(),
            Hasher::Sha256(hasher) => hasher.finalize().to_vec(),
        }
    }
}

impl Checksum {
    fn from_header(headers: &HeaderMap) -> Result<Option<Checksum>, ApiError> {
        let Some(value) = header_str(headers, "upload-checksum")? else { return Ok(None) };
        let (algorithm, digest) = value
            .trim()
            .split_once(' ')
            .ok_or_else(|| ApiError::BadRequest("Upload-Checksum is `<algorithm> <base64 digest>`".to_owned()))?;
        let algorithm = match algorithm.to_ascii_lowercase().as_str() {
            "sha1" => "sha1",
            "sha256" => "sha256",
            other => {
                return Err(ApiError::BadRequest(format!(
                    "checksum algorithm {other:?} is not supported (supported: {TUS_CHECKSUM_ALGORITHMS})"
                )));
            }
        };
        let expected = STANDARD
            .decode(digest.trim())
            .map_err(|error| ApiError::BadRequest(format!("Upload-Checksum digest is not base64: {error}")))?;
        Ok(Some(Checksum { algorithm, expected }))
    }

    fn hasher(&self) -> Hasher {
        match self.algorithm {
            "sha1" => Hasher::Sha1(sha1::Sha1::new()),
            _ => Hasher::Sha256(sha2::Sha256::new()),
        }
    }
}

async fn file_sha256(path: &Path) -> Result<String, ApiError> {
    let path = path.to_owned();
    blocking(move || {
        let mut file = std::fs::File::open(&path)?;
        let mut hasher = sha2::Sha256::new();
        std::io::copy(&mut file, &mut hasher)?;
        Ok(hex::encode(hasher.finalize()))
    })
    .await
}

/// The upload, if the caller may see it (its uploader, or staff).
async fn load(state: &AppState, caller: &Caller, upload_id: &str) -> Result<UploadInfo, ApiError> {
    let not_found = || ApiError::NotFound(format!("no upload {upload_id}"));
    if upload_id.len() != 32 || !upload_id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(not_found());
    }
    let path = uploads_dir(state).join(format!("{upload_id}.json"));
    let text = match tokio::fs::read_to_string(&path).await {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
        Err(error) => return Err(ApiError::Internal(format!("cannot read {}: {error}", path.display()))),
    };
    let info: UploadInfo = serde_json::from_str(&text)
        .map_err(|error| ApiError::Internal(format!("upload record {} is corrupt: {error}", path.display())))?;
    if info.user_id != caller.user_id && !caller.is_staff() {
        return Err(not_found());
    }
    Ok(info)
}

/// Bytes received so far. A missing part file of an unfinished upload
/// means the process stopped between the hand-over and marking it done.
async fn offset_of(state: &AppState, info: &UploadInfo) -> Result<u64, ApiError> {
    if info.finished.is_some() {
        return Ok(info.length);
    }
    match tokio::fs::metadata(part_path(state, &info.upload_id)).await {
        Ok(metadata) => Ok(metadata.len()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            let batch_id = info.batch_id.clone();
            let upload = state.store(move |store| store.upload(&batch_id)).await?;
            match upload {
                Some(upload) if upload.user_id == info.user_id => Ok(info.length),
                _ => Err(ApiError::Internal(format!("upload {} lost its data", info.upload_id))),
            }
        }
        Err(error) => Err(ApiError::Internal(format!("upload {}: {error}", info.upload_id))),
    }
}

fn upload_lock(state: &AppState, upload_id: &str) -> std::sync::Arc<tokio::sync::Mutex<()>> {
    let mut locks = state.inner.upload_locks.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    // Forget locks nobody holds or waits for.
    locks.retain(|_, lock| std::sync::Arc::strong_count(lock) > 1);
    std::sync::Arc::clone(locks.entry(upload_id.to_owned()).or_default())
}

fn uploads_dir(state: &AppState) -> PathBuf {
    state.inbox_dir().join(".uploads")
}

fn part_path(state: &AppState, upload_id: &str) -> PathBuf {
    uploads_dir(state).join(format!("{upload_id}.part"))
}

fn write_info(dir: &Path, info: &UploadInfo) -> std::io::Result<()> {
    let json = serde_json::to_vec_pretty(info).map_err(std::io::Error::other)?;
    let temporary = dir.join(format!("{}.json.tmp", info.upload_id));
    let mut file = std::fs::File::create(&temporary)?;
    std::io::Write::write_all(&mut file, &json)?;
    file.sync_all()?;
    std::fs::rename(&temporary, dir.join(format!("{}.json", info.upload_id)))
}

fn remove_if_present(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Removes uploads nobody touched for [`UPLOAD_EXPIRY`], and leftovers of
/// plain uploads cut short by a crash.
fn remove_expired(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let stale = entry
            .metadata()
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.elapsed().ok())
            .is_some_and(|age| age > UPLOAD_EXPIRY);
        if stale && path.extension().is_some_and(|extension| extension == "part") {
            tracing::info!(part = %path.display(), "removing an upload abandoned for a week");
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(path.with_extension("json"));
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| ApiError::Internal(format!("file work panicked: {error}")))?
        .map_err(|error| ApiError::Internal(format!("upload storage: {error}")))
}

fn check_tus_version(headers: &HeaderMap) -> Result<(), ApiError> {
    match header_str(headers, "tus-resumable")? {
        Some(TUS_VERSION) => Ok(()),
        _ => Err(ApiError::TusVersion),
    }
}

/// Every tus response carries `Tus-Resumable`.
fn tus(result: Result<Response, ApiError>) -> Response {
    let mut response = result.unwrap_or_else(IntoResponse::into_response);
    response.headers_mut().insert("tus-resumable", HeaderValue::from_static(TUS_VERSION));
    response
}

fn batch_links(headers: &mut HeaderMap, batch_id: &str) {
    put(headers, "scan2dms-batch-id", batch_id);
    put(headers, header::LINK.as_str(), &format!("</api/batches/{batch_id}/report>; rel=\"report\""));
}

fn put(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name, value);
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Result<Option<&'a str>, ApiError> {
    headers
        .get(name)
        .map(|value| value.to_str().map_err(|_| ApiError::BadRequest(format!("header {name} is not text"))))
        .transpose()
}

fn header_u64(headers: &HeaderMap, name: &str) -> Result<Option<u64>, ApiError> {
    header_str(headers, name)?
        .map(|value| {
            value.trim().parse::<u64>().map_err(|_| ApiError::BadRequest(format!("header {name} is not a number")))
        })
        .transpose()
}

/// One value of tus's `Upload-Metadata` (`key base64,key base64`).
fn metadata_value(metadata: &str, key: &str) -> Result<Option<String>, ApiError> {
    for pair in metadata.split(',') {
        let mut parts = pair.trim().splitn(2, ' ');
        if parts.next() != Some(key) {
            continue;
        }
        let encoded = parts.next().unwrap_or("").trim();
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|error| ApiError::BadRequest(format!("Upload-Metadata {key} is not base64: {error}")))?;
        let text = String::from_utf8(bytes)
            .map_err(|_| ApiError::BadRequest(format!("Upload-Metadata {key} is not UTF-8")))?;
        return Ok(Some(text));
    }
    Ok(None)
}

fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}
