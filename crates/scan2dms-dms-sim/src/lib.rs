//! A DMS that speaks the enaio DMS-service contract, for tests and the demo.
//!
//! It serves exactly the subset of `/api/dms/objects` that the scan2dms
//! client uses, with the paths, JSON shapes and status codes of
//! `shared/spec/enaio-dms-api.md`: inserts as multipart (a `data` JSON part
//! plus content parts by cid) or plain JSON, reading an object and its
//! first file, and the SQL-like search (the subset in `query`). Basic auth on
//! every request; 401, 404 and 422 with a message body.
//!
//! Key decisions:
//! - It runs on a thread of its own with its own tokio runtime
//!   ([`Simulator::start`]), so blocking callers (tests, the CLI) use it like
//!   any remote server.
//! - Objects are files on disk, written atomically, so it survives restarts
//!   and [`dump`] can read it while it runs; ids count up deterministically.
//! - Faults are seeded and happen where a real network fails: before a
//!   request does anything (a 5xx, or a stall past the client's timeout),
//!   and after an insert committed (the connection is dropped unanswered).
//! - It does not depend on the client crate: a shared type would hide the
//!   very contract mismatches it is there to show.
//!
//! What it does not do: updates, deletes, several files per document,
//! permissions, renditions, OSRest, or queries beyond `field = value AND ...`;
//! and it reads a file whole to send it back (the client, not the simulator,
//! is the one that must stream).
//! The error body format of the real service is unknown (spec §9); the
//! simulator's is `{"status", "error", "message"}`.

mod query;
mod server;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

/// How to run a simulator.
#[derive(Clone)]
pub struct SimOptions {
    /// Where to listen; port 0 picks a free one (see [`SimHandle::addr`]).
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub user: String,
    pub password: String,
    /// Share of requests (0..=1) that fail before doing anything: half with
    /// a 503 at once, half with a 503 after a stall of `stall_ms`.
    pub fault_rate: f64,
    /// Share of inserts (0..=1) that commit and then drop the connection
    /// without an answer.
    pub drop_after_commit: f64,
    /// Added to every response.
    pub latency_ms: u64,
    /// Seed of the fault generator.
    pub seed: u64,
    /// How long a stalling request stalls; longer than the client's timeout
    /// to look like a hung server.
    pub stall_ms: u64,
    /// The object definition: the types the simulator knows.
    pub object_types: Vec<ObjectTypeDef>,
}

impl SimOptions {
    /// Listens on a free port of 127.0.0.1, no faults, the default object
    /// definition, user and password `scan2dms`.
    pub fn new(data_dir: impl Into<PathBuf>) -> SimOptions {
        SimOptions {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: data_dir.into(),
            user: "scan2dms".to_owned(),
            password: "scan2dms".to_owned(),
            fault_rate: 0.0,
            drop_after_commit: 0.0,
            latency_ms: 0,
            seed: 1,
            stall_ms: 90_000,
            object_types: ObjectTypeDef::defaults(),
        }
    }
}

impl fmt::Debug for SimOptions {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("SimOptions")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("user", &self.user)
            .field("password", &"***")
            .field("fault_rate", &self.fault_rate)
            .field("drop_after_commit", &self.drop_after_commit)
            .field("latency_ms", &self.latency_ms)
            .field("seed", &self.seed)
            .field("stall_ms", &self.stall_ms)
            .field("object_types", &self.object_types)
            .finish()
    }
}

/// An object type: its internal name and its numeric id, whose main type
/// (`id >> 16`) says the kind, as in enaio: 0 folder, 1 to 8 document,
/// 99 register.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectTypeDef {
    pub name: String,
    pub id: u32,
}

impl ObjectTypeDef {
    /// `Akte` (folder 0), `Register` (register 0x630000) and `Dokument`
    /// (Windows document 0x040000): the names the client's settings default to.
    pub fn defaults() -> Vec<ObjectTypeDef> {
        vec![
            ObjectTypeDef { name: "Akte".to_owned(), id: 0 },
            ObjectTypeDef { name: "Register".to_owned(), id: 99 << 16 },
            ObjectTypeDef { name: "Dokument".to_owned(), id: 4 << 16 },
        ]
    }

    pub fn kind(&self) -> Option<ObjectKind> {
        match self.id >> 16 {
            0 => Some(ObjectKind::Folder),
            1..=8 => Some(ObjectKind::Document),
            99 => Some(ObjectKind::Register),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    Folder,
    Register,
    Document,
}

impl ObjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ObjectKind::Folder => "folder",
            ObjectKind::Register => "register",
            ObjectKind::Document => "document",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("dms-sim option {field}: {message}")]
    Options { field: &'static str, message: String },
    #[error("dms-sim cannot use {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("dms-sim cannot listen on {addr}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("dms-sim cannot start its runtime")]
    Runtime(#[source] std::io::Error),
    #[error("dms-sim object file {path} is corrupt: {message}")]
    Corrupt { path: PathBuf, message: String },
    #[error("dms-sim server thread panicked")]
    Panicked,
}

/// Starts simulators.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// Opens the repository, binds the listener and serves on a thread of its
    /// own. Errors (bad options, unreadable data, a taken port) come back
    /// here, before anything runs.
    pub fn start(options: SimOptions) -> Result<SimHandle, SimError> {
        check_options(&options)?;
        let store = store::Store::open(&options.data_dir)?;
        let listener = std::net::TcpListener::bind(options.listen)
            .and_then(|listener| listener.set_nonblocking(true).map(|()| listener))
            .map_err(|source| SimError::Listen { addr: options.listen, source })?;
        let addr = listener.local_addr().map_err(|source| SimError::Listen { addr: options.listen, source })?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dms-sim")
            .enable_all()
            .build()
            .map_err(SimError::Runtime)?;
        let sim = Arc::new(server::Sim::new(&options, store));
        let shared = sim.clone();
        let (shutdown_sender, shutdown) = watch::channel(false);
        let (stopped_sender, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("dms-sim".to_owned())
            .spawn(move || {
                let _stopped = stopped_sender;
                let result = runtime.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener)
                        .map_err(|source| SimError::Listen { addr, source })?;
                    server::serve(listener, server::router(sim), shutdown).await;
                    Ok(())
                });
                runtime.shutdown_timeout(std::time::Duration::from_secs(2));
                result
            })
            .map_err(SimError::Runtime)?;
        tracing::info!(%addr, data_dir = %options.data_dir.display(), "dms-sim listening");
        Ok(SimHandle {
            addr,
            sim: shared,
            shutdown: Some(shutdown_sender),
            stopped: Some(stopped),
            thread: Some(thread),
        })
    }
}

/// A running simulator. Dropping it shuts it down.
#[derive(Debug)]
pub struct SimHandle {
    addr: SocketAddr,
    sim: Arc<server::Sim>,
    shutdown: Option<watch::Sender<bool>>,
    stopped: Option<oneshot::Receiver<()>>,
    thread: Option<JoinHandle<Result<(), SimError>>>,
}

impl SimHandle {
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The DMS service root to give a client, e.g. `http://127.0.0.1:4711/api/dms`.
    pub fn base_url(&self) -> String {
        format!("http://{}/api/dms", self.addr)
    }

    /// Counts of what happened since the start.
    pub fn stats(&self) -> SimStats {
        let counters = &self.sim.counters;
        let read = |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
        SimStats {
            requests: read(&counters.requests),
            server_errors: read(&counters.server_errors),
            stalls: read(&counters.stalls),
            dropped_after_commit: read(&counters.dropped_after_commit),
            objects_created: read(&counters.objects_created),
        }
    }

    /// Stops accepting, lets open requests finish briefly, and waits for the
    /// server thread.
    pub fn shutdown(mut self) -> Result<(), SimError> {
        self.stop()
    }

    /// Blocks until SIGINT or SIGTERM or until the server stops by itself,
    /// then shuts down and returns what happened. For `dms-sim serve`:
    /// `ready` runs once the signals are caught, so a script that stops the
    /// simulator right after the ready line still gets a graceful stop.
    pub fn wait(mut self, ready: impl FnOnce(&SimHandle)) -> Result<SimStats, SimError> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(SimError::Runtime)?;
        let signalled = {
            let _context = runtime.enter();
            stop_signal()
        };
        ready(&self);
        let stopped = self.stopped.take();
        runtime.block_on(async move {
            let stopped = async move {
                if let Some(stopped) = stopped {
                    let _ = stopped.await;
                }
            };
            tokio::select! {
                () = signalled => {}
                () = stopped => {}
            }
        });
        self.stop()?;
        Ok(self.stats())
    }

    fn stop(&mut self) -> Result<(), SimError> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(true);
        }
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| SimError::Panicked)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            tracing::warn!(error = %error, "dms-sim did not stop cleanly");
        }
    }
}

/// Counts since a simulator started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SimStats {
    pub requests: u64,
    /// Requests answered with a simulated 503 at once.
    pub server_errors: u64,
    /// Requests that stalled, then got a 503.
    pub stalls: u64,
    /// Inserts committed whose connection was then dropped unanswered.
    pub dropped_after_commit: u64,
    pub objects_created: u64,
}

/// One stored object, as `scan2dms dms-sim dump --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DumpedObject {
    pub id: String,
    pub object_type: String,
    pub kind: ObjectKind,
    pub parent_id: Option<String>,
    pub fields: BTreeMap<String, String>,
    pub content_sha256: Option<String>,
    pub content_length: Option<u64>,
}

/// Every object in a simulator's data directory, in id order. Reads the
/// files, so it works with the simulator running or not.
pub fn dump(data_dir: &Path) -> Result<Vec<DumpedObject>, SimError> {
    let objects_dir = data_dir.join("objects");
    if !objects_dir.is_dir() {
        return Err(SimError::Io {
            path: objects_dir,
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "not a dms-sim data directory"),
        });
    }
    let objects = store::load_objects(data_dir)?;
    Ok(objects
        .into_iter()
        .map(|object| DumpedObject {
            id: object.id.to_string(),
            object_type: object.type_name,
            kind: object.kind,
            parent_id: object.parent_id.map(|id| id.to_string()),
            fields: object.fields,
            content_sha256: object.content.as_ref().map(|content| content.sha256.clone()),
            content_length: object.content.as_ref().map(|content| content.length),
        })
        .collect())
}

fn check_options(options: &SimOptions) -> Result<(), SimError> {
    let invalid = |field: &'static str, message: String| Err(SimError::Options { field, message });
    for (field, value) in [("fault_rate", options.fault_rate), ("drop_after_commit", options.drop_after_commit)] {
        if !(0.0..=1.0).contains(&value) {
            return invalid(field, format!("{value} is not between 0 and 1"));
        }
    }
    if options.user.is_empty() || options.user.contains(':') {
        return invalid("user", "must be non-empty and without ':'".to_owned());
    }
    for (index, def) in options.object_types.iter().enumerate() {
        if def.kind().is_none() {
            return invalid("object_types", format!("{} has id {}, of no known main type", def.name, def.id));
        }
        let clash = options.object_types[..index].iter().any(|other| other.name == def.name || other.id == def.id);
        if def.name.is_empty() || clash {
            return invalid("object_types", format!("{:?} (id {}) is empty or defined twice", def.name, def.id));
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM. The handlers are in place when this
/// returns, not first when the future is polled; needs a runtime context.
#[cfg(unix)]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let interrupt = signal(SignalKind::interrupt());
    let terminate = signal(SignalKind::terminate());
    async move {
        match (interrupt, terminate) {
            (Ok(mut interrupt), Ok(mut terminate)) => {
                tokio::select! {
                    _ = interrupt.recv() => {}
                    _ = terminate.recv() => {}
                }
            }
            _ => std::future::pending().await,
        }
    }
}

#[cfg(not(unix))]
fn stop_signal() -> impl std::future::Future<Output = ()> {
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
