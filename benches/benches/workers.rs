//! Scale-out: throughput of one and of two single-threaded `scan2dms worker`
//! processes sharing a PostgreSQL store, and the cost of PostgreSQL against
//! the embedded SQLite store, on the same batches in one run.
//!
//! Run: `cargo bench -p scan2dms-benches --bench workers`
//! (`SCAN2DMS_BENCH_PAGES`, default 100: whole accepted batches of the
//! shared corpus are taken until at least that many pages are in;
//! `SCAN2DMS_BENCH_POSTGRES_URL`, default `SCAN2DMS_TEST_POSTGRES_URL` or
//! `postgres://postgres@127.0.0.1:5432/test`: a database the bench may
//! create and drop databases from; `SCAN2DMS_BENCH_ROUNDS`, default 2).
//!
//! Each setup starts from a fresh data directory (and a fresh database):
//! the batches are registered and validated first (`run --once
//! --stages=validate`, not timed), then the timed part starts the workers
//! at once, each `worker --once --stages=ocr,efile` with `ocr.threads = 1`,
//! and ends when the last has exited: OCR and e-files of every page, with
//! every claim, lease renewal and result going through the store.
//! - 1 worker on SQLite, 1 worker on PostgreSQL: the difference per page is
//!   the store's overhead (it is small next to OCR, so it is a difference of
//!   two noisy times; the rounds show the spread);
//! - 2 workers on PostgreSQL: the scale-out, against 1 worker on PostgreSQL.
//!
//! Setups alternate within a round so a burst of load hits all alike; the
//! medians are reported. It asserts nothing; it prints a table and writes
//! `target/bench-results/workers.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Instant;

use scan2dms_benches::{accepted_batches, batch_id, copy_tree, median, page_count};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DEFAULT_PAGES: usize = 100;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Store {
    Sqlite,
    Postgres,
}

struct Setup {
    name: &'static str,
    store: Store,
    workers: usize,
}

const SETUPS: [Setup; 3] = [
    Setup { name: "1 worker, SQLite", store: Store::Sqlite, workers: 1 },
    Setup { name: "1 worker, PostgreSQL", store: Store::Postgres, workers: 1 },
    Setup { name: "2 workers, PostgreSQL", store: Store::Postgres, workers: 2 },
];

fn main() -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace")?.to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let wanted: usize =
        std::env::var("SCAN2DMS_BENCH_PAGES").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_PAGES);
    let rounds: usize =
        std::env::var("SCAN2DMS_BENCH_ROUNDS").ok().and_then(|value| value.parse().ok()).unwrap_or(2).max(1);
    let admin_url = std::env::var("SCAN2DMS_BENCH_POSTGRES_URL")
        .or_else(|_| std::env::var("SCAN2DMS_TEST_POSTGRES_URL"))
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let deliveries = workspace.join("../shared/corpus/deliveries");
    let truths = accepted_batches(&deliveries, wanted)?;
    let batches: Vec<String> = truths.iter().map(batch_id).collect();
    let pages: usize = truths.iter().map(page_count).sum();
    println!("{pages} pages in {} batches from {}", batches.len(), deliveries.display());

    let status =
        Command::new("cargo").args(["build", "--release", "-p", "scan2dms-cli"]).current_dir(&workspace).status()?;
    if !status.success() {
        return Err("cargo build --release -p scan2dms-cli failed".into());
    }
    let binary = target.join("release/scan2dms");
    let work = target.join("bench-data/workers");

    let mut times: Vec<Vec<f64>> = vec![Vec::new(); SETUPS.len()];
    for round in 0..rounds {
        for (index, setup) in SETUPS.iter().enumerate() {
            let secs = run_setup(&binary, &work, &deliveries, &batches, setup, &admin_url)?;
            println!("round {}: {:<22} {secs:.1} s", round + 1, setup.name);
            times[index].push(secs);
        }
    }
    let medians: Vec<f64> = times.iter_mut().map(|secs| median(secs)).collect();
    let rate = |secs: f64| pages as f64 / secs;
    println!();
    println!("{:<24} {:>9} {:>11}", "setup", "seconds", "pages/s");
    for (setup, secs) in SETUPS.iter().zip(&medians) {
        println!("{:<24} {:>9.1} {:>11.2}", setup.name, secs, rate(*secs));
    }
    let scale_out = medians[1] / medians[2];
    let overhead_ms = (medians[1] - medians[0]) * 1000.0 / pages as f64;
    println!("2 workers / 1 worker (PostgreSQL): {scale_out:.2}x");
    println!("PostgreSQL - SQLite, 1 worker:     {overhead_ms:+.1} ms per page");

    let results = target.join("bench-results");
    fs::create_dir_all(&results)?;
    let json = serde_json::json!({
        "pages": pages,
        "batches": batches,
        "rounds": rounds,
        "setups": SETUPS.iter().zip(&times).zip(&medians).map(|((setup, all), secs)| serde_json::json!({
            "name": setup.name, "seconds": all, "median_seconds": secs, "pages_per_second": rate(*secs),
        })).collect::<Vec<_>>(),
        "scale_out_2_vs_1": scale_out,
        "postgres_overhead_ms_per_page": overhead_ms,
    });
    fs::write(results.join("workers.json"), serde_json::to_vec_pretty(&json)?)?;
    Ok(())
}

/// One timed run of a setup on fresh state; its wall seconds.
fn run_setup(
    binary: &Path,
    work: &Path,
    deliveries: &Path,
    batches: &[String],
    setup: &Setup,
    admin_url: &str,
) -> Result<f64> {
    let _ = fs::remove_dir_all(work);
    let (data_dir, inbox) = (work.join("data"), work.join("inbox"));
    fs::create_dir_all(&inbox)?;
    for batch in batches {
        copy_tree(&deliveries.join("batches").join(batch), &inbox.join(batch))?;
    }
    let database = match setup.store {
        Store::Sqlite => None,
        Store::Postgres => Some(Database::create(admin_url)?),
    };
    let store_url = database.as_ref().map_or_else(|| "sqlite://state.db".to_owned(), |database| database.url.clone());
    let config = work.join("pipeline.toml");
    fs::write(
        &config,
        format!(
            "[intake]\nsettle_secs = 0\npoll_interval_ms = 100\n[store]\nurl = \"{store_url}\"\n[ocr]\nthreads = 1\n"
        ),
    )?;
    let scan2dms = || {
        let mut command = Command::new(binary);
        command.arg("--data-dir").arg(&data_dir).arg("--config").arg(&config);
        command
    };
    let mut orders: Vec<PathBuf> =
        fs::read_dir(deliveries.join("orders"))?.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
    orders.sort();
    check(scan2dms().args(["orders", "import"]).args(&orders).output()?, "orders import")?;
    check(
        scan2dms().args(["run", "--once", "--stages=validate", "--inbox"]).arg(&inbox).output()?,
        "validation before the timed part",
    )?;

    let started = Instant::now();
    let workers: Vec<Child> = (0..setup.workers)
        .map(|_| {
            scan2dms()
                .args(["worker", "--once", "--stages=ocr,efile"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
        })
        .collect::<std::io::Result<_>>()?;
    for mut worker in workers {
        let status = worker.wait()?;
        if !status.success() {
            return Err(format!("{}: a worker ended with {status}", setup.name).into());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let listing = scan2dms().args(["batches", "--json"]).output()?;
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&listing.stdout)?;
    let waiting = rows.iter().filter(|row| row["state"] != "push_pending").count();
    if waiting > 0 {
        return Err(format!("{}: {waiting} batch(es) did not reach push_pending", setup.name).into());
    }
    drop(database);
    Ok(secs)
}

fn check(output: std::process::Output, what: &str) -> Result<()> {
    if output.status.success() {
        return Ok(());
    }
    Err(format!("{what} failed: {}", String::from_utf8_lossy(&output.stderr)).into())
}

/// A database of its own for one setup, dropped afterwards.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    fn create(admin_url: &str) -> Result<Database> {
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis();
        let name = format!("scan2dms_bench_{}_{started}", std::process::id());
        psql(admin_url, &format!("CREATE DATABASE {name}"))?;
        let (base, query) = admin_url.split_once('?').unwrap_or((admin_url, ""));
        let (server, _) = base.rsplit_once('/').ok_or("a database URL ends in /DATABASE")?;
        let url = if query.is_empty() { format!("{server}/{name}") } else { format!("{server}/{name}?{query}") };
        Ok(Database { admin_url: admin_url.to_owned(), name, url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = psql(&self.admin_url, &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
    }
}

fn psql(url: &str, sql: &str) -> Result<()> {
    let output = Command::new("psql").arg(url).args(["-v", "ON_ERROR_STOP=1", "-qc", sql]).output()?;
    check(output, sql)
}
