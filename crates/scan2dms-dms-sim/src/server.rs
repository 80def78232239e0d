//! The HTTP side: the axum router with the four endpoints the client uses,
//! the gate every request passes (latency, faults, Basic auth), and the
//! accept loop.
//!
//! The accept loop is our own rather than `axum::serve` for one reason: an
//! insert that is to be "lost after commit" must close its connection
//! without any answer, and only the code that drives a connection can drop
//! it. Each connection gets a [`ConnectionAbort`] in its requests'
//! extensions; a handler that fires it never answers, and the loop drops
//! the connection.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tower::ServiceExt;

use crate::query::{self, Condition, Selection};
use crate::store::{InsertError, NewObject, Store, StoredContent, StoredObject};
use crate::{ObjectKind, ObjectTypeDef, SimOptions};

/// Uploads may be large; everything else is small JSON.
const MAX_UPLOAD_BYTES: usize = 2 << 30;
const MAX_JSON_BYTES: usize = 16 << 20;
const DEFAULT_MAX_ITEMS: usize = 50;
const LIMIT_MAX_ITEMS: usize = 1_000;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Sim {
    store: Mutex<Store>,
    uploads_dir: PathBuf,
    upload_counter: AtomicU64,
    object_types: Vec<ObjectTypeDef>,
    user: String,
    password: String,
    latency: Duration,
    faults: Faults,
    pub(crate) counters: Counters,
}

/// What happened so far, for [`crate::SimStats`].
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub requests: AtomicU64,
    pub server_errors: AtomicU64,
    pub stalls: AtomicU64,
    pub dropped_after_commit: AtomicU64,
    pub objects_created: AtomicU64,
}

impl Sim {
    pub(crate) fn new(options: &SimOptions, store: Store) -> Sim {
        Sim {
            uploads_dir: store.uploads_dir(),
            store: Mutex::new(store),
            upload_counter: AtomicU64::new(0),
            object_types: options.object_types.clone(),
            user: options.user.clone(),
            password: options.password.clone(),
            latency: Duration::from_millis(options.latency_ms),
            faults: Faults {
                fault_rate: options.fault_rate,
                drop_after_commit: options.drop_after_commit,
                stall: Duration::from_millis(options.stall_ms),
                random: Mutex::new(SplitMix64(options.seed)),
            },
            counters: Counters::default(),
        }
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        lock(&self.store)
    }

    /// By internal name or by numeric id.
    fn object_type(&self, name_or_id: &str) -> Option<&ObjectTypeDef> {
        self.object_types.iter().find(|def| def.name == name_or_id || def.id.to_string() == name_or_id)
    }

    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(value) = headers.get(header::AUTHORIZATION).and_then(|value| value.to_str().ok()) else {
            return false;
        };
        let Some((scheme, encoded)) = value.trim().split_once(' ') else { return false };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else { return false };
        let Ok(credentials) = String::from_utf8(decoded) else { return false };
        credentials.split_once(':') == Some((self.user.as_str(), self.password.as_str()))
    }
}

/// Seeded fault injection.
#[derive(Debug)]
struct Faults {
    fault_rate: f64,
    drop_after_commit: f64,
    stall: Duration,
    random: Mutex<SplitMix64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RequestFault {
    ServerError,
    Stall,
}

impl Faults {
    fn chance(&self, probability: f64) -> bool {
        probability > 0.0 && lock(&self.random).next_f64() < probability
    }

    /// Whether this request fails before anything is done, and how.
    fn request_fault(&self) -> Option<RequestFault> {
        if !self.chance(self.fault_rate) {
            return None;
        }
        Some(if lock(&self.random).next_u64().is_multiple_of(2) {
            RequestFault::ServerError
        } else {
            RequestFault::Stall
        })
    }
}

/// SplitMix64: tiny, seeded, good enough to pick faults.
#[derive(Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut value = self.0;
        value = (value ^ (value >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        value = (value ^ (value >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        value ^ (value >> 31)
    }

    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }
}

/// Fired by a handler to drop its connection without an answer.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionAbort(Arc<Notify>);

pub(crate) fn router(sim: Arc<Sim>) -> Router {
    Router::new()
        .route("/api/dms/objects", post(insert_objects))
        .route("/api/dms/objects/search", post(search))
        .route("/api/dms/objects/{id}", get(get_object))
        .route("/api/dms/objects/{id}/contents/file/{index}", get(get_content))
        .fallback(|| async { error_response(StatusCode::NOT_FOUND, "no such endpoint") })
        .layer(middleware::from_fn_with_state(sim.clone(), gate))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES))
        .with_state(sim)
}

/// Accepts connections until `shutdown` turns true (or its sender is
/// gone), then lets open connections finish for a moment.
pub(crate) async fn serve(listener: TcpListener, router: Router, mut shutdown: watch::Receiver<bool>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone(), shutdown.clone()));
                }
                Err(error) => {
                    tracing::warn!(error = %error, "dms-sim: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            },
            _ = shutdown.changed() => break,
        }
        while connections.try_join_next().is_some() {}
    }
    let drained = async { while connections.join_next().await.is_some() {} };
    if tokio::time::timeout(Duration::from_secs(2), drained).await.is_err() {
        connections.abort_all();
    }
}

async fn serve_connection(stream: tokio::net::TcpStream, router: Router, mut shutdown: watch::Receiver<bool>) {
    let abort = ConnectionAbort(Arc::new(Notify::new()));
    let handle = abort.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(handle.clone());
        router.clone().oneshot(request)
    });
    let connection = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(error = %error, "dms-sim: connection ended with an error");
            }
        }
        () = abort.0.notified() => {
            // Dropping the connection closes the socket; nothing is answered.
        }
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = connection.as_mut().await;
        }
    }
}

/// Every request passes here first: latency, then a possible fault (before
/// anything is done), then the credentials.
async fn gate(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    if !sim.latency.is_zero() {
        tokio::time::sleep(sim.latency).await;
    }
    sim.counters.requests.fetch_add(1, Ordering::Relaxed);
    match sim.faults.request_fault() {
        Some(RequestFault::ServerError) => {
            sim.counters.server_errors.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(path = %request.uri().path(), "dms-sim: simulated server error");
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "simulated failure");
        }
        Some(RequestFault::Stall) => {
            sim.counters.stalls.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(path = %request.uri().path(), "dms-sim: simulated stall");
            tokio::time::sleep(sim.faults.stall).await;
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "simulated stall");
        }
        None => {}
    }
    if !sim.authorized(request.headers()) {
        let mut response = error_response(StatusCode::UNAUTHORIZED, "missing or wrong credentials");
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"enaio\""));
        return response;
    }
    next.run(request).await
}

/// The error body. The DMS service's own format is not documented (spec §9
/// item 5); this is Spring Boot's shape, with the message under `message`.
fn error_response(status: StatusCode, message: impl Into<String>) -> Response {
    let body = json!({
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or(""),
        "message": message.into(),
    });
    (status, axum::Json(body)).into_response()
}

fn unprocessable(message: impl Into<String>) -> Response {
    error_response(StatusCode::UNPROCESSABLE_ENTITY, message)
}

// ---------------------------------------------------------------- insert

/// `POST /api/dms/objects`: multipart (`data` plus content parts by cid) or
/// plain JSON. All objects of a request are inserted, or none.
async fn insert_objects(State(sim): State<Arc<Sim>>, request: Request) -> Response {
    let abort = request.extensions().get::<ConnectionAbort>().cloned();
    let content_type =
        request.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("").to_owned();
    let media_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    let (data, uploads) = match media_type.as_str() {
        "multipart/form-data" => match read_multipart(&sim, request).await {
            Ok(read) => read,
            Err(response) => return response,
        },
        "application/json" => match axum::body::to_bytes(request.into_body(), MAX_JSON_BYTES).await {
            Ok(bytes) => (bytes, Uploads::default()),
            Err(error) => return unprocessable(format!("cannot read the body: {error}")),
        },
        _ => {
            return error_response(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("content type {content_type:?} is neither multipart/form-data nor application/json"),
            );
        }
    };
    let new_objects = match parse_objects(&sim, &data, &uploads) {
        Ok(objects) => objects,
        Err(message) => return unprocessable(message),
    };
    let committing = sim.clone();
    let committed = tokio::task::spawn_blocking(move || {
        let result = committing.store().insert(new_objects);
        drop(uploads);
        result
    })
    .await;
    let stored = match committed {
        Ok(Ok(stored)) => stored,
        Ok(Err(InsertError::Invalid(message))) => return unprocessable(message),
        Ok(Err(InsertError::Io(message))) => {
            return error_response(StatusCode::INTERNAL_SERVER_ERROR, format!("storage failed: {message}"));
        }
        Err(error) => return error_response(StatusCode::INTERNAL_SERVER_ERROR, format!("insert failed: {error}")),
    };
    sim.counters.objects_created.fetch_add(stored.len() as u64, Ordering::Relaxed);
    if let Some(abort) = abort
        && sim.faults.chance(sim.faults.drop_after_commit)
    {
        sim.counters.dropped_after_commit.fetch_add(1, Ordering::Relaxed);
        let ids: Vec<u64> = stored.iter().map(|object| object.id).collect();
        tracing::debug!(?ids, "dms-sim: committed, dropping the connection without an answer");
        abort.0.notify_one();
        std::future::pending::<()>().await;
    }
    let objects: Vec<Value> = stored.iter().map(|object| object_json(object, &Selection::All)).collect();
    axum::Json(json!({ "objects": objects })).into_response()
}

/// A content part written to `uploads/`. The files are removed when the
/// list is dropped, unless the commit moved them into the repository.
#[derive(Debug, Default)]
struct Uploads(Vec<Upload>);

#[derive(Debug)]
struct Upload {
    part_name: Option<String>,
    content_id: Option<String>,
    file_name: Option<String>,
    mime_type: Option<String>,
    path: PathBuf,
    sha256: String,
    length: u64,
}

impl Drop for Uploads {
    fn drop(&mut self) {
        for upload in &self.0 {
            let _ = std::fs::remove_file(&upload.path);
        }
    }
}

impl Uploads {
    fn find(&self, cid: &str) -> Option<&Upload> {
        self.0
            .iter()
            .find(|upload| upload.part_name.as_deref() == Some(cid) || upload.content_id.as_deref() == Some(cid))
    }
}

async fn read_multipart(sim: &Sim, request: Request) -> Result<(Bytes, Uploads), Response> {
    let malformed = |error: &dyn std::fmt::Display| unprocessable(format!("malformed multipart body: {error}"));
    let mut multipart = Multipart::from_request(request, &()).await.map_err(|error| malformed(&error))?;
    let mut data = None;
    let mut uploads = Uploads::default();
    while let Some(mut field) = multipart.next_field().await.map_err(|error| malformed(&error))? {
        let part_name = field.name().map(str::to_owned);
        if part_name.as_deref() == Some("data") {
            let media_type =
                field.content_type().unwrap_or("text/plain").split(';').next().unwrap_or("").trim().to_owned();
            if !media_type.eq_ignore_ascii_case("application/json") {
                return Err(unprocessable(format!("the data part must be application/json, not {media_type:?}")));
            }
            data = Some(field.bytes().await.map_err(|error| malformed(&error))?);
            continue;
        }
        let number = sim.upload_counter.fetch_add(1, Ordering::Relaxed);
        let path = sim.uploads_dir.join(format!("{number}.part"));
        let content_id = field
            .headers()
            .get("content-id")
            .and_then(|value| value.to_str().ok())
            .map(|value| value.trim().trim_start_matches('<').trim_end_matches('>').to_owned());
        uploads.0.push(Upload {
            part_name,
            content_id,
            file_name: field.file_name().map(str::to_owned),
            mime_type: field.content_type().map(str::to_owned),
            path: path.clone(),
            sha256: String::new(),
            length: 0,
        });
        let storage_failed = |error: std::io::Error| {
            error_response(StatusCode::INTERNAL_SERVER_ERROR, format!("storage failed: {error}"))
        };
        let mut file = tokio::fs::File::create(&path).await.map_err(storage_failed)?;
        let mut hasher = Sha256::new();
        let mut length = 0_u64;
        while let Some(chunk) = field.chunk().await.map_err(|error| malformed(&error))? {
            hasher.update(&chunk);
            length += chunk.len() as u64;
            file.write_all(&chunk).await.map_err(storage_failed)?;
        }
        file.sync_all().await.map_err(storage_failed)?;
        if let Some(upload) = uploads.0.last_mut() {
            upload.sha256 = hex::encode(hasher.finalize());
            upload.length = length;
        }
    }
    let data = data.ok_or_else(|| unprocessable("the multipart body has no data part"))?;
    Ok((data, uploads))
}

#[derive(Debug, Deserialize)]
struct IncomingBody {
    objects: Vec<IncomingObject>,
}

#[derive(Debug, Deserialize)]
struct IncomingObject {
    #[serde(default)]
    properties: BTreeMap<String, Value>,
    #[serde(default, rename = "contentStreams")]
    content_streams: Vec<IncomingContentStream>,
}

#[derive(Debug, Deserialize)]
struct IncomingContentStream {
    #[serde(rename = "mimeType")]
    mime_type: Option<String>,
    #[serde(rename = "fileName")]
    file_name: Option<String>,
    cid: Option<String>,
}

/// Checks the data JSON against the object definition and the uploads.
fn parse_objects(sim: &Sim, data: &[u8], uploads: &Uploads) -> Result<Vec<NewObject>, String> {
    let body: IncomingBody =
        serde_json::from_slice(data).map_err(|error| format!("malformed data: not the objects JSON: {error}"))?;
    if body.objects.is_empty() {
        return Err("malformed data: no objects".to_owned());
    }
    let mut used_cids = Vec::new();
    let mut new_objects = Vec::with_capacity(body.objects.len());
    for (index, object) in body.objects.iter().enumerate() {
        let position = index + 1;
        let mut type_value = None;
        let mut parent_id = None;
        let mut fields = BTreeMap::new();
        for (name, property) in &object.properties {
            let value = property
                .as_object()
                .and_then(|map| map.get("value"))
                .ok_or_else(|| format!("object {position}: property {name} is not {{\"value\": ...}}"))?;
            let text = match value {
                Value::String(text) => text.clone(),
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                Value::Null => continue,
                Value::Array(_) | Value::Object(_) => {
                    return Err(format!("object {position}: field {name}: table fields are not supported"));
                }
            };
            match name.as_str() {
                "system:objectTypeId" => type_value = Some(text),
                "system:parentId" => {
                    let id = text
                        .parse::<u64>()
                        .map_err(|_| format!("object {position}: system:parentId {text:?} is not an object id"))?;
                    parent_id = Some(id);
                }
                "system:objectId" => {
                    return Err(format!("object {position}: updates (system:objectId) are not supported"));
                }
                other if other.starts_with("system:") => {
                    return Err(format!("object {position}: system property {other} cannot be set"));
                }
                _ => {
                    fields.insert(name.clone(), text);
                }
            }
        }
        let type_value = type_value.ok_or_else(|| format!("object {position}: system:objectTypeId is missing"))?;
        let def = sim
            .object_type(&type_value)
            .ok_or_else(|| format!("object {position}: unknown object type {type_value:?}"))?;
        let kind =
            def.kind().ok_or_else(|| format!("object {position}: object type {:?} has no known kind", def.name))?;
        let content = match (kind, object.content_streams.as_slice()) {
            (ObjectKind::Document, []) => {
                return Err(format!(
                    "object {position}: a document needs its content (contentStreams with a cid and a part of that name)"
                ));
            }
            (ObjectKind::Document, [stream]) => {
                let cid =
                    stream.cid.as_deref().ok_or_else(|| format!("object {position}: content stream has no cid"))?;
                let upload =
                    uploads.find(cid).ok_or_else(|| format!("object {position}: no multipart part for cid {cid:?}"))?;
                if used_cids.contains(&cid) {
                    return Err(format!("object {position}: cid {cid:?} is used twice"));
                }
                used_cids.push(cid);
                let content = StoredContent {
                    sha256: upload.sha256.clone(),
                    length: upload.length,
                    mime_type: stream
                        .mime_type
                        .clone()
                        .or_else(|| upload.mime_type.clone())
                        .unwrap_or_else(|| "application/octet-stream".to_owned()),
                    file_name: stream.file_name.clone().or_else(|| upload.file_name.clone()).unwrap_or_default(),
                    cid: cid.to_owned(),
                };
                Some((content, upload.path.clone()))
            }
            (ObjectKind::Document, _) => {
                return Err(format!("object {position}: the simulator keeps one file per document"));
            }
            (_, []) => None,
            (kind, _) => return Err(format!("object {position}: a {} cannot have content", kind.as_str())),
        };
        new_objects.push(NewObject { type_name: def.name.clone(), type_id: def.id, kind, parent_id, fields, content });
    }
    if let Some(unused) = uploads.0.iter().find(|upload| {
        !used_cids
            .iter()
            .any(|cid| upload.part_name.as_deref() == Some(cid) || upload.content_id.as_deref() == Some(cid))
    }) {
        let name = unused.part_name.as_deref().unwrap_or("(unnamed)");
        return Err(format!("multipart part {name:?} is not referenced by any content stream"));
    }
    Ok(new_objects)
}

// ---------------------------------------------------------------- search

#[derive(Debug, Deserialize)]
struct SearchBody {
    query: SearchQuery,
}

#[derive(Debug, Deserialize)]
struct SearchQuery {
    statement: String,
    #[serde(default)]
    parameters: BTreeMap<String, Value>,
    #[serde(default, rename = "skipCount")]
    skip_count: usize,
    #[serde(default, rename = "maxItems")]
    max_items: Option<usize>,
}

/// `POST /api/dms/objects/search`.
async fn search(State(sim): State<Arc<Sim>>, body: Bytes) -> Response {
    let body: SearchBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(error) => return unprocessable(format!("malformed search: {error}")),
    };
    let query = match query::parse(&body.query.statement, &body.query.parameters) {
        Ok(query) => query,
        Err(message) => return unprocessable(message),
    };
    let Some(def) = sim.object_type(&query.object_type) else {
        return unprocessable(format!("unknown object type {:?}", query.object_type));
    };
    let max_items = body.query.max_items.unwrap_or(DEFAULT_MAX_ITEMS).min(LIMIT_MAX_ITEMS);
    let store = sim.store();
    let mut found = Vec::new();
    for object in store.objects().filter(|object| object.type_id == def.id) {
        match matches(object, &query.conditions) {
            Ok(true) => found.push(object),
            Ok(false) => {}
            Err(message) => return unprocessable(message),
        }
    }
    let total = found.len();
    let page: Vec<Value> = found
        .iter()
        .skip(body.query.skip_count)
        .take(max_items)
        .map(|object| object_json(object, &query.selection))
        .collect();
    let has_more = body.query.skip_count + page.len() < total;
    axum::Json(json!({
        "objects": page,
        "numItems": page.len(),
        "totalNumItems": total,
        "hasMoreItems": has_more,
    }))
    .into_response()
}

fn matches(object: &StoredObject, conditions: &[Condition]) -> Result<bool, String> {
    for condition in conditions {
        let equal = match condition.field.as_str() {
            "system:objectTypeId" => {
                condition.value == object.type_id.to_string() || condition.value == object.type_name
            }
            field if field.starts_with("system:") && !is_known_system_field(field) => {
                return Err(format!("unsupported query: the simulator cannot search by {field}"));
            }
            field => field_value(object, field).as_deref() == Some(condition.value.as_str()),
        };
        if !equal {
            return Ok(false);
        }
    }
    Ok(true)
}

fn is_known_system_field(field: &str) -> bool {
    matches!(
        field,
        "system:objectId" | "system:objectTypeId" | "system:parentId" | "system:SDSTA_ID" | "system:SDREG_ID"
    )
}

fn field_value(object: &StoredObject, field: &str) -> Option<String> {
    match field {
        "system:objectId" => Some(object.id.to_string()),
        "system:objectTypeId" => Some(object.type_id.to_string()),
        "system:parentId" => object.parent_id.map(|id| id.to_string()),
        "system:SDSTA_ID" => object.folder_id.map(|id| id.to_string()),
        "system:SDREG_ID" => object.register_id.map(|id| id.to_string()),
        _ => object.fields.get(field).cloned(),
    }
}

/// An object in the result format: `properties` of `{value}` (the type with
/// its `localName`), and `contentStreams` for a document.
fn object_json(object: &StoredObject, selection: &Selection) -> Value {
    let mut properties = serde_json::Map::new();
    properties.insert("system:objectId".to_owned(), json!({ "value": object.id.to_string() }));
    properties.insert(
        "system:objectTypeId".to_owned(),
        json!({ "value": object.type_id.to_string(), "localName": object.type_name }),
    );
    match selection {
        Selection::All => {
            for (name, value) in &object.fields {
                properties.insert(name.clone(), json!({ "value": value }));
            }
        }
        Selection::Fields(names) => {
            for name in names {
                if properties.contains_key(name) {
                    continue;
                }
                if let Some(value) = field_value(object, name) {
                    properties.insert(name.clone(), json!({ "value": value }));
                }
            }
        }
    }
    let mut result = json!({ "properties": properties });
    if let Some(content) = &object.content {
        result["contentStreams"] = json!([{
            "cid": content.cid,
            "length": content.length,
            "mimeType": content.mime_type,
            "fileName": content.file_name,
        }]);
    }
    result
}

// ---------------------------------------------------------------- read

/// `GET /api/dms/objects/{id}`.
async fn get_object(State(sim): State<Arc<Sim>>, Path(id): Path<String>) -> Response {
    let store = sim.store();
    match id.parse::<u64>().ok().and_then(|number| store.get(number)) {
        Some(object) => axum::Json(json!({ "objects": [object_json(object, &Selection::All)] })).into_response(),
        None => error_response(StatusCode::NOT_FOUND, format!("object {id} not found")),
    }
}

/// `GET /api/dms/objects/{id}/contents/file/{index}`: the raw bytes.
async fn get_content(State(sim): State<Arc<Sim>>, Path((id, index)): Path<(String, String)>) -> Response {
    let (path, content) = {
        let store = sim.store();
        let Some(object) = id.parse::<u64>().ok().and_then(|number| store.get(number)) else {
            return error_response(StatusCode::NOT_FOUND, format!("object {id} not found"));
        };
        match (&object.content, index.as_str()) {
            (Some(content), "1") => (store.content_path(&content.sha256), content.clone()),
            _ => return error_response(StatusCode::NOT_FOUND, format!("object {id} has no file {index}")),
        }
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            let mime_type = HeaderValue::from_str(&content.mime_type)
                .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"));
            ([(header::CONTENT_TYPE, mime_type)], bytes).into_response()
        }
        Err(error) => error_response(StatusCode::INTERNAL_SERVER_ERROR, format!("content of object {id}: {error}")),
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
