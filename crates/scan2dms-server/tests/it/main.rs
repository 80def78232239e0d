//! The server, tested at its boundary: `router(state).oneshot(request)` for
//! most, a real listener where a real client (tus-py, Chromium) or a real
//! broken connection is the point.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod browser;
mod dashboard;
mod isolation;
mod metrics;
mod plain;
mod review;
mod routes;
mod tus;
mod tuspy;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, Method, Request, StatusCode};
use scan2dms_server::{AppState, ServerOptions, new_token, router};
use scan2dms_store::{NewBatch, NewUser, SqliteStore, StateStore, UserAdded};
use tower::ServiceExt;

/// A data directory with a store, the server's state over it, and users.
#[derive(Debug)]
pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Arc<SqliteStore>,
    pub state: AppState,
    pub staff: String,
    pub contractor: String,
    pub other_contractor: String,
}

impl Default for Env {
    fn default() -> Env {
        Env::with_options(|_| {})
    }
}

impl Env {
    pub fn new() -> Env {
        Env::default()
    }

    pub fn with_options(change: impl FnOnce(&mut ServerOptions)) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("state.db")).unwrap());
        let config = scan2dms_config::defaults();
        let mut options = ServerOptions::from_config(&config);
        change(&mut options);
        let state = AppState::new(Arc::clone(&store) as Arc<dyn StateStore>, config, dir.path(), options);
        let staff = add_user(&*store, "Archiv der Stadt", "staff");
        let contractor = add_user(&*store, "Scan GmbH", "contractor");
        let other_contractor = add_user(&*store, "Andere Scan AG", "contractor");
        Env { dir, store, state, staff, contractor, other_contractor }
    }

    pub fn inbox(&self) -> PathBuf {
        self.state.inbox_dir().to_owned()
    }

    pub async fn call(&self, request: Request<Body>) -> Reply {
        let response = router(self.state.clone()).oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        Reply { status, headers, body }
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(request(Method::GET, path, token).body(Body::empty()).unwrap()).await
    }

    /// A batch that came in through the inbox folder: nobody's upload.
    pub fn register_from_inbox(&self, batch_id: &str) {
        let batch = NewBatch {
            batch_id: batch_id.parse().unwrap(),
            source_name: batch_id.to_owned(),
            source_path: format!("batches/{batch_id}/source/{batch_id}"),
        };
        self.store.register_batch(&batch, 1).unwrap();
    }
}

/// Adds a user and returns its token.
pub fn add_user(store: &dyn StateStore, name: &str, role: &str) -> String {
    let token = new_token().unwrap();
    let user = NewUser {
        user_id: token.user_id.clone(),
        name: name.to_owned(),
        role: role.to_owned(),
        token_hash: token.token_hash.clone(),
    };
    assert!(matches!(store.add_user(&user, 1).unwrap(), UserAdded::Added(_)));
    token.token
}

pub fn request(method: Method, path: &str, token: Option<&str>) -> axum::http::request::Builder {
    let builder = Request::builder().method(method).uri(path);
    match token {
        Some(token) => builder.header("authorization", format!("Bearer {token}")),
        None => builder,
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or("")
    }
}

/// The committed fixture deliveries.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/deliveries")
}

/// A fixture bag packed as `<batch id>.tar`.
pub fn tar_of(batch_id: &str) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    builder.follow_symlinks(false);
    builder.append_dir_all(batch_id, fixtures().join("batches").join(batch_id)).unwrap();
    builder.into_inner().unwrap()
}

/// Imports the fixture order lists.
pub fn import_orders(store: &dyn StateStore) {
    for name in ["ORD-0007-PERS.csv", "ORD-0007-TAX.csv"] {
        let path = fixtures().join("orders").join(name);
        let list = scan2dms_delivery::read_order_list(&path).unwrap();
        let order = scan2dms_store::NewOrder {
            order_id: list.order_id.clone(),
            series: list.series,
            source: name.to_owned(),
            records: list
                .records
                .into_iter()
                .map(|record| scan2dms_store::NewOrderRecord {
                    record_id: record.record_id,
                    title: record.title,
                    box_id: record.box_id,
                })
                .collect(),
        };
        store.import_order(&order, 1).unwrap();
    }
}

/// Runs the pipeline once over the env's inbox, for the given stages.
pub fn run_pipeline(env: &Env, stages: &[scan2dms_core::Stage]) -> scan2dms_runtime::RunSummary {
    let pipeline = scan2dms_runtime::Pipeline::new(
        Arc::clone(&env.store) as Arc<dyn StateStore>,
        scan2dms_config::defaults(),
        env.dir.path(),
    );
    let options =
        scan2dms_runtime::RunOptions { inbox_dir: env.inbox(), intake: true, once: true, stages: stages.to_vec() };
    pipeline.run(&options, &std::sync::atomic::AtomicBool::new(false), &scan2dms_runtime::LogObserver).unwrap()
}

/// The server on a real listener (127.0.0.1, a free port), on a thread
/// with its own runtime, until dropped.
#[derive(Debug)]
pub struct RunningServer {
    pub base_url: String,
    pub address: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    pub fn start(state: AppState) -> RunningServer {
        let (address_sender, address_receiver) = std::sync::mpsc::channel();
        let (shutdown, shutdown_receiver) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                address_sender.send(listener.local_addr().unwrap()).unwrap();
                let stop = async move {
                    let _ = shutdown_receiver.await;
                };
                scan2dms_server::serve(listener, state, stop).await.unwrap();
            });
        });
        let address = address_receiver.recv().unwrap();
        RunningServer { base_url: format!("http://{address}"), address, shutdown: Some(shutdown), thread: Some(thread) }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
