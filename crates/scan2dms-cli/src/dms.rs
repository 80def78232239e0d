//! Picking the DMS adapter from the configuration, and the `dms` and
//! `dms-sim` commands.
//!
//! With `dms.target = "simulator"` (the default) `run` starts the built-in
//! stand-in for enaio in-process, on a free port of 127.0.0.1, with its data
//! under `<data dir>/dms-sim`, and talks to it through the real enaio
//! client, so the default run exercises the same code as production.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use scan2dms_config::{DmsConfig, DmsTargetConfig, PipelineConfig};
use scan2dms_dms::{DmsTarget, EnaioClient, EnaioSettings, RetryPolicy, XdomeaExport, XdomeaSettings};
use scan2dms_dms_sim::{SimHandle, SimOptions, Simulator};

/// A DMS to push to, and the simulator behind it when it is the built-in one.
pub struct Connection {
    pub target: Arc<dyn DmsTarget>,
    /// Where the target is, for messages.
    pub location: String,
    /// Keeps the in-process simulator running while the connection lives.
    _simulator: Option<SimHandle>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection").field("location", &self.location).finish_non_exhaustive()
    }
}

/// The simulator's credentials when it runs in-process: only this process
/// talks to it, so they only have to match.
const BUILT_IN_USER: &str = "scan2dms";
const BUILT_IN_PASSWORD: &str = "scan2dms-built-in";

pub fn connect(config: &PipelineConfig, data_dir: &Path) -> anyhow::Result<Connection> {
    let dms = &config.dms;
    match &dms.target {
        DmsTargetConfig::Simulator => {
            let mut options = SimOptions::new(data_dir.join("dms-sim"));
            options.user = BUILT_IN_USER.to_owned();
            options.password = BUILT_IN_PASSWORD.to_owned();
            let simulator = Simulator::start(options).context("cannot start the built-in dms simulator")?;
            let url = simulator.base_url();
            let client = EnaioClient::new(settings(dms, &url, BUILT_IN_USER, BUILT_IN_PASSWORD))
                .context("dms client for the built-in simulator")?;
            Ok(Connection {
                target: Arc::new(client),
                location: format!("built-in dms simulator at {url} (data in {})", data_dir.join("dms-sim").display()),
                _simulator: Some(simulator),
            })
        }
        DmsTargetConfig::Enaio { url } => {
            let client = EnaioClient::new(settings(dms, url, &dms.user, &dms.password))
                .with_context(|| format!("dms client for {url}"))?;
            Ok(Connection { target: Arc::new(client), location: format!("enaio at {url}"), _simulator: None })
        }
        DmsTargetConfig::Xdomea { dir, sender, receiver } => {
            let out_dir = data_dir.join(dir);
            std::fs::create_dir_all(&out_dir)
                .with_context(|| format!("cannot create the xdomea directory {}", out_dir.display()))?;
            let export = XdomeaExport::new(XdomeaSettings {
                out_dir: out_dir.clone(),
                sender_code: sender.clone(),
                receiver_code: receiver.clone(),
                ..XdomeaSettings::default()
            })
            .context("xdomea export")?;
            Ok(Connection {
                target: Arc::new(export),
                location: format!("xdomea 0401 packages in {}", out_dir.display()),
                _simulator: None,
            })
        }
    }
}

fn settings(dms: &DmsConfig, url: &str, user: &str, password: &str) -> EnaioSettings {
    EnaioSettings {
        base_url: url.to_owned(),
        user: user.to_owned(),
        password: password.to_owned(),
        folder_type: dms.folder_type.clone(),
        register_type: dms.register_type.clone(),
        document_type: dms.document_type.clone(),
        folder_key_field: dms.folder_key_field.clone(),
        register_name_field: dms.register_name_field.clone(),
        external_id_field: dms.external_id_field.clone(),
        field_names: dms.fields.clone(),
        request_timeout: Duration::from_secs(dms.request_timeout_secs),
        rate_limit_per_sec: dms.rate_limit_per_sec,
        max_concurrent_requests: dms.max_concurrent_requests,
        retry: RetryPolicy { max_attempts: dms.max_attempts, ..RetryPolicy::default() },
    }
}

/// `scan2dms dms check`: the target answers, accepts the credentials and
/// knows the configured object types.
pub fn check(config: &PipelineConfig, data_dir: &Path) -> anyhow::Result<ExitCode> {
    let connection = connect(config, data_dir)?;
    println!("target: {}", connection.location);
    let dms = &config.dms;
    println!(
        "mapping: folder {} (key {}), register {} (name {}, documents into {:?}), document {} (external id {})",
        dms.folder_type,
        dms.folder_key_field,
        dms.register_type,
        dms.register_name_field,
        dms.register,
        dms.document_type,
        dms.external_id_field
    );
    for (ours, theirs) in &dms.fields {
        println!("field: {ours} -> {theirs}");
    }
    let policy = RetryPolicy { max_attempts: config.dms.max_attempts, ..RetryPolicy::default() };
    match scan2dms_dms::check_health(&*connection.target, &policy, &scan2dms_dms::thread_sleep) {
        Ok(health) => {
            println!(
                "ok: object types {} known; round trip {} ms",
                health.object_types.join(", "),
                health.round_trip.as_millis()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(error) => {
            println!("failed: {error}");
            Ok(ExitCode::from(1))
        }
    }
}

/// What `dms-sim serve` takes.
#[derive(Debug)]
pub struct ServeOptions {
    pub listen: SocketAddr,
    pub user: String,
    pub password: String,
    pub fault_rate: f64,
    pub drop_after_commit: f64,
    pub latency_ms: u64,
    pub seed: u64,
}

pub fn sim_serve(data_dir: &Path, options: ServeOptions) -> anyhow::Result<ExitCode> {
    let mut sim = SimOptions::new(PathBuf::from(data_dir));
    sim.listen = options.listen;
    sim.user = options.user;
    sim.password = options.password;
    sim.fault_rate = options.fault_rate;
    sim.drop_after_commit = options.drop_after_commit;
    sim.latency_ms = options.latency_ms;
    sim.seed = options.seed;
    let handle = Simulator::start(sim).context("cannot start the dms simulator")?;
    let stats = handle
        .wait(|handle| {
            // Scripts wait for this line to learn the address (port 0 picks one).
            println!("dms-sim listening on {} (data in {})", handle.base_url(), data_dir.display());
        })
        .context("dms simulator")?;
    println!(
        "dms-sim stopped: {} requests, {} answered 503, {} stalled, {} dropped after commit, {} objects created",
        stats.requests, stats.server_errors, stats.stalls, stats.dropped_after_commit, stats.objects_created
    );
    Ok(ExitCode::SUCCESS)
}

pub fn sim_dump(data_dir: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let objects =
        scan2dms_dms_sim::dump(data_dir).with_context(|| format!("dms-sim data in {}", data_dir.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&objects)?);
        return Ok(ExitCode::SUCCESS);
    }
    for object in &objects {
        println!("{}", serde_json::to_string(object)?);
    }
    Ok(ExitCode::SUCCESS)
}
