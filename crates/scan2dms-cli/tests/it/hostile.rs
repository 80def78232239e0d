//! Every file of the shared corpus's `malformed/` and `scans/` folders goes
//! through the whole pipeline, each in a delivery of its own, and must end
//! with a clear status: a rejected batch whose reason names the file, or an
//! accepted batch whose pages each carry a status and whose documents became
//! e-files. No panic, no hang, no stage given up on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::{BagRecord, run_ok, scan2dms, workspace_root, write_bag};
use serde_json::Value;

/// Image formats of the delivery format; anything else in the folders
/// (ground truth, METS, licences) is not a page.
const PAGE_EXTENSIONS: [&str; 6] = ["tif", "tiff", "png", "jpg", "jpeg", "pdf"];

/// Longer than any honest run of these files takes, short of forever.
const HANG_GUARD: Duration = Duration::from_secs(30 * 60);

const ORDER_ID: &str = "ORD-0099-PERS";

fn corpus_files() -> Option<Vec<PathBuf>> {
    let corpus = workspace_root().join("../shared/corpus");
    if !corpus.join("malformed").is_dir() {
        return None;
    }
    let mut files = Vec::new();
    for folder in ["malformed", "scans"] {
        collect(&corpus.join(folder), &mut files);
    }
    files.sort();
    Some(files)
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(&path, files);
        } else if path
            .extension()
            .is_some_and(|extension| PAGE_EXTENSIONS.contains(&extension.to_string_lossy().to_lowercase().as_str()))
        {
            files.push(path);
        }
    }
}

/// The pages a file says it has, or 1 when it cannot tell (the pipeline
/// then judges it). Probing runs on a thread of its own so a probe that
/// never returns fails the test instead of hanging it.
fn page_count(path: &Path) -> u32 {
    let (sender, receiver) = std::sync::mpsc::channel();
    let owned = path.to_owned();
    std::thread::spawn(move || {
        let limits = scan2dms_imaging::Limits::default();
        let _ = sender.send(scan2dms_imaging::probe(&owned, &limits).map(|info| info.pages.len()));
    });
    match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(pages)) => (pages as u32).clamp(1, 20),
        Ok(Err(_)) => 1,
        Err(_) => panic!("probing {} does not return", path.display()),
    }
}

/// A valid bag around one file: a record of one page per page of the file.
fn write_delivery(inbox: &Path, batch_id: &str, record_id: &str, source: &Path) -> u32 {
    let pages = page_count(source);
    let record = BagRecord { record_id: record_id.to_owned(), files: vec![(source.to_owned(), pages)] };
    write_bag(inbox, batch_id, ORDER_ID, "personnel", &[record]);
    pages
}

/// Runs the command to its end, or kills it and fails after the guard.
fn run_guarded(mut command: Command) {
    let mut child = command.stdout(std::process::Stdio::null()).spawn().unwrap();
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{command:?} ended with {status}");
            return;
        }
        if started.elapsed() > HANG_GUARD {
            let _ = child.kill();
            panic!("{command:?} still running after {HANG_GUARD:?}: a page hangs the pipeline");
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn json(data_dir: &Path, args: &[&str]) -> Value {
    serde_json::from_slice(&run_ok(scan2dms(data_dir).args(args)).stdout).unwrap()
}

#[test]
fn every_malformed_and_real_scan_ends_with_a_clear_status() {
    let Some(files) = corpus_files() else {
        eprintln!("skipped: ../shared/corpus is not next to this checkout");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, inbox) = (dir.path().join("data"), dir.path().join("inbox"));
    std::fs::create_dir_all(&inbox).unwrap();

    let mut order = String::from("record_id;series;title;box_id\n");
    let mut expected = BTreeMap::new();
    for (index, file) in files.iter().enumerate() {
        let batch_id = format!("SSN-0099-{:03}", index + 1);
        let record_id = format!("PN-99{:04}", index + 1);
        let pages = write_delivery(&inbox, &batch_id, &record_id, file);
        order.push_str(&format!("{record_id};personnel;Testakte;BOX-009900\n"));
        expected.insert(batch_id, (file.clone(), pages));
    }
    let order_file = dir.path().join(format!("{ORDER_ID}.csv"));
    std::fs::write(&order_file, order).unwrap();
    run_ok(scan2dms(&data_dir).args(["orders", "import"]).arg(&order_file));

    let mut run = scan2dms(&data_dir);
    run.args(["run", "--once", "--inbox"]).arg(&inbox);
    run_guarded(run);

    let batches: BTreeMap<String, Value> = json(&data_dir, &["batches", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|batch| (batch["batch_id"].as_str().unwrap().to_owned(), batch.clone()))
        .collect();
    let mut problems = Vec::new();
    let mut tally: BTreeMap<String, usize> = BTreeMap::new();
    for (batch_id, (file, pages)) in &expected {
        let name = file.strip_prefix(workspace_root().join("../shared/corpus")).unwrap_or(file).display().to_string();
        let Some(batch) = batches.get(batch_id) else {
            problems.push(format!("{name}: no batch {batch_id}"));
            continue;
        };
        let state = batch["state"].as_str().unwrap();
        match state {
            "rejected" => {
                let report = json(&data_dir, &["report", batch_id, "--json"]);
                let reasons = report["reasons"].as_array().unwrap();
                let about_the_image = reasons.iter().any(|reason| {
                    reason["file"].as_str().is_some_and(|file| file.starts_with("images/"))
                        && !reason["detail"].as_str().unwrap_or("").is_empty()
                });
                // The contractor's report names files by their place in the
                // bag, never by where they sit in our work area.
                if let Some(leak) =
                    reasons.iter().find(|reason| reason["detail"].as_str().unwrap_or("").contains("/batches/"))
                {
                    problems.push(format!("{name}: report detail shows an internal path: {leak}"));
                }
                if !about_the_image {
                    problems.push(format!("{name}: rejected without a reason naming the image: {reasons:?}"));
                }
                for reason in reasons {
                    *tally.entry(format!("rejected {}", reason["code"].as_str().unwrap())).or_default() += 1;
                    eprintln!("{name}: rejected {}: {}", reason["code"], reason["detail"]);
                }
            }
            "done" => {
                let documents = json(&data_dir, &["documents", "--batch", batch_id, "--json"]);
                let documents = documents.as_array().unwrap();
                let mut seen = 0;
                for document in documents {
                    if document["efile"].is_null() || document["dms"]["verified"] != true {
                        problems.push(format!("{name}: document without an e-file verified in the dms"));
                    }
                    for page in document["pages"].as_array().unwrap() {
                        let status = page["status"].as_str().unwrap_or("");
                        if !["ok", "empty", "failed", "timeout"].contains(&status) {
                            problems.push(format!("{name}: page status {status:?}"));
                        }
                        *tally.entry(format!("page {status}")).or_default() += 1;
                        seen += 1;
                    }
                }
                eprintln!("{name}: accepted, {seen} page(s) in {} document(s)", documents.len());
                // Separator sheets and dropped blanks leave the documents.
                if seen == 0 || seen > *pages {
                    problems.push(format!("{name}: {seen} page(s) in documents, {pages} delivered"));
                }
            }
            other => problems.push(format!("{name}: ended as {other} ({})", batch["last_error"])),
        }
    }
    eprintln!("{} files: {tally:?}", expected.len());
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}
