//! Bag validation throughput: scan2dms against bagit-python, openssl and
//! sha256sum, on one ≥ 1 GB bag with the page cache warm.
//!
//! Run: `cargo bench -p scan2dms-benches --bench bag_validate`
//!
//! Key decisions:
//! - The bag is generated once by this bench (deterministic pseudo-random
//!   payload, 50 KB–20 MB per file, sha256 manifest and tag manifest, correct
//!   Payload-Oxum) and cached in `target/bench-data/`; a marker file beside it
//!   records the generation parameters, so changing them regenerates it.
//! - Every tool reads the same warm page cache: the bag is read once before
//!   any timing; each tool runs 3 times (`SCAN2DMS_BENCH_REPETITIONS`),
//!   round-robin across tools, and the median wall time counts.
//! - `scan2dms` is the release binary `target/release/scan2dms bag validate`
//!   (built here with `cargo build --release -p scan2dms-cli`). When it cannot
//!   be built, the library is the stand-in, and the output says so. The
//!   library is also measured in-process either way.
//!
//! It does not measure cold-cache (disk-bound) validation, and it asserts no
//! thresholds: it prints figures and writes them to
//! `target/bench-results/bag_validate.json`.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use rayon::prelude::*;
use scan2dms_bagit::{Algorithm, ValidateOptions, digest_bytes, digest_file, manifest_line, validate_bag};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Generation parameters; part of the cache marker.
const TARGET_PAYLOAD_BYTES: u64 = 1_200_000_000;
const MIN_FILE_BYTES: u64 = 50_000;
const MAX_FILE_BYTES: u64 = 20_000_000;
const FILES_PER_RECORD: usize = 25;
const SEED: u64 = 0x5ca2_d315_2024_0001;
const DEFAULT_REPETITIONS: usize = 3;
const BAGIT_PYTHON: &str = "bagit-python --validate";

fn main() -> Result<()> {
    let workspace_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("benches crate has no parent directory")?.to_path_buf();
    let target_dir =
        std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace_dir.join("target"));
    let bag_dir = target_dir.join("bench-data").join("bag-1g");

    let (payload_bytes, payload_count) = ensure_bag(&bag_dir)?;
    println!("bag: {} ({} payload files, {:.2} GB)", bag_dir.display(), payload_count, payload_bytes as f64 / 1e9);

    print!("warming the page cache ... ");
    std::io::stdout().flush()?;
    let warmed = warm_page_cache(&bag_dir)?;
    println!("{:.2} GB read", warmed as f64 / 1e9);

    let report = validate_bag(&bag_dir, &ValidateOptions::default())?;
    if !report.is_valid() {
        return Err(format!("generated bag is invalid: {:?}", report.findings).into());
    }

    let repetitions: usize = std::env::var("SCAN2DMS_BENCH_REPETITIONS")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&value| value > 0)
        .unwrap_or(DEFAULT_REPETITIONS);
    let mut notes: Vec<String> = Vec::new();
    let load_before = load_average();

    // (a) scan2dms: the binary when it builds, the library in any case.
    let mut tools: Vec<Tool<'_>> = Vec::new();
    if let Some(binary) = ensure_cli_binary(&workspace_dir, &target_dir, &mut notes) {
        let mut command = Command::new(binary);
        command.args(["bag", "validate"]).arg(&bag_dir);
        tools.push(Tool::command("scan2dms bag validate (release binary)", command));
    }
    tools.push(Tool {
        name: "scan2dms-bagit library, in-process".to_owned(),
        run: Box::new(|| {
            let report = validate_bag(&bag_dir, &ValidateOptions::default())?;
            if report.is_valid() { Ok(()) } else { Err("library reports the bag invalid".into()) }
        }),
    });

    // (b) bagit-python, as users run it, and with two processes.
    if python_bagit_available() {
        let mut command = Command::new("python3");
        command.args(["-m", "bagit", "--validate"]).arg(&bag_dir);
        tools.push(Tool::command(BAGIT_PYTHON, command));
        let mut command = Command::new("python3");
        command.args(["-m", "bagit", "--validate", "--processes", "2"]).arg(&bag_dir);
        tools.push(Tool::command("bagit-python --validate --processes 2", command));
    } else {
        notes.push("bagit-python not installed (python3 -c 'import bagit' fails): not measured".to_owned());
    }

    // (d) sha256sum over the payload, one process, for context.
    let mut command = Command::new("sha256sum");
    command.args(report.payload_files.iter().map(|file| bag_dir.join(&file.path)));
    tools.push(Tool::command("sha256sum (1 process)", command));

    // Round-robin: repetition i of every tool runs before repetition i + 1 of
    // any, so a burst of other load on the machine hits all tools alike.
    let mut runs: Vec<Vec<f64>> = vec![Vec::new(); tools.len()];
    for repetition in 1..=repetitions {
        println!("repetition {repetition}/{repetitions} ...");
        for (tool, tool_runs) in tools.iter_mut().zip(&mut runs) {
            let started = Instant::now();
            (tool.run)().map_err(|error| format!("{}: {error}", tool.name))?;
            tool_runs.push(started.elapsed().as_secs_f64());
        }
    }
    let mut rows: Vec<Row> =
        tools.iter().zip(runs).map(|(tool, runs_secs)| Row::from_runs(&tool.name, runs_secs, payload_bytes)).collect();

    // (c) openssl's own SHA-256 speed, one and two cores.
    let openssl_one_core = openssl_sha256_bytes_per_sec(1);
    let openssl_two_cores = openssl_sha256_bytes_per_sec(2);
    for (label, result) in [
        ("openssl speed -evp sha256 -multi 1", &openssl_one_core),
        ("openssl speed -evp sha256 -multi 2", &openssl_two_cores),
    ] {
        match result {
            Ok(bytes_per_sec) => rows.push(Row {
                tool: label.to_owned(),
                runs_secs: Vec::new(),
                median_secs: None,
                gb_per_sec: bytes_per_sec / 1e9,
                best_gb_per_sec: bytes_per_sec / 1e9,
            }),
            Err(error) => notes.push(format!("{label}: {error}")),
        }
    }
    let load_after = load_average();
    if load_before.is_some_and(|load| load > 0.5) || load_after.is_some_and(|load| load > 1.5) {
        notes.push(format!(
            "the machine was busy (1-min load average {} before, {} after): figures are low and noisy",
            load_before.map_or("?".to_owned(), |load| format!("{load:.2}")),
            load_after.map_or("?".to_owned(), |load| format!("{load:.2}")),
        ));
    }

    let scan2dms_row = rows
        .iter()
        .find(|row| row.tool.starts_with("scan2dms bag validate"))
        .or_else(|| rows.iter().find(|row| row.tool.starts_with("scan2dms-bagit library")))
        .ok_or("no scan2dms measurement")?;
    let bagit_python_row = rows.iter().find(|row| row.tool == "bagit-python --validate");
    let ratio_vs_bagit_python = bagit_python_row.map(|row| scan2dms_row.gb_per_sec / row.gb_per_sec);
    let ratio_vs_openssl_two_cores =
        openssl_two_cores.as_ref().ok().map(|bytes_per_sec| scan2dms_row.gb_per_sec / (bytes_per_sec / 1e9));

    print_table(&rows);
    println!();
    println!("scan2dms = {}", scan2dms_row.tool);
    if let Some(ratio) = ratio_vs_bagit_python {
        println!("ratio scan2dms / bagit-python:      {ratio:.2}x");
    }
    if let Some(ratio) = ratio_vs_openssl_two_cores {
        println!("ratio scan2dms / openssl (2 cores): {ratio:.2}");
    }
    for note in &notes {
        println!("note: {note}");
    }

    let results_dir = target_dir.join("bench-results");
    fs::create_dir_all(&results_dir)?;
    let results_path = results_dir.join("bag_validate.json");
    let json = serde_json::json!({
        "bench": "bag_validate",
        "bag_dir": bag_dir.display().to_string(),
        "payload_bytes": payload_bytes,
        "payload_files": payload_count,
        "repetitions": repetitions,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "cpus": std::thread::available_parallelism().map(usize::from).unwrap_or(1),
        "rows": rows.iter().map(|row| serde_json::json!({
            "tool": row.tool,
            "runs_secs": row.runs_secs,
            "median_secs": row.median_secs,
            "gb_per_sec": row.gb_per_sec,
            "best_gb_per_sec": row.best_gb_per_sec,
        })).collect::<Vec<_>>(),
        "scan2dms_measured_as": scan2dms_row.tool,
        "ratio_scan2dms_vs_bagit_python": ratio_vs_bagit_python,
        "ratio_scan2dms_vs_openssl_two_cores": ratio_vs_openssl_two_cores,
        "notes": notes,
    });
    fs::write(&results_path, serde_json::to_string_pretty(&json)? + "\n")?;
    println!("results written to {}", results_path.display());
    Ok(())
}

/// A measured tool: one run of `run` is one validation of the bag.
struct Tool<'a> {
    name: String,
    run: Box<dyn FnMut() -> Result<()> + 'a>,
}

impl<'a> Tool<'a> {
    /// An external command that must exit 0 (the bag is valid).
    fn command(name: &str, mut command: Command) -> Tool<'a> {
        command.stdout(Stdio::null()).stderr(Stdio::piped());
        Tool {
            name: name.to_owned(),
            run: Box::new(move || {
                let output = command.output()?;
                if output.status.success() {
                    Ok(())
                } else {
                    Err(format!("exit status {}: {}", output.status, String::from_utf8_lossy(&output.stderr).trim())
                        .into())
                }
            }),
        }
    }
}

/// One line of the result table. `runs_secs` is empty for tools that report
/// their own rate (openssl speed).
struct Row {
    tool: String,
    runs_secs: Vec<f64>,
    median_secs: Option<f64>,
    /// From the median wall time.
    gb_per_sec: f64,
    /// From the fastest run.
    best_gb_per_sec: f64,
}

impl Row {
    fn from_runs(tool: &str, runs_secs: Vec<f64>, payload_bytes: u64) -> Row {
        let mut sorted = runs_secs.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        Row {
            tool: tool.to_owned(),
            runs_secs,
            median_secs: Some(median),
            gb_per_sec: payload_bytes as f64 / median / 1e9,
            best_gb_per_sec: payload_bytes as f64 / sorted[0] / 1e9,
        }
    }
}

fn print_table(rows: &[Row]) {
    println!();
    println!("{:<40} {:>9} {:>7} {:>9}   runs (s)", "tool", "median s", "GB/s", "best GB/s");
    for row in rows {
        let median = row.median_secs.map(|secs| format!("{secs:.3}")).unwrap_or_else(|| "-".to_owned());
        let runs: Vec<String> = row.runs_secs.iter().map(|secs| format!("{secs:.3}")).collect();
        println!(
            "{:<40} {:>9} {:>7.2} {:>9.2}   {}",
            row.tool,
            median,
            row.gb_per_sec,
            row.best_gb_per_sec,
            runs.join(" ")
        );
    }
}

/// The 1-minute load average, from /proc/loadavg.
fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg").ok()?.split_whitespace().next()?.parse().ok()
}

/// `target/release/scan2dms`, rebuilt if its sources changed; `None` (with a
/// note) when the CLI crate does not build.
fn ensure_cli_binary(workspace_dir: &Path, target_dir: &Path, notes: &mut Vec<String>) -> Option<PathBuf> {
    let binary = target_dir.join("release").join("scan2dms");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    println!("building the scan2dms binary (cargo build --release -p scan2dms-cli) ...");
    let build = Command::new(cargo)
        .args(["build", "--release", "-p", "scan2dms-cli"])
        .current_dir(workspace_dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output();
    let built = match build {
        Ok(output) if output.status.success() => true,
        Ok(output) => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last_line = stderr.lines().rev().find(|line| !line.trim().is_empty()).unwrap_or("");
            notes.push(format!("cargo build --release -p scan2dms-cli failed: {}", last_line.trim()));
            false
        }
        Err(error) => {
            notes.push(format!("cannot run cargo: {error}"));
            false
        }
    };
    if binary.is_file() {
        if !built {
            notes.push(format!("measured the existing, possibly stale {}", binary.display()));
        }
        Some(binary)
    } else {
        notes
            .push("scan2dms binary not available: the scan2dms-bagit library, in-process, stands in for it".to_owned());
        None
    }
}

fn python_bagit_available() -> bool {
    Command::new("python3")
        .args(["-c", "import bagit"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Runs `openssl speed -evp sha256 -multi N -bytes 16384 -seconds 3` and
/// parses the `sha256  1234567.89k` line (thousands of bytes per second,
/// summed over the N processes).
fn openssl_sha256_bytes_per_sec(processes: usize) -> Result<f64> {
    println!("openssl speed -evp sha256 -multi {processes} ...");
    let output = Command::new("openssl")
        .args(["speed", "-evp", "sha256", "-multi", &processes.to_string(), "-bytes", "16384", "-seconds", "3"])
        .stderr(Stdio::null())
        .output()?;
    if !output.status.success() {
        return Err(format!("openssl speed exited with {}", output.status).into());
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let rate = stdout
        .lines()
        .rev()
        .find_map(|line| {
            let mut fields = line.split_whitespace();
            let name = fields.next()?;
            let value = fields.last()?;
            let thousands: f64 = value.strip_suffix('k')?.parse().ok()?;
            name.starts_with("sha256").then_some(thousands * 1000.0)
        })
        .ok_or("no sha256 rate in openssl speed output")?;
    Ok(rate)
}

/// Reads every file once so every tool starts from a warm page cache.
fn warm_page_cache(bag_dir: &Path) -> Result<u64> {
    let mut files = Vec::new();
    let mut pending = vec![bag_dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                pending.push(entry.path());
            } else {
                files.push(entry.path());
            }
        }
    }
    let total = files
        .par_iter()
        .map(|path| -> std::io::Result<u64> {
            let mut file = fs::File::open(path)?;
            let mut buffer = vec![0u8; 1 << 20];
            let mut bytes = 0u64;
            loop {
                let read = file.read(&mut buffer)?;
                if read == 0 {
                    return Ok(bytes);
                }
                bytes += read as u64;
            }
        })
        .try_reduce(|| 0, |a, b| Ok(a + b))?;
    Ok(total)
}

/// Builds the bag unless the marker beside it says it is there with these
/// parameters. Returns the payload's (octets, file count).
fn ensure_bag(bag_dir: &Path) -> Result<(u64, u64)> {
    let marker_path = bag_dir.with_extension("complete");
    let parameters = format!(
        "target={TARGET_PAYLOAD_BYTES} min={MIN_FILE_BYTES} max={MAX_FILE_BYTES} per_record={FILES_PER_RECORD} seed={SEED:#x}\n"
    );
    let sizes = file_sizes();
    let totals = (sizes.iter().sum::<u64>(), sizes.len() as u64);
    if fs::read_to_string(&marker_path).is_ok_and(|marker| marker == parameters) && bag_dir.is_dir() {
        return Ok(totals);
    }
    println!("generating the bench bag in {} (once) ...", bag_dir.display());
    let started = Instant::now();
    let _ = fs::remove_file(&marker_path);
    let building_dir = bag_dir.with_extension("building");
    if building_dir.exists() {
        fs::remove_dir_all(&building_dir)?;
    }
    if bag_dir.exists() {
        fs::remove_dir_all(bag_dir)?;
    }
    fs::create_dir_all(&building_dir)?;

    let manifest_lines: Vec<(String, String)> = sizes
        .par_iter()
        .enumerate()
        .map(|(index, &bytes)| -> std::io::Result<(String, String)> {
            let record = index / FILES_PER_RECORD;
            let page = index % FILES_PER_RECORD + 1;
            let relative = format!("data/images/R-{record:04}/{page:04}.tif");
            let path = building_dir.join(&relative);
            if let Some(parent) = path.parent() {
                fs::create_dir_all(parent)?;
            }
            let content = pseudo_random_bytes(SEED ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15), bytes);
            fs::write(&path, &content)?;
            Ok((relative, digest_bytes(Algorithm::Sha256, &content)))
        })
        .collect::<std::io::Result<_>>()?;

    let manifest: String = manifest_lines.iter().map(|(path, digest)| manifest_line(digest, path)).collect();
    fs::write(building_dir.join("manifest-sha256.txt"), manifest)?;
    fs::write(building_dir.join("bagit.txt"), "BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n")?;
    fs::write(
        building_dir.join("bag-info.txt"),
        format!(
            "Source-Organization: scan2dms bench\nExternal-Identifier: bag-1g\nPayload-Oxum: {}.{}\n",
            totals.0, totals.1
        ),
    )?;
    let mut tag_manifest = String::new();
    for tag_file in ["bag-info.txt", "bagit.txt", "manifest-sha256.txt"] {
        let (_, digests) = digest_file(&building_dir.join(tag_file), &[Algorithm::Sha256])?;
        tag_manifest.push_str(&manifest_line(&digests[0].1, tag_file));
    }
    fs::write(building_dir.join("tagmanifest-sha256.txt"), tag_manifest)?;

    fs::rename(&building_dir, bag_dir)?;
    fs::write(&marker_path, parameters)?;
    println!("generated in {:.1} s", started.elapsed().as_secs_f64());
    Ok(totals)
}

/// File sizes, log-uniform between MIN and MAX (many small scans, a few big
/// multi-page ones), until the total reaches TARGET_PAYLOAD_BYTES.
fn file_sizes() -> Vec<u64> {
    let mut state = SEED;
    let mut sizes = Vec::new();
    let mut total = 0u64;
    let (low, high) = ((MIN_FILE_BYTES as f64).ln(), (MAX_FILE_BYTES as f64).ln());
    while total < TARGET_PAYLOAD_BYTES {
        let unit = (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        let bytes = (low + unit * (high - low)).exp() as u64;
        sizes.push(bytes);
        total += bytes;
    }
    sizes
}

fn pseudo_random_bytes(seed: u64, length: u64) -> Vec<u8> {
    let mut state = seed;
    let mut bytes = Vec::with_capacity(length as usize + 8);
    while (bytes.len() as u64) < length {
        bytes.extend_from_slice(&splitmix64(&mut state).to_le_bytes());
    }
    bytes.truncate(length as usize);
    bytes
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}
