//! `scan2dms`: the operator's command line.
//!
//! A thin binary: it parses arguments, picks the adapters (the SQLite store,
//! the DMS target), hands work to the library crates and maps results to exit codes a
//! script can rely on. Output meant for machines comes with `--json`; people
//! get plain text, and progress on a terminal.

mod commands;
mod dms;
mod output;
mod review;
mod server;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Move a city's scanned paper files into its DMS: complete, correct,
/// searchable and audit-proof.
#[derive(Debug, Parser)]
#[command(name = "scan2dms", version, about)]
pub struct Cli {
    /// State database and work area [default: store.data_dir of the config,
    /// else ./scan2dms-data].
    #[arg(long, global = true, value_name = "DIR", env = "SCAN2DMS_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Configuration file (default: built-in defaults, see pipeline.toml).
    #[arg(long, global = true, value_name = "FILE", env = "SCAN2DMS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log filter for stderr, e.g. `info` or `scan2dms_runtime=debug`.
    #[arg(long, global = true, value_name = "FILTER", env = "SCAN2DMS_LOG", default_value = "warn")]
    pub log: String,
    #[command(subcommand)]
    pub command: Command,
}

/// What `run` and `worker` share: how long to go on and which stages.
#[derive(Debug, clap::Args)]
pub struct WorkArgs {
    /// Exit when nothing is left to do (with an inbox: take everything in it now).
    #[arg(long)]
    pub once: bool,
    /// Run only these stages (comma-separated: validate,ocr,efile,push,verify); default all.
    #[arg(long, value_name = "STAGES", value_delimiter = ',')]
    pub stages: Vec<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Order lists from the city.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Check one delivery without registering it; prints the acceptance report.
    /// Exit 0 accepted, 1 rejected, 2 could not run.
    Validate {
        /// A bag directory, .zip or .tar.
        path: PathBuf,
        /// Directory of <order_id>.csv order lists (default: orders in the state store).
        #[arg(long, value_name = "DIR")]
        orders: Option<PathBuf>,
        #[arg(long)]
        json: bool,
    },
    /// Plain BagIt (RFC 8493) checks of any bag.
    #[command(subcommand)]
    Bag(BagCommand),
    /// Take deliveries from the inbox and run them through the pipeline.
    Run {
        /// Inbox directory (default: intake.inbox_dir of the config, inside the data directory).
        #[arg(long, value_name = "DIR")]
        inbox: Option<PathBuf>,
        #[command(flatten)]
        work: WorkArgs,
        /// Also serve the upload API and dashboard (see `serve`) while running.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Run stages of batches from a shared store, beside other workers on
    /// this and other hosts (see docs/deploy.md); takes no deliveries
    /// unless given an inbox. Stops on SIGINT or SIGTERM.
    Worker {
        /// Also take deliveries from this inbox (one process of a deployment does).
        #[arg(long, value_name = "DIR")]
        inbox: Option<PathBuf>,
        #[command(flatten)]
        work: WorkArgs,
    },
    /// Documents of processed batches: pages, OCR text, e-file.
    Documents {
        /// Only the documents of this batch.
        #[arg(long, value_name = "ID")]
        batch: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Batches per state and progress per order.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// List batches.
    Batches {
        /// Only batches in this state (e.g. received, rejected, accepted, done).
        #[arg(long, value_name = "STATE")]
        state: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// The acceptance report of a batch.
    Report {
        batch: String,
        #[arg(long)]
        json: bool,
    },
    /// The processing record (event log) of a batch.
    Events {
        batch: String,
        #[arg(long)]
        json: bool,
    },
    /// The DMS target of the configuration.
    #[command(subcommand)]
    Dms(DmsCommand),
    /// The document type classifier.
    #[command(subcommand)]
    Classify(ClassifyCommand),
    /// Documents the classifier was unsure of: list, look, decide.
    #[command(subcommand)]
    Review(ReviewCommand),
    /// A DMS speaking the enaio DMS-service contract, standing in for enaio
    /// in tests and demos. Its data lives in --data-dir.
    #[command(subcommand, name = "dms-sim")]
    DmsSim(DmsSimCommand),
    /// Serve the contractor upload API, the status API, the staff dashboard and metrics.
    Serve(server::ServeArgs),
    /// Users of the server (contractors and staff) and their tokens.
    #[command(subcommand)]
    Users(server::UsersCommand),
    /// Run a failed or rejected batch again.
    Retry {
        batch: String,
        /// Stage to start from (validate, ocr, efile, push, verify); default the stage that failed.
        #[arg(long, value_name = "STAGE")]
        from_stage: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Import order lists (<order_id>.csv); re-importing adds and updates, never removes.
    Import {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Orders with their delivery progress.
    List {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ClassifyCommand {
    /// Train a model on labelled documents (the truth/*.json of generated
    /// deliveries) and write it to classify.model (or --out).
    Train {
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Load the configured model and say what it knows.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// Documents waiting for a decision, oldest batch first.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One document: the classifier's guess, key fields, page texts.
    Show {
        /// BATCH/RECORD/DOCUMENT, e.g. SSN-0001-001/PN-123456/2
        document: String,
    },
    /// Decide a document's type; it is filed on the next run.
    Decide {
        document: String,
        #[arg(long = "type", value_name = "TYPE")]
        doc_type: String,
        /// Who decides (default cli:$USER).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DmsCommand {
    /// Health (reachable, credentials, object types) and the field mapping.
    /// Exit 0 healthy, 1 not, 2 could not run.
    Check,
}

#[derive(Debug, Subcommand)]
pub enum DmsSimCommand {
    /// Serve until SIGINT or SIGTERM; prints the base URL first.
    Serve {
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8480")]
        listen: std::net::SocketAddr,
        #[arg(long, default_value = "scan2dms")]
        user: String,
        #[arg(long, default_value = "scan2dms", env = "SCAN2DMS_DMS_SIM_PASSWORD")]
        password: String,
        /// Share of requests (0 to 1) answered 503 at once or after a stall.
        #[arg(long, value_name = "F", default_value_t = 0.0)]
        fault_rate: f64,
        /// Share of inserts (0 to 1) committed and then left unanswered.
        #[arg(long, value_name = "F", default_value_t = 0.0)]
        drop_after_commit: f64,
        /// Delay added to every response.
        #[arg(long, value_name = "N", default_value_t = 0)]
        latency_ms: u64,
        /// Seed of the fault schedule.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Every stored object: type, parent, index fields, content SHA-256.
    Dump {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum BagCommand {
    /// Validate a bag per RFC 8493. Exit 0 valid, 1 invalid, 2 could not run.
    Validate {
        path: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    // Tesseract's OpenMP threads make a page about 5x slower here; libgomp
    // reads the limit when it loads, so the process restarts itself with it.
    if let Err(error) = scan2dms_ocr::ensure_single_threaded_openmp() {
        eprintln!("error: cannot restart with OMP_THREAD_LIMIT=1: {error}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    match commands::dispatch(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
