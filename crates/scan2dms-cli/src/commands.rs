//! One function per subcommand.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail};
use scan2dms_config::{PipelineConfig, StoreConfig};
use scan2dms_core::{BatchState, Event, Stage};
use scan2dms_delivery::{DirectoryOrderBook, OrderBook, read_order_list, validate_delivery};
use scan2dms_model::{AcceptanceReport, Finding, ReasonCode};
use scan2dms_runtime::{Pipeline, RunOptions, StoreOrderBook, now_ms, unpack_archive, validate_options};
use scan2dms_store::{NewOrder, NewOrderRecord, SqliteStore, StateStore};

use crate::output::{self, ProgressObserver};
use crate::{BagCommand, ClassifyCommand, Cli, Command, DmsCommand, DmsSimCommand, OrdersCommand, ReviewCommand};

pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    // Listings piped into `head` end quietly when the reader goes away,
    // as other Unix tools do. Long-running commands (run, serve, dms-sim
    // serve) keep Rust's default, so a closed connection is an error they
    // handle, never a signal that kills them.
    let long_running = matches!(
        cli.command,
        Command::Run { .. } | Command::Worker { .. } | Command::Serve(_) | Command::DmsSim(DmsSimCommand::Serve { .. })
    );
    if !long_running {
        sigpipe::reset();
    }
    let config = load_config(cli.config.as_deref())?;
    // The flag (or its variable) wins over the file, the file over the default.
    let data_dir = cli.data_dir.clone().or_else(|| config.data_dir.clone()).unwrap_or_else(|| "./scan2dms-data".into());
    match cli.command {
        Command::Orders(OrdersCommand::Import { files }) => orders_import(&open_store(&config, &data_dir)?, &files),
        Command::Orders(OrdersCommand::List { json }) => orders_list(&*open_store(&config, &data_dir)?, json),
        Command::Validate { path, orders, json } => validate(&config, &data_dir, &path, orders.as_deref(), json),
        Command::Bag(BagCommand::Validate { path, json }) => bag_validate(&config, &path, json),
        Command::Run { inbox, work, listen } => run(config, &data_dir, Intake::Inbox(inbox), &work, listen),
        Command::Worker { inbox, work } => {
            let intake = inbox.map_or(Intake::None, |inbox| Intake::Inbox(Some(inbox)));
            run(config, &data_dir, intake, &work, None)
        }
        Command::Documents { batch, json } => {
            output::documents(&*open_store(&config, &data_dir)?, batch.as_deref(), json)
        }
        Command::Status { json } => output::status(&*open_store(&config, &data_dir)?, json),
        Command::Batches { state, json } => {
            if let Some(state) = &state {
                state.parse::<BatchState>().map_err(anyhow::Error::msg)?;
            }
            output::batches(&*open_store(&config, &data_dir)?, state.as_deref(), json)
        }
        Command::Report { batch, json } => report(&*open_store(&config, &data_dir)?, &batch, json),
        Command::Events { batch, json } => output::events(&*open_store(&config, &data_dir)?, &batch, json),
        Command::Retry { batch, from_stage } => retry(config, &data_dir, &batch, from_stage.as_deref()),
        Command::Serve(args) => crate::server::serve(open_store(&config, &data_dir)?, config, &data_dir, &args),
        Command::Users(command) => crate::server::users(&*open_store(&config, &data_dir)?, command),
        Command::Dms(DmsCommand::Check) => crate::dms::check(&config, &data_dir),
        Command::Classify(ClassifyCommand::Train { data, out }) => {
            crate::review::train_model(&config, &data_dir, &data, out)
        }
        Command::Classify(ClassifyCommand::Check) => crate::review::check_model(&config, &data_dir),
        Command::Review(ReviewCommand::List { json }) => crate::review::list(&*open_store(&config, &data_dir)?, json),
        Command::Review(ReviewCommand::Show { document }) => {
            crate::review::show(&*open_store(&config, &data_dir)?, &document)
        }
        Command::Review(ReviewCommand::Decide { document, doc_type, by }) => {
            crate::review::decide(&*open_store(&config, &data_dir)?, &document, &doc_type, by)
        }
        Command::DmsSim(DmsSimCommand::Serve {
            listen,
            user,
            password,
            fault_rate,
            drop_after_commit,
            latency_ms,
            seed,
        }) => crate::dms::sim_serve(
            &data_dir,
            crate::dms::ServeOptions { listen, user, password, fault_rate, drop_after_commit, latency_ms, seed },
        ),
        Command::DmsSim(DmsSimCommand::Dump { json }) => crate::dms::sim_dump(&data_dir, json),
    }
}

fn load_config(path: Option<&Path>) -> anyhow::Result<PipelineConfig> {
    let Some(path) = path else { return Ok(scan2dms_config::defaults()) };
    Ok(scan2dms_config::from_file(path)?)
}

fn open_store(config: &PipelineConfig, data_dir: &Path) -> anyhow::Result<Arc<dyn StateStore>> {
    match &config.store {
        StoreConfig::Sqlite { path } => {
            std::fs::create_dir_all(data_dir)
                .with_context(|| format!("cannot create data directory {}", data_dir.display()))?;
            Ok(Arc::new(SqliteStore::open(&data_dir.join(path))?))
        }
        StoreConfig::Postgres { url } => Ok(Arc::new(scan2dms_store::PostgresStore::open(url)?)),
    }
}

fn orders_import(store: &Arc<dyn StateStore>, files: &[PathBuf]) -> anyhow::Result<ExitCode> {
    // Parse all first: one broken list stops the import before anything is written.
    let mut lists = Vec::new();
    let mut problems = Vec::new();
    for file in files {
        match read_order_list(file) {
            Ok(list) => lists.push((file, list)),
            Err(error) => problems.push(error.to_string()),
        }
    }
    if !problems.is_empty() {
        bail!("nothing imported:\n{}", problems.join("\n"));
    }
    for (file, list) in lists {
        let order = NewOrder {
            order_id: list.order_id.clone(),
            series: list.series,
            source: file.display().to_string(),
            records: list
                .records
                .into_iter()
                .map(|record| NewOrderRecord {
                    record_id: record.record_id,
                    title: record.title,
                    box_id: record.box_id,
                })
                .collect(),
        };
        let summary = store.import_order(&order, now_ms()).with_context(|| format!("importing {}", file.display()))?;
        println!(
            "order {} ({}): {} added, {} updated, {} unchanged",
            order.order_id, order.series, summary.added, summary.updated, summary.unchanged
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn orders_list(store: &dyn StateStore, json: bool) -> anyhow::Result<ExitCode> {
    output::orders(store, json)?;
    Ok(ExitCode::SUCCESS)
}

fn validate(
    config: &PipelineConfig,
    data_dir: &Path,
    path: &Path,
    orders: Option<&Path>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let store;
    let directory_book;
    let book: &dyn OrderBook = match orders {
        Some(dir) => {
            directory_book = DirectoryOrderBook::read(dir).map_err(|error| anyhow::anyhow!("{error}"))?;
            &directory_book
        }
        None => {
            // Stateless means no side effects: use the store's orders only
            // when there is a store, never create one.
            if let StoreConfig::Sqlite { path } = &config.store
                && !data_dir.join(path).exists()
            {
                bail!(
                    "no orders to check against: pass --orders DIR, or import orders into {} first",
                    data_dir.display()
                );
            }
            store = open_store(config, data_dir)?;
            &StoreOrderBook(&*store)
        }
    };
    let unpacked = tempfile::tempdir().context("cannot create a temporary directory")?;
    let bag_dir = match unpack_for_check(config, path, unpacked.path())? {
        Ok(bag_dir) => bag_dir,
        Err(reason) => {
            let name = path.file_stem().map(|stem| stem.to_string_lossy().into_owned()).unwrap_or_default();
            let report = AcceptanceReport::new(name, vec![reason], Vec::new());
            output::print_report(&report, &[], json)?;
            return Ok(ExitCode::from(1));
        }
    };
    let progress = output::spinner(&format!("validating {}", path.display()));
    let result = validate_delivery(&bag_dir, book, &validate_options(config));
    progress.finish_and_clear();
    let validation = result?;
    // Without a store the history check is off; `--orders` makes that explicit.
    let notes = if orders.is_some() { validation.notes.clone() } else { Vec::new() };
    output::print_report(&validation.report, &notes, json)?;
    Ok(if validation.report.is_accepted() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A directory as it is, an archive unpacked (with the pipeline's limits).
fn unpack_for_check(
    config: &PipelineConfig,
    path: &Path,
    into: &Path,
) -> anyhow::Result<Result<PathBuf, Finding<ReasonCode>>> {
    let metadata = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
    if metadata.is_dir() {
        return Ok(Ok(path.to_owned()));
    }
    unpack_archive(config, path, into).map_err(anyhow::Error::msg)
}

fn bag_validate(config: &PipelineConfig, path: &Path, json: bool) -> anyhow::Result<ExitCode> {
    let threads = (config.validation.threads > 0).then_some(config.validation.threads);
    let progress = output::spinner(&format!("checking {}", path.display()));
    let result = scan2dms_bagit::validate_bag(path, &scan2dms_bagit::ValidateOptions { threads });
    progress.finish_and_clear();
    let report = result?;
    if json {
        println!("{}", serde_json::to_string_pretty(&output::BagJson::from(&report))?);
    } else if report.is_valid() {
        let (octets, files) = report.payload_oxum();
        println!("{}: valid bag ({files} payload files, {octets} bytes)", path.display());
    } else {
        println!("{}: invalid bag ({} problems)", path.display(), report.findings.len());
        for finding in &report.findings {
            println!("  - {finding}");
        }
    }
    Ok(if report.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Where a run takes deliveries from.
enum Intake {
    /// This inbox, or the configured one.
    Inbox(Option<PathBuf>),
    /// None: another process of the deployment takes them.
    None,
}

fn run(
    config: PipelineConfig,
    data_dir: &Path,
    intake: Intake,
    work: &crate::WorkArgs,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<ExitCode> {
    let once = work.once;
    let stages = if work.stages.is_empty() {
        RunOptions::all_stages()
    } else {
        work.stages
            .iter()
            .map(|stage| stage.parse::<Stage>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?
    };
    let store = open_store(&config, data_dir)?;
    let (inbox, takes_deliveries) = match intake {
        Intake::Inbox(inbox) => (inbox, true),
        Intake::None => (None, false),
    };
    let inbox_dir = inbox.unwrap_or_else(|| data_dir.join(&config.intake.inbox_dir));
    let shutdown = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&shutdown)).context("cannot install signal handlers")?;
    }
    let _server = listen
        .map(|listen| {
            let store = Arc::clone(&store);
            crate::server::serve_beside_run(store, config.clone(), data_dir, &inbox_dir, listen, Arc::clone(&shutdown))
        })
        .transpose()?;
    let needs_dms = stages.iter().any(|stage| matches!(stage, Stage::Push | Stage::Verify));
    let connection = if needs_dms { Some(crate::dms::connect(&config, data_dir)?) } else { None };
    let mut pipeline = Pipeline::new(store, config, data_dir);
    if let Some(connection) = &connection {
        // A DMS that does not answer must not stop intake, validation and OCR:
        // batches wait in push_pending until it is back.
        let policy = scan2dms_dms::RetryPolicy {
            max_attempts: pipeline.config.dms.max_attempts,
            ..scan2dms_dms::RetryPolicy::default()
        };
        match scan2dms_dms::check_health(&*connection.target, &policy, &scan2dms_dms::thread_sleep) {
            Ok(_) => pipeline = pipeline.with_dms(Arc::clone(&connection.target)),
            Err(error) => eprintln!(
                "warning: {} failed its health check ({error}); documents wait in push_pending \
                 (`scan2dms dms check` tells more)",
                connection.location
            ),
        }
    }
    let observer = ProgressObserver::new();
    let options = RunOptions { inbox_dir: inbox_dir.clone(), intake: takes_deliveries, once, stages };
    let summary = pipeline.run(&options, &shutdown, &observer)?;
    observer.finish();
    println!(
        "inbox {}: {} registered, {} refused; {} accepted, {} rejected, {} failed",
        inbox_dir.display(),
        summary.registered,
        summary.refused,
        summary.accepted,
        summary.rejected,
        summary.failed
    );
    let waiting = pipeline.store.batches(Some("push_pending"))?.len();
    let in_review = pipeline.store.review_queue()?.len();
    if in_review > 0 {
        println!("{in_review} document(s) wait for review (`scan2dms review list`); their batches are filed after");
    }
    if waiting > 0 {
        println!("{waiting} batch(es) with e-files wait for the DMS push");
    }
    if let Some(connection) = &connection {
        let done = pipeline.store.batches(Some("done"))?.len();
        println!("dms: {}; {done} batch(es) done, every document verified", connection.location);
    }
    println!("reports: {}", pipeline.reports_dir().display());
    Ok(ExitCode::SUCCESS)
}

fn report(store: &dyn StateStore, batch_id: &str, json: bool) -> anyhow::Result<ExitCode> {
    let Some(row) = store.batch(batch_id)? else { bail!("batch {batch_id} is not registered") };
    let Some(report) = store.report(batch_id)? else {
        bail!("batch {batch_id} has no report yet (state {})", row.batch.state);
    };
    output::print_report(&report, &[], json)?;
    Ok(ExitCode::SUCCESS)
}

fn retry(
    config: PipelineConfig,
    data_dir: &Path,
    batch_id: &str,
    from_stage: Option<&str>,
) -> anyhow::Result<ExitCode> {
    let store = open_store(&config, data_dir)?;
    let from = from_stage.map(str::parse::<Stage>).transpose().map_err(anyhow::Error::msg)?;
    let Some(row) = store.batch(batch_id)? else { bail!("batch {batch_id} is not registered") };
    let pipeline = Pipeline::new(store, config, data_dir);
    let next = pipeline
        .apply(&row, &Event::RetryRequested { from })
        .with_context(|| format!("batch {batch_id} cannot be retried from state {}", row.batch.state))?;
    println!("batch {batch_id}: {} -> {}; `scan2dms run` picks it up", row.batch.state, next.state);
    Ok(ExitCode::SUCCESS)
}
