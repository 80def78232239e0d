//! The scan2dms server: the contractor's upload API, the status API, the
//! staff dashboard and the metrics, over the same store and data directory
//! the workers use.
//!
//! Key decisions:
//! - The server never runs a stage. An upload, once complete, is renamed
//!   into the pipeline's inbox, where intake registers it like any
//!   delivery; a retry is a transition written into the store, which the
//!   workers pick up. So `serve` and `run` may be separate processes.
//! - One route table ([`route_table`]) is the router, the access rule of
//!   each route and the route list of the OpenAPI document: a route cannot
//!   be added without saying who may call it.
//! - Tokens are `<user id>.<secret>`; only an argon2 hash of the secret is
//!   stored, looked up by the id, so a request costs one verification at
//!   most (and none while the token sits in a short in-memory cache).
//! - Uploads are resumable per tus 1.0 (core, creation, checksum,
//!   termination) and written under a hidden directory of the inbox, so the
//!   final rename stays on one file system and intake ignores them until
//!   then.
//! - The review queue (documents the classifier could not type with
//!   confidence) is the store's; a decision is written into it like a
//!   retry, and the workers file the batch once nothing of it waits.
//!
//! - HTTPS is served directly with rustls when given a certificate and key
//!   ([`serve_tls`]); behind the city's reverse proxy plain HTTP on
//!   loopback does.
//!
//! What it deliberately does not do: keep sessions across restarts (staff
//! log in again).

mod api;
mod auth;
mod dashboard;
mod error;
mod metrics;
mod openapi;
mod review;
mod tls;
mod uploads;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::routing::{MethodRouter, delete, get, head, options, patch, post};
use scan2dms_config::PipelineConfig;
use scan2dms_store::{StateStore, StoreError};

pub use auth::{NewToken, Role, TokenError, new_token};
pub use error::ApiError;
pub use tls::{HANDSHAKE_TIMEOUT, TlsError, TlsListener, server_config as tls_server_config};

/// Limits and switches of one server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerOptions {
    /// The largest resumable upload (`Upload-Length`).
    pub max_upload_bytes: u64,
    /// The largest single-request upload (`POST /api/batches`).
    pub max_plain_upload_bytes: u64,
    /// Mark the session cookie `Secure` (when served behind HTTPS).
    pub secure_cookies: bool,
    /// How long a dashboard login lasts.
    pub session_ttl: Duration,
    /// How long a verified token is trusted without verifying it again.
    pub token_cache_ttl: Duration,
    /// Seconds between the dashboard's automatic reloads.
    pub refresh_secs: u32,
}

impl ServerOptions {
    /// Limits from the pipeline's configuration: an upload may be as large
    /// as the largest archive the pipeline unpacks.
    pub fn from_config(config: &PipelineConfig) -> ServerOptions {
        ServerOptions {
            max_upload_bytes: config.limits.max_archive_bytes,
            max_plain_upload_bytes: config.limits.max_archive_bytes.min(DEFAULT_MAX_PLAIN_UPLOAD_BYTES),
            secure_cookies: false,
            session_ttl: Duration::from_secs(8 * 3600),
            token_cache_ttl: Duration::from_secs(60),
            refresh_secs: 15,
        }
    }
}

/// Single-request uploads are for small bags; larger ones go through tus.
pub const DEFAULT_MAX_PLAIN_UPLOAD_BYTES: u64 = 256 * 1024 * 1024;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Shared>,
}

struct Shared {
    store: Arc<dyn StateStore>,
    config: PipelineConfig,
    data_dir: PathBuf,
    inbox_dir: PathBuf,
    options: ServerOptions,
    tokens: auth::TokenCache,
    sessions: auth::Sessions,
    /// One lock per resumable upload: its PATCHes run one at a time.
    upload_locks: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("data_dir", &self.inner.data_dir)
            .field("inbox_dir", &self.inner.inbox_dir)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// The inbox is the configuration's (`intake.inbox_dir`, relative to
    /// the data directory), the one `scan2dms run` reads.
    pub fn new(
        store: Arc<dyn StateStore>,
        config: PipelineConfig,
        data_dir: &Path,
        options: ServerOptions,
    ) -> AppState {
        let inbox_dir = data_dir.join(&config.intake.inbox_dir);
        AppState::with_inbox(store, config, data_dir, &inbox_dir, options)
    }

    /// As [`AppState::new`], with another inbox (`run --inbox`).
    pub fn with_inbox(
        store: Arc<dyn StateStore>,
        config: PipelineConfig,
        data_dir: &Path,
        inbox_dir: &Path,
        options: ServerOptions,
    ) -> AppState {
        AppState {
            inner: Arc::new(Shared {
                store,
                config,
                data_dir: data_dir.to_owned(),
                inbox_dir: inbox_dir.to_owned(),
                tokens: auth::TokenCache::new(options.token_cache_ttl),
                sessions: auth::Sessions::new(options.session_ttl),
                options,
                upload_locks: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn inbox_dir(&self) -> &Path {
        &self.inner.inbox_dir
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn options(&self) -> &ServerOptions {
        &self.inner.options
    }

    fn config(&self) -> &PipelineConfig {
        &self.inner.config
    }

    /// Runs a store call off the async threads (SQLite blocks).
    async fn store<T, F>(&self, call: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&dyn StateStore) -> Result<T, StoreError> + Send + 'static,
    {
        let store = Arc::clone(&self.inner.store);
        tokio::task::spawn_blocking(move || call(&*store))
            .await
            .map_err(|error| ApiError::Internal(format!("store call panicked: {error}")))?
            .map_err(ApiError::from)
    }
}

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone (`/healthz` only).
    Public,
    /// A bearer token of any role.
    Token,
    /// A bearer token of a staff user.
    StaffToken,
    /// A dashboard page: a staff login session (or a staff bearer token).
    StaffPage,
    /// A dashboard form: as a page, and with a session also the form's CSRF token.
    StaffForm,
    /// The login form's target: it checks the token it is sent itself.
    Login,
}

/// One route: method, path (axum syntax), who may call it, what it does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: &'static str,
    pub path: &'static str,
    pub access: Access,
    pub summary: &'static str,
}

/// Every route of [`router`], in the order of the OpenAPI document.
pub fn route_table() -> Vec<RouteInfo> {
    routes().into_iter().map(|(info, _)| info).collect()
}

/// The whole server.
pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    for (info, method_router) in routes() {
        let guarded =
            method_router.route_layer(axum::middleware::from_fn_with_state((state.clone(), info.access), auth::guard));
        router = router.route(info.path, guarded);
    }
    router
        .fallback(|| async { ApiError::NotFound("no such route".to_owned()) })
        .layer(axum::middleware::map_response(error::security_headers))
        .with_state(state)
}

/// Serves `router(state)` on a bound listener until `shutdown` resolves;
/// requests in flight are finished first.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

/// [`serve`] over HTTPS: each connection's TLS handshake finishes before
/// axum sees it (see [`TlsListener`]).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = TlsListener::new(listener, tls)?;
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

fn routes() -> Vec<(RouteInfo, MethodRouter<AppState>)> {
    use Access::*;
    let route = |method, path, access, summary, handler: MethodRouter<AppState>| {
        (RouteInfo { method, path, access, summary }, handler)
    };
    vec![
        route("GET", "/healthz", Public, "Liveness: the server answers", get(api::healthz)),
        route("GET", "/api/openapi.json", Token, "This API as OpenAPI 3.1", get(openapi::document)),
        route("GET", "/api/batches", Token, "Batches (a contractor's own only)", get(api::batches)),
        route("POST", "/api/batches", Token, "Upload a small bag in one request", post(uploads::plain_upload)),
        route("GET", "/api/batches/{id}", Token, "One batch", get(api::batch)),
        route("GET", "/api/batches/{id}/report", Token, "The acceptance report of a batch", get(api::report)),
        route("GET", "/api/batches/{id}/documents", Token, "Documents of a batch", get(api::documents)),
        route("GET", "/api/batches/{id}/events", StaffToken, "The processing record of a batch", get(api::events)),
        route("POST", "/api/batches/{id}/retry", StaffToken, "Run a failed or rejected batch again", post(api::retry)),
        route("GET", "/api/orders", StaffToken, "Progress per order", get(api::orders)),
        route("GET", "/api/review", StaffToken, "Documents waiting for a type decision", get(review::queue)),
        route(
            "POST",
            "/api/review/{batch}/{record}/{document}",
            StaffToken,
            "Decide the type of a document in review",
            post(review::decide_api),
        ),
        route("OPTIONS", "/api/uploads", Token, "tus: server capabilities", options(uploads::tus_options)),
        route("POST", "/api/uploads", Token, "tus: create an upload", post(uploads::tus_create)),
        route("HEAD", "/api/uploads/{upload_id}", Token, "tus: offset of an upload", head(uploads::tus_head)),
        route("PATCH", "/api/uploads/{upload_id}", Token, "tus: append to an upload", patch(uploads::tus_patch)),
        route("DELETE", "/api/uploads/{upload_id}", Token, "tus: abandon an upload", delete(uploads::tus_delete)),
        route("GET", "/api/uploads/{upload_id}", Token, "State of an upload (JSON)", get(uploads::upload_status)),
        route("GET", "/metrics", StaffToken, "Prometheus metrics", get(metrics::metrics)),
        route("GET", "/", StaffPage, "Dashboard: overview", get(dashboard::overview)),
        route("GET", "/batches/{id}", StaffPage, "Dashboard: one batch", get(dashboard::batch_page)),
        route("POST", "/batches/{id}/retry", StaffForm, "Dashboard: retry a batch", post(dashboard::retry_form)),
        route(
            "GET",
            "/batches/{id}/records/{record}/pages/{page}/thumbnail",
            StaffPage,
            "Dashboard: a page as a small PNG",
            get(review::page_thumbnail),
        ),
        route("GET", "/review", StaffPage, "Dashboard: documents in review", get(dashboard::review_page)),
        route(
            "POST",
            "/review/{batch}/{record}/{document}",
            StaffForm,
            "Dashboard: decide a document's type",
            post(dashboard::review_form),
        ),
        route("POST", "/login", Login, "Dashboard: log in with a staff token", post(dashboard::login)),
        route("POST", "/logout", StaffForm, "Dashboard: log out", post(dashboard::logout)),
    ]
}
