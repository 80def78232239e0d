//! End-to-end throughput: `scan2dms run` from delivered bags to PDF/A
//! e-files, against OCRmyPDF on the same pages and against the bound, the
//! tesseract engine alone in-process with the same threads.
//!
//! Run: `cargo bench -p scan2dms-benches --bench pipeline`
//! (`SCAN2DMS_BENCH_PAGES`, default 100: whole accepted batches are taken,
//! in order, until at least that many pages are in;
//! `SCAN2DMS_BENCH_DELIVERIES=DIR` takes them from another generated set;
//! `SCAN2DMS_BENCH_SKIP=ocrmypdf,bound` leaves peers out, e.g. for a long
//! memory run at 1,000 pages; `SCAN2DMS_BENCH_THREADS`, default 2: the OCR
//! threads of all three, e.g. 1 to see the gap to the bound without two
//! threads sharing the machine).
//!
//! What each side does:
//! - scan2dms: `scan2dms run --once --stages=validate,ocr,efile` on a fresh
//!   data directory with the batches in its inbox: validation (fixity,
//!   decoding), separator and blank detection, orientation, skew, OCR, one
//!   PDF/A per document (the DMS push that follows is left out, as OCRmyPDF
//!   has none). Timed with
//!   `/usr/bin/time`, which also gives the peak RSS.
//! - OCRmyPDF (Debian's): the same pages, decoded once by scan2dms-imaging
//!   into PNGs and joined losslessly with img2pdf, then `ocrmypdf -j 2 -l deu
//!   --rotate-pages --output-type pdfa`. The join is not timed.
//! - bound: the pages scan2dms would OCR (not separators, not blank), decoded
//!   beforehand, recognised by two threads with one `scan2dms_ocr::Engine`
//!   each. No decoding, orientation or PDF writing: an upper limit.
//!
//! Every rate is total scanned pages divided by wall time, so the three are
//! comparable. CPU seconds (user plus system: GNU time for the commands,
//! `/proc/self/stat` around the bound's threads) split a gap to the bound
//! into work the bound does not do and cores left idle. The bench asserts
//! nothing; it prints a table and writes
//! `target/bench-results/pipeline.json`.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use scan2dms_imaging::{Limits, decode_page};
use scan2dms_ocr::{Engine, EngineOptions, ensure_single_threaded_openmp};

use scan2dms_benches::{accepted_batches, batch_id, copy_tree, median};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DEFAULT_PAGES: usize = 100;
/// Bags to e-files, what OCRmyPDF does too; the DMS push after it is not
/// part of this comparison (and would delete the e-files once verified).
const STAGES: [&str; 4] = ["run", "--once", "--stages=validate,ocr,efile", "--inbox"];
const DEFAULT_THREADS: usize = 2;

/// One page of the benchmark set, from its truth file.
struct Page {
    path: PathBuf,
    page_index: usize,
    text_page: bool,
}

fn main() -> Result<()> {
    ensure_single_threaded_openmp()?;
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace")?.to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let wanted: usize =
        std::env::var("SCAN2DMS_BENCH_PAGES").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_PAGES);

    let skip = std::env::var("SCAN2DMS_BENCH_SKIP").unwrap_or_default();
    let threads: usize = std::env::var("SCAN2DMS_BENCH_THREADS")
        .ok()
        .and_then(|value| value.parse().ok())
        .filter(|&threads| threads > 0)
        .unwrap_or(DEFAULT_THREADS);
    let shared = workspace.join("../shared/corpus/deliveries");
    let deliveries = match std::env::var_os("SCAN2DMS_BENCH_DELIVERIES") {
        Some(dir) => PathBuf::from(dir),
        None if shared.join("truth").is_dir() => shared,
        None => workspace.join("fixtures/deliveries"),
    };
    let (batches, pages) = choose_batches(&deliveries, wanted)?;
    println!("{} pages in {} batches from {}", pages.len(), batches.len(), deliveries.display());

    let status =
        Command::new("cargo").args(["build", "--release", "-p", "scan2dms-cli"]).current_dir(&workspace).status()?;
    if !status.success() {
        return Err("cargo build --release -p scan2dms-cli failed".into());
    }
    let binary = target.join("release/scan2dms");
    let work = target.join("bench-data/pipeline");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;
    let config = work.join("pipeline.toml");
    // Only the pool's size: validation shares the pool, as by default.
    fs::write(&config, format!("[ocr]\nthreads = {threads}\n"))?;

    let mut orders: Vec<PathBuf> =
        fs::read_dir(deliveries.join("orders"))?.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
    orders.sort();
    // scan2dms, end to end, on a fresh data directory each round.
    let scan2dms_round = || -> Result<(Cost, usize)> {
        let data_dir = work.join("scan2dms-data");
        let inbox = work.join("inbox");
        let _ = fs::remove_dir_all(&data_dir);
        let _ = fs::remove_dir_all(&inbox);
        fs::create_dir_all(&inbox)?;
        for batch in &batches {
            copy_tree(&deliveries.join("batches").join(batch), &inbox.join(batch))?;
        }
        let status =
            Command::new(&binary).arg("--data-dir").arg(&data_dir).args(["orders", "import"]).args(&orders).status()?;
        if !status.success() {
            return Err("orders import failed".into());
        }
        let cost = timed(
            Command::new(&binary)
                .arg("--data-dir")
                .arg(&data_dir)
                .arg("--config")
                .arg(&config)
                .args(STAGES)
                .arg(&inbox),
        )?;
        Ok((cost, count_files(&data_dir.join("batches"), "pdf")))
    };

    // The bound: the engine alone on the pages scan2dms OCRs.
    let text_pages: Vec<(image::GrayImage, u32)> = if skip.contains("bound") {
        Vec::new()
    } else {
        pages
            .iter()
            .filter(|page| page.text_page)
            .map(|page| {
                let decoded = decode_page(&page.path, page.page_index, &Limits::default())?;
                Ok((decoded.gray, decoded.info.dpi.map_or(300, |dpi| dpi.round() as u32)))
            })
            .collect::<Result<_>>()?
    };
    // Rounds alternate scan2dms and the bound, so a burst of load on this
    // shared machine hits both alike; the medians are reported.
    let rounds: usize =
        std::env::var("SCAN2DMS_BENCH_ROUNDS").ok().and_then(|value| value.parse().ok()).unwrap_or(3).max(1);
    let (mut scan2dms_costs, mut bound_costs) = (Vec::new(), Vec::new());
    let mut efiles = 0;
    for round in 0..rounds {
        let (cost, written) = scan2dms_round()?;
        println!("round {}: scan2dms {:.1} s ({:.1} CPU s)", round + 1, cost.wall, cost.cpu);
        scan2dms_costs.push(cost);
        efiles = written;
        if !text_pages.is_empty() {
            let cost = engine_bound(&text_pages, threads)?;
            println!("round {}: bound {:.1} s ({:.1} CPU s)", round + 1, cost.wall, cost.cpu);
            bound_costs.push(cost);
        }
    }
    drop(text_pages);
    let scan2dms = median_cost(&scan2dms_costs);
    let bound = (!bound_costs.is_empty()).then(|| median_cost(&bound_costs));

    // OCRmyPDF on the same pixels, once: it is several times slower.
    let ocrmypdf = if skip.contains("ocrmypdf") { None } else { run_ocrmypdf(&work, &pages, threads)? };
    report(&target, &batches, pages.len(), threads, (scan2dms, efiles), ocrmypdf, bound)
}

/// The median wall and CPU seconds of rounds, each taken on its own, and
/// the highest peak RSS.
fn median_cost(costs: &[Cost]) -> Cost {
    let mut wall: Vec<f64> = costs.iter().map(|cost| cost.wall).collect();
    let mut cpu: Vec<f64> = costs.iter().map(|cost| cost.cpu).collect();
    Cost { wall: median(&mut wall), cpu: median(&mut cpu), rss_kb: costs.iter().filter_map(|cost| cost.rss_kb).max() }
}

/// OCRmyPDF on the pages, decoded once and joined losslessly (not timed).
fn run_ocrmypdf(work: &Path, pages: &[Page], threads: usize) -> Result<Option<Cost>> {
    let png_dir = work.join("pages");
    fs::create_dir_all(&png_dir)?;
    let mut pngs = Vec::new();
    for (index, page) in pages.iter().enumerate() {
        let decoded = decode_page(&page.path, page.page_index, &Limits::default())?;
        let png = png_dir.join(format!("{index:04}.png"));
        decoded.gray.save(&png)?;
        pngs.push(png);
    }
    let joined = work.join("ocrmypdf-in.pdf");
    // Debian's img2pdf CLI, or the module that ocrmypdf pulls in.
    let status = Command::new("img2pdf").args(&pngs).arg("-o").arg(&joined).status().or_else(|_| {
        Command::new("/usr/bin/python3").args(["-m", "img2pdf"]).args(&pngs).arg("-o").arg(&joined).status()
    });
    match status {
        Ok(status) if status.success() => Ok(Some(timed(
            Command::new("ocrmypdf")
                .args(["-j", &threads.to_string(), "-l", "deu", "--rotate-pages", "--output-type", "pdfa", "-q"])
                .arg(&joined)
                .arg(work.join("ocrmypdf-out.pdf")),
        )?)),
        _ => {
            println!("note: img2pdf/ocrmypdf not found (apt-get install --no-install-recommends ocrmypdf); skipped");
            Ok(None)
        }
    }
}

/// Prints the table and writes `target/bench-results/pipeline.json`.
fn report(
    target: &Path,
    batches: &[String],
    page_count: usize,
    threads: usize,
    (scan2dms, efiles): (Cost, usize),
    ocrmypdf: Option<Cost>,
    bound: Option<Cost>,
) -> Result<()> {
    let total = page_count as f64;
    let rate = |secs: f64| total / secs;
    let row = |name: &str, cost: &Cost| {
        let rss = cost.rss_kb.map_or_else(|| "-".to_owned(), |kb| format!("{:.0}", kb as f64 / 1024.0));
        println!(
            "{name:<34} {:>9.1} {:>10.3} {:>9.1} {:>8.0} {:>12}",
            cost.wall,
            rate(cost.wall),
            cost.cpu,
            1000.0 * cost.cpu / total,
            rss
        );
    };
    println!();
    println!("{:<34} {:>9} {:>10} {:>9} {:>8} {:>12}", "", "seconds", "pages/s", "CPU s", "CPU ms/p", "peak RSS MB");
    row("scan2dms run (bags -> PDF/A)", &scan2dms);
    if let Some(cost) = &ocrmypdf {
        row(&format!("ocrmypdf -j {threads} --output-type pdfa"), cost);
    }
    if let Some(cost) = &bound {
        row(&format!("bound: engine alone, {threads} thread(s)"), cost);
    }
    println!();
    if let Some(bound) = &bound {
        println!(
            "scan2dms / bound:    {:.2}  (CPU work: bound/scan2dms {:.2}; cores busy: scan2dms {:.2}, bound {:.2})",
            bound.wall / scan2dms.wall,
            bound.cpu / scan2dms.cpu,
            scan2dms.cpu / scan2dms.wall,
            bound.cpu / bound.wall
        );
    }
    if let Some(cost) = &ocrmypdf {
        println!("scan2dms / OCRmyPDF: {:.2}", cost.wall / scan2dms.wall);
    }
    println!("e-files written: {efiles}");
    let json = |cost: &Cost| {
        serde_json::json!({"seconds": cost.wall, "cpu_seconds": cost.cpu, "pages_per_second": rate(cost.wall),
            "peak_rss_kb": cost.rss_kb})
    };
    let mut scan2dms_json = json(&scan2dms);
    scan2dms_json["efiles"] = efiles.into();
    let results = serde_json::json!({
        "pages": page_count,
        "threads": threads,
        "batches": batches,
        "scan2dms": scan2dms_json,
        "ocrmypdf": ocrmypdf.as_ref().map(json),
        "bound": bound.as_ref().map(json),
        "load_average_after": fs::read_to_string("/proc/loadavg").ok(),
    });
    let out = target.join("bench-results");
    fs::create_dir_all(&out)?;
    let name = if page_count >= 1000 { "pipeline-1000.json" } else { "pipeline.json" };
    fs::write(out.join(name), serde_json::to_string_pretty(&results)?)?;
    Ok(())
}

/// Whole accepted batches until at least `wanted` pages, and their pages.
fn choose_batches(deliveries: &Path, wanted: usize) -> Result<(Vec<String>, Vec<Page>)> {
    let mut batches = Vec::new();
    let mut pages = Vec::new();
    for truth in accepted_batches(deliveries, wanted)? {
        let batch_id = batch_id(&truth);
        let data = deliveries.join("batches").join(&batch_id).join("data");
        for document in truth["documents"].as_array().into_iter().flatten() {
            for page in document["pages"].as_array().into_iter().flatten() {
                pages.push(Page {
                    path: data.join(page["file"].as_str().ok_or("page without file")?),
                    page_index: page["file_page"].as_u64().unwrap_or(1).saturating_sub(1) as usize,
                    text_page: page["separator"] != true && page["blank"] != true,
                });
            }
        }
        batches.push(batch_id);
    }
    Ok((batches, pages))
}

/// What one timed run of a command cost.
#[derive(Debug, Clone, Copy)]
struct Cost {
    wall: f64,
    /// User plus system CPU seconds.
    cpu: f64,
    /// Peak resident set; `None` where it is not the measured run's own
    /// (the bound runs inside the bench's process).
    rss_kb: Option<u64>,
}

/// Wall seconds, CPU seconds and peak RSS (KB) of a command, through GNU
/// time.
fn timed(command: &mut Command) -> Result<Cost> {
    let report = std::env::temp_dir().join(format!("scan2dms-bench-time-{}", std::process::id()));
    let program = command.get_program().to_owned();
    let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
    let started = Instant::now();
    let status = Command::new("/usr/bin/time")
        .arg("-f")
        .arg("%M %U %S")
        .arg("-o")
        .arg(&report)
        .arg(program)
        .args(args)
        .status()?;
    let seconds = started.elapsed().as_secs_f64();
    if !status.success() {
        return Err(format!("{command:?} failed: {status}").into());
    }
    let written = fs::read_to_string(&report)?;
    let _ = fs::remove_file(report);
    let fields: Vec<f64> =
        written.trim().lines().last().unwrap_or("").split_whitespace().filter_map(|v| v.parse().ok()).collect();
    let [rss_kb, user, system] = fields[..] else {
        return Err(format!("unexpected GNU time report {written:?}").into());
    };
    Ok(Cost { wall: seconds, cpu: user + system, rss_kb: Some(rss_kb as u64) })
}

/// CPU seconds this process has used so far, from `/proc/self/stat`
/// (utime and stime, in the kernel's USER_HZ ticks of 1/100 s).
fn process_cpu_seconds() -> Result<f64> {
    let stat = fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map(|(_, rest)| rest).ok_or("unreadable /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks =
        |index: usize| fields.get(index).and_then(|v| v.parse::<f64>().ok()).ok_or("no cpu times in /proc/self/stat");
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    Ok((ticks(11)? + ticks(12)?) / 100.0)
}

fn engine_bound(pages: &[(image::GrayImage, u32)], threads: usize) -> Result<Cost> {
    let next = AtomicUsize::new(0);
    let failure = Mutex::new(None);
    let cpu_before = process_cpu_seconds()?;
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let mut engine = match Engine::new(&EngineOptions::default()) {
                    Ok(engine) => engine,
                    Err(error) => {
                        *failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error.to_string());
                        return;
                    }
                };
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some((gray, dpi)) = pages.get(index) else { break };
                    let _ = engine.recognize(gray, *dpi);
                }
            });
        }
    });
    if let Some(error) = failure.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()) {
        return Err(error.into());
    }
    let wall = started.elapsed().as_secs_f64();
    Ok(Cost { wall, cpu: process_cpu_seconds()? - cpu_before, rss_kb: None })
}

fn count_files(dir: &Path, extension: &str) -> usize {
    let Ok(entries) = fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .map(|path| {
            if path.is_dir() {
                count_files(&path, extension)
            } else {
                usize::from(path.extension().is_some_and(|found| found == extension))
            }
        })
        .sum()
}
