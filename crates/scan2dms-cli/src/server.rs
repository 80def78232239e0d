//! The `serve` and `users` commands: the server over this data directory,
//! and the users who may call it.
//!
//! `serve` shares the store and the inbox with `scan2dms run`, which may
//! run in another process: uploads land in the inbox, retries in the store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use clap::{Args, Subcommand};
use scan2dms_config::PipelineConfig;
use scan2dms_runtime::now_ms;
use scan2dms_server::{AppState, Role, ServerOptions};
use scan2dms_store::{NewUser, StateStore, UserAdded};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; prints the base URL once listening.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Largest single-request upload (POST /api/batches); larger bags go
    /// through the resumable upload, up to limits.max_archive_bytes.
    #[arg(long, value_name = "BYTES", default_value_t = scan2dms_server::DEFAULT_MAX_PLAIN_UPLOAD_BYTES)]
    pub max_plain_upload_bytes: u64,
    /// Mark the session cookie Secure (when a reverse proxy serves HTTPS;
    /// implied by --tls-cert).
    #[arg(long)]
    pub secure_cookies: bool,
    /// Serve HTTPS with this PEM certificate chain, leaf first.
    #[arg(long, value_name = "FILE", env = "SCAN2DMS_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", env = "SCAN2DMS_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user; prints its token, once, alone on stdout.
    Add {
        #[arg(long)]
        name: String,
        /// contractor (uploads, sees its own batches) or staff (sees all, dashboard, retries).
        #[arg(long, value_parser = ["contractor", "staff"])]
        role: String,
    },
    /// Users with id, role and creation time (never their tokens).
    List,
}

pub fn serve(
    store: Arc<dyn StateStore>,
    config: PipelineConfig,
    data_dir: &Path,
    args: &ServeArgs,
) -> anyhow::Result<ExitCode> {
    let mut options = ServerOptions::from_config(&config);
    options.max_plain_upload_bytes = args.max_plain_upload_bytes.min(options.max_upload_bytes);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(scan2dms_server::tls_server_config(cert, key)?),
        _ => None,
    };
    options.secure_cookies = args.secure_cookies || tls.is_some();
    let state = AppState::new(store, config, data_dir, options);
    std::fs::create_dir_all(state.inbox_dir())
        .with_context(|| format!("cannot create the inbox {}", state.inbox_dir().display()))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("scan2dms-server")
        .build()
        .context("cannot start the server runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let address = listener.local_addr().context("listening address")?;
        let scheme = if tls.is_some() { "https" } else { "http" };
        println!("{scheme}://{address}");
        eprintln!(
            "serving uploads into {}; dashboard at {scheme}://{address}/ (staff token), stop with Ctrl-C",
            state.inbox_dir().display()
        );
        match tls {
            Some(tls) => scan2dms_server::serve_tls(listener, tls, state, shutdown_signal()).await,
            None => scan2dms_server::serve(listener, state, shutdown_signal()).await,
        }
        .context("server failed")
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The server beside `scan2dms run --listen`: on a thread of its own, with
/// its own runtime, until the run ends or a signal sets `shutdown`.
pub struct BesideRun {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for BesideRun {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BesideRun").finish_non_exhaustive()
    }
}

pub fn serve_beside_run(
    store: Arc<dyn StateStore>,
    config: PipelineConfig,
    data_dir: &Path,
    inbox_dir: &Path,
    listen: SocketAddr,
    shutdown: Arc<AtomicBool>,
) -> anyhow::Result<BesideRun> {
    let options = ServerOptions::from_config(&config);
    let state = AppState::with_inbox(store, config, data_dir, inbox_dir, options);
    // Bound here, so a taken port stops the run before it starts.
    let listener = std::net::TcpListener::bind(listen).with_context(|| format!("cannot listen on {listen}"))?;
    listener.set_nonblocking(true).context("listener")?;
    eprintln!("serving the API and dashboard at http://{}", listener.local_addr().context("listening address")?);
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    let thread = std::thread::Builder::new()
        .name("scan2dms-server".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
                Ok(runtime) => runtime,
                Err(error) => return eprintln!("error: cannot start the server runtime: {error}"),
            };
            let result = runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener)?;
                let until = async move {
                    while !stopped.load(Ordering::SeqCst) && !shutdown.load(Ordering::SeqCst) {
                        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                    }
                };
                scan2dms_server::serve(listener, state, until).await
            });
            if let Err(error) = result {
                eprintln!("error: the server stopped: {error}");
            }
        })
        .context("cannot start the server thread")?;
    Ok(BesideRun { stop, thread: Some(thread) })
}

impl Drop for BesideRun {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut terminate) => {
            tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            }
        }
        Err(_) => {
            let _ = interrupt.await;
        }
    }
}

pub fn users(store: &dyn StateStore, command: UsersCommand) -> anyhow::Result<ExitCode> {
    match command {
        UsersCommand::Add { name, role } => users_add(store, &name, &role),
        UsersCommand::List => {
            println!("{:<18} {:<11} {:<22} NAME", "ID", "ROLE", "CREATED");
            for user in store.users()? {
                let created = jiff::Timestamp::from_millisecond(user.created_at_ms)
                    .map(|at| at.round(jiff::Unit::Second).unwrap_or(at).to_string())
                    .unwrap_or_default();
                println!("{:<18} {:<11} {:<22} {}", user.user_id, user.role, created, user.name);
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn users_add(store: &dyn StateStore, name: &str, role: &str) -> anyhow::Result<ExitCode> {
    let role: Role = role.parse().map_err(anyhow::Error::msg)?;
    let name = name.trim();
    anyhow::ensure!(!name.is_empty(), "--name must not be empty");
    let token = scan2dms_server::new_token()?;
    let user = NewUser {
        user_id: token.user_id.clone(),
        name: name.to_owned(),
        role: role.as_str().to_owned(),
        token_hash: token.token_hash.clone(),
    };
    match store.add_user(&user, now_ms())? {
        UserAdded::Added(row) => {
            eprintln!(
                "user {:?} ({}) added as {}; the token below is shown only this once",
                row.name, row.role, row.user_id
            );
            println!("{}", token.token);
            Ok(ExitCode::SUCCESS)
        }
        UserAdded::NameTaken(existing) => {
            eprintln!(
                "error: a user named {:?} exists already (id {}, {})",
                existing.name, existing.user_id, existing.role
            );
            Ok(ExitCode::from(1))
        }
    }
}
