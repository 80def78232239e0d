//! OCR accuracy: how far the text layer of scan2dms' e-files is from the
//! truth text of each page, against the `tesseract` CLI on the same pages.
//!
//! Run: `cargo bench -p scan2dms-benches --bench ocr_quality`
//! (`SCAN2DMS_BENCH_PAGES`, default 150: whole accepted batches are taken,
//! in order, until at least that many pages are in;
//! `SCAN2DMS_BENCH_DELIVERIES=DIR` takes them from another generated set).
//!
//! What each side does:
//! - scan2dms: `scan2dms run --once --stages validate,ocr,efile` on a fresh
//!   data directory with the batches in its inbox, as a user would run it
//!   (its own orientation detection, deskewing, OCR, PDF/A writing) but
//!   without pushing to the DMS, which would delete the local e-files once
//!   verified. Its text for a page is what `pdftotext -raw` reads from that
//!   page of the document's e-file, found through `scan2dms documents --batch
//!   B --json`: what a DMS full-text index sees. `-raw` keeps the order the
//!   text layer was written in, which is tesseract's reading order (block by
//!   block, as the CLI prints it); pdftotext's default re-sorts text by
//!   position and merges side-by-side blocks into shared lines, which would
//!   charge the extraction's layout guess to the recognition.
//! - tesseract CLI: the page decoded by `scan2dms_imaging::decode_page` (so
//!   multi-page TIFFs and PDF pages work and both sides start from the same
//!   pixels), turned upright by the truth's `scan.rotation`, written as PNG,
//!   then `tesseract PAGE.png - -l deu --psm 3 --dpi DPI` with
//!   `OMP_THREAD_LIMIT=1`, two processes at a time. `--dpi` passes the
//!   resolution the original file records (a PNG written here carries none),
//!   as scan2dms passes it to its engine. The CLI does not detect orientation
//!   by default, so it gets the upright page for free: a rotated page costs
//!   it nothing while scan2dms has to find the rotation itself.
//!
//! Pages compared are the truth's text pages: not separator sheets, not
//! blank. A text page that is in no e-file counts for scan2dms as empty text.
//! The measures are `scan2dms_ocr::quality`'s character error rate (reading
//! order counts) and order-free word error, averaged per page (each page
//! weighs the same, however long its text).
//!
//! It asserts nothing: it prints a table (overall, by the truth's
//! `scan.format`, and the five pages where scan2dms does worst relative to
//! the CLI) and writes `target/bench-results/ocr_quality.json` with every
//! page's figures. It does not measure speed (see `ocr_engine` and
//! `pipeline`) or compare with OCRmyPDF.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use scan2dms_imaging::{Limits, decode_page};
use scan2dms_ocr::quality::{character_error_rate, order_free_word_error};
use serde_json::{Value, json};

use scan2dms_benches::{accepted_batches, batch_id, copy_tree};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const DEFAULT_PAGES: usize = 150;
const WORKERS: usize = 2;
const WORST_SHOWN: usize = 5;

/// One text page of the benchmark set, from its truth file.
struct TruthPage {
    batch_id: String,
    record_id: String,
    page_no: u64,
    path: PathBuf,
    page_index: usize,
    /// The truth's `scan.format`: `tiff-g4`, `jpeg`, `pdf`, …
    format: String,
    /// Degrees the stored image is turned clockwise from upright.
    rotation: u16,
    /// The scan resolution the truth records, for files that record none.
    dpi: Option<u32>,
    text: String,
}

/// Character error rate and order-free word error of one text.
#[derive(Clone, Copy)]
struct Errors {
    character: f64,
    word: f64,
}

impl Errors {
    fn of(truth: &str, found: &str) -> Errors {
        Errors { character: character_error_rate(truth, found), word: order_free_word_error(truth, found) }
    }
}

/// One page's figures for both sides.
struct Compared<'a> {
    page: &'a TruthPage,
    ours: Errors,
    cli: Errors,
}

fn main() -> Result<()> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().ok_or("no workspace")?.to_path_buf();
    let target = std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| workspace.join("target"));
    let wanted: usize =
        std::env::var("SCAN2DMS_BENCH_PAGES").ok().and_then(|value| value.parse().ok()).unwrap_or(DEFAULT_PAGES);

    let shared = workspace.join("../shared/corpus/deliveries");
    let deliveries = match std::env::var_os("SCAN2DMS_BENCH_DELIVERIES") {
        Some(dir) => PathBuf::from(dir),
        None if shared.join("truth").is_dir() => shared,
        None => workspace.join("fixtures/deliveries"),
    };
    let (batches, page_count, text_pages) = choose_batches(&deliveries, wanted)?;
    println!(
        "{page_count} pages ({} text pages) in {} batches from {}",
        text_pages.len(),
        batches.len(),
        deliveries.display()
    );

    let status =
        Command::new("cargo").args(["build", "--release", "-p", "scan2dms-cli"]).current_dir(&workspace).status()?;
    if !status.success() {
        return Err("cargo build --release -p scan2dms-cli failed".into());
    }
    let binary = target.join("release/scan2dms");
    let work = target.join("bench-data/ocr_quality");
    let _ = fs::remove_dir_all(&work);
    fs::create_dir_all(&work)?;

    // scan2dms up to its e-files, then their text layers. The push and
    // verify stages are left out: once the DMS has verified a document, its
    // local e-file is deleted, and they do not change it.
    let data_dir = work.join("scan2dms-data");
    let inbox = work.join("inbox");
    fs::create_dir_all(&inbox)?;
    for batch in &batches {
        copy_tree(&deliveries.join("batches").join(batch), &inbox.join(batch))?;
    }
    let mut orders: Vec<PathBuf> =
        fs::read_dir(deliveries.join("orders"))?.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
    orders.sort();
    let status =
        Command::new(&binary).arg("--data-dir").arg(&data_dir).args(["orders", "import"]).args(&orders).status()?;
    if !status.success() {
        return Err("orders import failed".into());
    }
    let started = Instant::now();
    let status = Command::new(&binary)
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["run", "--once", "--stages", "validate,ocr,efile", "--inbox"])
        .arg(&inbox)
        .status()?;
    if !status.success() {
        return Err(format!("scan2dms run --once failed: {status}").into());
    }
    let scan2dms_secs = started.elapsed().as_secs_f64();
    let our_texts = efile_texts(&binary, &data_dir, &batches, &text_pages)?;

    // The tesseract CLI on the same pages, upright.
    let started = Instant::now();
    let cli_texts = cli_texts(&work.join("pages"), &text_pages)?;
    let cli_secs = started.elapsed().as_secs_f64();

    let mut missing_from_efiles = 0;
    let compared: Vec<Compared> = text_pages
        .iter()
        .zip(&cli_texts)
        .map(|(page, cli_text)| {
            let key = (page.batch_id.clone(), page.record_id.clone(), page.page_no);
            let ours = our_texts.get(&key).map(String::as_str).unwrap_or_else(|| {
                missing_from_efiles += 1;
                ""
            });
            Compared {
                page,
                ours: Errors::of(&page.text, ours),
                cli: Errors::of(&page.text, cli_text.as_deref().unwrap_or("")),
            }
        })
        .collect();
    let cli_failures = cli_texts.iter().filter(|text| text.is_none()).count();
    report(
        &target,
        &deliveries,
        &batches,
        &compared,
        Counts { page_count, missing_from_efiles, cli_failures },
        (scan2dms_secs, cli_secs),
    )
}

/// How many pages there were and how many could not be read by each side.
struct Counts {
    page_count: usize,
    missing_from_efiles: usize,
    cli_failures: usize,
}

/// Prints the table and writes `target/bench-results/ocr_quality.json`.
fn report(
    target: &Path,
    deliveries: &Path,
    batches: &[String],
    compared: &[Compared],
    counts: Counts,
    (scan2dms_secs, cli_secs): (f64, f64),
) -> Result<()> {
    let rotated = compared.iter().filter(|entry| entry.page.rotation != 0).count();
    let mut by_format: BTreeMap<&str, Vec<&Compared>> = BTreeMap::new();
    for entry in compared {
        by_format.entry(entry.page.format.as_str()).or_default().push(entry);
    }
    let all: Vec<&Compared> = compared.iter().collect();

    println!();
    println!("OCR error against the truth text, mean per page (lower is better)");
    println!(
        "{:<14} {:>6} {:>14} {:>10} {:>15} {:>11}",
        "pages", "count", "CER scan2dms", "CER CLI", "words scan2dms", "words CLI"
    );
    let row = |name: &str, entries: &[&Compared]| {
        let means = Means::of(entries);
        println!(
            "{:<14} {:>6} {:>14.4} {:>10.4} {:>15.4} {:>11.4}",
            name,
            entries.len(),
            means.ours.character,
            means.cli.character,
            means.ours.word,
            means.cli.word
        );
    };
    row("all", &all);
    for (format, entries) in &by_format {
        row(&format!("  {format}"), entries);
    }

    // Worst relative to the CLI: the largest character error rate difference,
    // then the largest word error difference.
    let mut worst: Vec<&Compared> = compared.iter().collect();
    worst.sort_by(|left, right| {
        let difference =
            |entry: &Compared| (entry.ours.character - entry.cli.character, entry.ours.word - entry.cli.word);
        let (left, right) = (difference(left), difference(right));
        right.0.total_cmp(&left.0).then(right.1.total_cmp(&left.1))
    });
    worst.truncate(WORST_SHOWN);
    println!();
    println!("pages where scan2dms does worst relative to the CLI (by CER difference)");
    println!(
        "{:<34} {:<10} {:>4} {:>14} {:>10} {:>15} {:>11}",
        "page", "format", "rot", "CER scan2dms", "CER CLI", "words scan2dms", "words CLI"
    );
    for entry in &worst {
        println!(
            "{:<34} {:<10} {:>4} {:>14.4} {:>10.4} {:>15.4} {:>11.4}",
            page_name(entry.page),
            entry.page.format,
            entry.page.rotation,
            entry.ours.character,
            entry.cli.character,
            entry.ours.word,
            entry.cli.word
        );
    }

    println!();
    println!(
        "note: the CLI got every page turned upright by the truth's scan.rotation ({rotated} of {} pages were \
         stored rotated): it does not detect orientation by default; scan2dms detects it itself",
        compared.len()
    );
    println!(
        "text pages in no e-file (empty for scan2dms): {}; CLI failures (empty): {}",
        counts.missing_from_efiles, counts.cli_failures
    );
    println!(
        "wall time: scan2dms run to e-files {scan2dms_secs:.1} s (all {} pages), CLI {cli_secs:.1} s",
        counts.page_count
    );
    let load_average = fs::read_to_string("/proc/loadavg").ok();
    if let Some(load_average) = &load_average {
        println!("load average after: {}", load_average.trim());
    }

    let means_json = |entries: &[&Compared]| {
        let means = Means::of(entries);
        json!({
            "pages": entries.len(),
            "scan2dms": {"character_error_rate": means.ours.character, "order_free_word_error": means.ours.word},
            "tesseract_cli": {"character_error_rate": means.cli.character, "order_free_word_error": means.cli.word},
        })
    };
    let page_json = |entry: &Compared| {
        json!({
            "batch_id": entry.page.batch_id,
            "record_id": entry.page.record_id,
            "page_no": entry.page.page_no,
            "format": entry.page.format,
            "rotation": entry.page.rotation,
            "scan2dms": {"character_error_rate": entry.ours.character, "order_free_word_error": entry.ours.word},
            "tesseract_cli": {"character_error_rate": entry.cli.character, "order_free_word_error": entry.cli.word},
        })
    };
    let results = json!({
        "bench": "ocr_quality",
        "deliveries": deliveries.display().to_string(),
        "batches": batches,
        "pages": counts.page_count,
        "text_pages_compared": compared.len(),
        "statistic": "mean per page",
        "scan2dms_text": "pdftotext -raw -f I -l I EFILE - (the e-file's text layer, in the order it was written)",
        "tesseract_cli_command": "OMP_THREAD_LIMIT=1 tesseract PAGE.png - -l deu --psm 3 --dpi DPI",
        "tesseract_cli_input": "decoded by scan2dms_imaging::decode_page, turned upright by the truth's scan.rotation",
        "rotated_pages": rotated,
        "missing_from_efiles": counts.missing_from_efiles,
        "cli_failures": counts.cli_failures,
        "all": means_json(&all),
        "by_format": by_format.iter().map(|(format, entries)| (format.to_string(), means_json(entries))).collect::<serde_json::Map<_, _>>(),
        "worst_relative_to_cli": worst.iter().map(|entry| page_json(entry)).collect::<Vec<_>>(),
        "per_page": compared.iter().map(page_json).collect::<Vec<_>>(),
        "seconds": {"scan2dms_run_to_efiles": scan2dms_secs, "tesseract_cli": cli_secs},
        "load_average_after": load_average,
    });
    let out = target.join("bench-results");
    fs::create_dir_all(&out)?;
    let path = out.join("ocr_quality.json");
    fs::write(&path, serde_json::to_string_pretty(&results)? + "\n")?;
    println!("results: {}", path.display());
    Ok(())
}

/// Mean errors of both sides over some pages.
struct Means {
    ours: Errors,
    cli: Errors,
}

impl Means {
    fn of(entries: &[&Compared]) -> Means {
        let count = entries.len().max(1) as f64;
        let mean = |value: &dyn Fn(&Compared) -> f64| entries.iter().map(|entry| value(entry)).sum::<f64>() / count;
        Means {
            ours: Errors { character: mean(&|entry| entry.ours.character), word: mean(&|entry| entry.ours.word) },
            cli: Errors { character: mean(&|entry| entry.cli.character), word: mean(&|entry| entry.cli.word) },
        }
    }
}

fn page_name(page: &TruthPage) -> String {
    format!("{} {} p{}", page.batch_id, page.record_id, page.page_no)
}

/// Accepted, independent directory batches in processing order until
/// `wanted` pages: their ids, their page count, and their text pages.
fn choose_batches(deliveries: &Path, wanted: usize) -> Result<(Vec<String>, usize, Vec<TruthPage>)> {
    let mut batches = Vec::new();
    let mut page_count = 0;
    let mut text_pages = Vec::new();
    for truth in accepted_batches(deliveries, wanted)? {
        let batch_id = batch_id(&truth);
        let data = deliveries.join("batches").join(&batch_id).join("data");
        for document in truth["documents"].as_array().into_iter().flatten() {
            let record_id = document["record_id"].as_str().ok_or("document without record_id")?;
            for page in document["pages"].as_array().into_iter().flatten() {
                page_count += 1;
                if page["separator"] == true || page["blank"] == true {
                    continue;
                }
                let scan = &page["scan"];
                text_pages.push(TruthPage {
                    batch_id: batch_id.clone(),
                    record_id: record_id.to_owned(),
                    page_no: page["page_no"].as_u64().ok_or("page without page_no")?,
                    path: data.join(page["file"].as_str().ok_or("page without file")?),
                    page_index: page["file_page"].as_u64().unwrap_or(1).saturating_sub(1) as usize,
                    format: scan["format"].as_str().unwrap_or("unknown").to_owned(),
                    rotation: scan["rotation"].as_u64().and_then(|rotation| u16::try_from(rotation).ok()).unwrap_or(0),
                    dpi: scan["dpi"].as_u64().and_then(|dpi| u32::try_from(dpi).ok()),
                    text: page["text"].as_str().unwrap_or("").to_owned(),
                });
            }
        }
        batches.push(batch_id);
    }
    Ok((batches, page_count, text_pages))
}

/// The text layer of every e-file page that holds one of `text_pages`, by
/// batch, record and page number.
fn efile_texts(
    binary: &Path,
    data_dir: &Path,
    batches: &[String],
    text_pages: &[TruthPage],
) -> Result<HashMap<(String, String, u64), String>> {
    let wanted: std::collections::HashSet<(&str, &str, u64)> =
        text_pages.iter().map(|page| (page.batch_id.as_str(), page.record_id.as_str(), page.page_no)).collect();
    let mut texts = HashMap::new();
    for batch_id in batches {
        let output = Command::new(binary)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["documents", "--batch", batch_id, "--json"])
            .output()?;
        if !output.status.success() {
            return Err(format!("scan2dms documents --batch {batch_id} failed: {}", output.status).into());
        }
        let documents: Vec<Value> = serde_json::from_slice(&output.stdout)?;
        for document in &documents {
            let record_id = document["record_id"].as_str().ok_or("document without record_id")?;
            // A document without an e-file leaves its pages out: they count
            // as empty text.
            let Some(efile) = document["efile"]["path"].as_str() else { continue };
            let efile = data_dir.join(efile);
            for (index, page) in document["pages"].as_array().into_iter().flatten().enumerate() {
                let page_no = page["page_no"].as_u64().ok_or("page without page_no")?;
                if !wanted.contains(&(batch_id.as_str(), record_id, page_no)) {
                    continue;
                }
                // The e-file holds the document's pages in this order, one
                // PDF page each.
                let pdf_page = (index + 1).to_string();
                let output = Command::new("pdftotext")
                    .args(["-raw", "-f", &pdf_page, "-l", &pdf_page])
                    .arg(&efile)
                    .arg("-")
                    .output()?;
                if !output.status.success() {
                    return Err(format!("pdftotext on page {pdf_page} of {} failed", efile.display()).into());
                }
                texts.insert(
                    (batch_id.clone(), record_id.to_owned(), page_no),
                    String::from_utf8_lossy(&output.stdout).into_owned(),
                );
            }
        }
    }
    Ok(texts)
}

/// Every page through the tesseract CLI, upright, two processes at a time.
/// A page the CLI fails on gives `None`; a page that does not decode stops
/// the bench (the batches are accepted ones, so that is a bug).
fn cli_texts(png_dir: &Path, pages: &[TruthPage]) -> Result<Vec<Option<String>>> {
    fs::create_dir_all(png_dir)?;
    let slots: Vec<Mutex<Option<String>>> = pages.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<String>> = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..WORKERS {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(page) = pages.get(index) else { break };
                    match cli_text(png_dir, index, page) {
                        Ok(text) => {
                            *slots[index].lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = text;
                        }
                        Err(error) => {
                            *failure.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) =
                                Some(format!("{}: {error}", page_name(page)));
                            // Stop the other worker too.
                            next.store(pages.len(), Ordering::Relaxed);
                            break;
                        }
                    }
                }
            });
        }
    });
    if let Some(error) = failure.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner()) {
        return Err(error.into());
    }
    Ok(slots.into_iter().map(|slot| slot.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())).collect())
}

/// One page: decoded, turned upright, written as PNG (left in place, to look
/// at the pages the report names), read by the CLI.
fn cli_text(png_dir: &Path, index: usize, page: &TruthPage) -> Result<Option<String>> {
    let decoded = decode_page(&page.path, page.page_index, &Limits::default())
        .map_err(|error| format!("cannot decode {}: {error}", page.path.display()))?;
    // The stored image is turned `rotation` degrees clockwise; turning it
    // the rest of the way round makes it upright.
    let upright = match page.rotation {
        90 => image::imageops::rotate270(&decoded.gray),
        180 => image::imageops::rotate180(&decoded.gray),
        270 => image::imageops::rotate90(&decoded.gray),
        _ => decoded.gray,
    };
    let png = png_dir.join(format!("{index:04}-{}-{}-p{}.png", page.batch_id, page.record_id, page.page_no));
    upright.save(&png)?;
    let dpi = decoded.info.dpi.map(|dpi| dpi.round() as u32).or(page.dpi).unwrap_or(300);
    let output = Command::new("tesseract")
        .arg(&png)
        .args(["-", "-l", "deu", "--psm", "3", "--dpi", &dpi.to_string()])
        .env("OMP_THREAD_LIMIT", "1")
        .output()?;
    if !output.status.success() {
        eprintln!("tesseract failed on {}: {}", page_name(page), String::from_utf8_lossy(&output.stderr).trim());
        return Ok(None);
    }
    Ok(Some(String::from_utf8_lossy(&output.stdout).into_owned()))
}
