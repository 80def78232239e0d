//! The processing stages end to end on fixture deliveries: documents split
//! as the truth says, warnings as the truth says, and each e-file a PDF/A
//! whose text layer reads like the truth text.

use std::collections::{BTreeMap, BTreeSet};

use scan2dms_ocr::quality::{character_error_rate, order_free_word_error};
use serde_json::Value;

use crate::{fixture_deliveries, keep_only, prepared, run_ok, scan2dms};

/// Accepted fixture batches that exercise the stages: G4 pages numbered by
/// index.csv, a rough JPEG batch split by separator sheets (rotated, blank
/// and 200-dpi pages), a blank back side, a 200-dpi page, a page stored
/// upside down.
const BATCHES: [&str; 5] = ["SSN-0007-001", "SSN-0007-002", "SSN-0007-028", "SSN-0007-029", "SSN-0007-030"];

fn truth(batch_id: &str) -> Value {
    serde_json::from_slice(&std::fs::read(fixture_deliveries().join("truth").join(format!("{batch_id}.json"))).unwrap())
        .unwrap()
}

fn finding_keys(findings: &Value, codes: &[&str]) -> BTreeSet<(String, String, u64)> {
    findings
        .as_array()
        .into_iter()
        .flatten()
        .filter(|finding| codes.contains(&finding["code"].as_str().unwrap_or("")))
        .map(|finding| {
            (
                finding["code"].as_str().unwrap().to_owned(),
                finding["record_id"].as_str().unwrap_or("").to_owned(),
                finding["page_no"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

#[test]
fn accepted_batches_become_documents_and_pdfa_efiles_that_read_like_the_truth() {
    let (dir, data_dir, inbox) = prepared(&fixture_deliveries());
    keep_only(&inbox, &BATCHES);
    // The default target (the built-in DMS simulator), keeping the e-files
    // after verification so they can be read here.
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, "[dms]\nkeep_staging = true\n").unwrap();
    // At the most talkative log level, for the check of what the logs hold.
    let run = run_ok(
        scan2dms(&data_dir)
            .arg("--config")
            .arg(&config)
            .args(["--log", "debug", "run", "--once", "--inbox"])
            .arg(&inbox),
    );

    // Every document went into the DMS: one folder per record, the document
    // once, with its index data, its bytes those of the e-file, verified.
    let stored: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(&data_dir.join("dms-sim")).args(["dms-sim", "dump", "--json"])).stdout)
            .unwrap();
    let all_documents: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(&data_dir).args(["documents", "--json"])).stdout).unwrap();
    let records: BTreeSet<&str> =
        all_documents.iter().map(|document| document["record_id"].as_str().unwrap()).collect();
    let folder_keys: Vec<&str> = stored
        .iter()
        .filter(|object| object["kind"] == "folder")
        .map(|object| object["fields"]["Aktenzeichen"].as_str().unwrap())
        .collect();
    assert_eq!(folder_keys.len(), records.len(), "one folder per record");
    assert_eq!(folder_keys.iter().copied().collect::<BTreeSet<_>>(), records);
    let stored_documents: BTreeMap<&str, &Value> = stored
        .iter()
        .filter(|object| object["kind"] == "document")
        .map(|object| (object["id"].as_str().unwrap(), object))
        .collect();
    assert_eq!(stored_documents.len(), all_documents.len(), "each document once");
    for document in &all_documents {
        assert_eq!(document["state"], "verified", "{document}");
        assert_eq!(document["dms"]["verified"], true);
        let object = stored_documents[document["dms"]["object_id"].as_str().unwrap()];
        assert_eq!(object["content_sha256"], document["efile"]["sha256"]);
        assert_eq!(object["fields"]["record_id"], document["record_id"]);
        assert_eq!(object["fields"]["document_no"], document["document_no"].to_string());
    }

    let mut problems = Vec::new();
    let mut errors = Vec::new();
    // (page, image file, truth text, our word and character error) for the
    // comparison with tesseract's CLI.
    let mut peers = Vec::new();
    for batch_id in BATCHES {
        let truth = truth(batch_id);
        let output = run_ok(scan2dms(&data_dir).args(["documents", "--batch", batch_id, "--json"]));
        let documents: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();

        // Document boundaries: the truth's documents, separator sheets left out.
        let expected: BTreeSet<(String, u64, Vec<u64>)> = truth["documents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|document| {
                let pages = document["pages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|page| page["separator"] != true)
                    .map(|page| page["page_no"].as_u64().unwrap())
                    .collect();
                (document["record_id"].as_str().unwrap().to_owned(), document["document_no"].as_u64().unwrap(), pages)
            })
            .collect();
        let found: BTreeSet<(String, u64, Vec<u64>)> = documents
            .iter()
            .map(|document| {
                let pages = document["pages"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|page| page["page_no"].as_u64().unwrap())
                    .collect();
                (document["record_id"].as_str().unwrap().to_owned(), document["document_no"].as_u64().unwrap(), pages)
            })
            .collect();
        if expected != found {
            problems.push(format!("{batch_id}: documents {found:?}, truth {expected:?}"));
        }

        // Warnings the processing decides, page by page.
        let report = run_ok(scan2dms(&data_dir).args(["report", batch_id, "--json"]));
        let report: Value = serde_json::from_slice(&report.stdout).unwrap();
        let codes = ["blank_page", "rotated_page", "low_dpi"];
        let (wanted, got) = (finding_keys(&truth["warnings"], &codes), finding_keys(&report["warnings"], &codes));
        if wanted != got {
            problems.push(format!("{batch_id}: warnings {got:?}, truth {wanted:?}"));
        }

        // Text per page against the truth, through the e-file's text layer.
        let truth_pages: BTreeMap<(String, u64), (&str, bool)> = truth["documents"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|document| {
                let record_id = document["record_id"].as_str().unwrap().to_owned();
                document["pages"].as_array().unwrap().iter().map(move |page| {
                    (
                        (record_id.clone(), page["page_no"].as_u64().unwrap()),
                        (page["text"].as_str().unwrap(), page["blank"] == true),
                    )
                })
            })
            .collect();
        for document in &documents {
            let record_id = document["record_id"].as_str().unwrap().to_owned();
            let efile = &document["efile"];
            let path = data_dir.join(efile["path"].as_str().unwrap());
            let bytes = std::fs::read(&path).unwrap();
            assert_eq!(bytes.len() as u64, efile["bytes"].as_u64().unwrap(), "{}", path.display());
            let violations = scan2dms_efile::pdfa_checks::check_pdfa(&bytes);
            if !violations.is_empty() {
                problems.push(format!("{}: PDF/A violations {violations:?}", path.display()));
            }
            let check = std::process::Command::new("qpdf").arg("--check").arg(&path).output().unwrap();
            if !check.status.success() {
                problems.push(format!("{}: qpdf --check failed", path.display()));
            }
            let pages = document["pages"].as_array().unwrap();
            for (index, page) in pages.iter().enumerate() {
                let page_no = page["page_no"].as_u64().unwrap();
                let (truth_text, blank) = truth_pages[&(record_id.clone(), page_no)];
                let status = page["status"].as_str().unwrap();
                if blank {
                    continue;
                }
                if status != "ok" {
                    problems.push(format!("{batch_id} {record_id} page {page_no}: status {status}"));
                    continue;
                }
                let text = std::process::Command::new("pdftotext")
                    .args(["-f", &(index + 1).to_string(), "-l", &(index + 1).to_string()])
                    .arg(&path)
                    .arg("-")
                    .output()
                    .unwrap();
                let text = String::from_utf8_lossy(&text.stdout).into_owned();
                let ours = (order_free_word_error(truth_text, &text), character_error_rate(truth_text, &text));
                let source = data_dir
                    .join(format!("batches/{batch_id}/source/{batch_id}/data"))
                    .join(page["file"].as_str().unwrap());
                let single_image =
                    page["file_page"] == 1 && source.extension().is_none_or(|extension| extension != "pdf");
                if single_image {
                    peers.push((format!("{batch_id} {record_id} page {page_no}"), source, truth_text.to_owned(), ours));
                }
                errors.push(ours.0);
            }
        }
    }
    assert!(errors.len() >= 25, "only {} pages read back", errors.len());

    // The same pages through `tesseract` itself (two at a time): the text
    // layer of our e-files must read no worse than the engine's own CLI.
    let cli_errors: Vec<(f64, f64)> = std::thread::scope(|scope| {
        let halves: Vec<_> = peers
            .chunks(peers.len().div_ceil(2).max(1))
            .map(|chunk| {
                scope.spawn(move || {
                    chunk
                        .iter()
                        .map(|(_, image, truth_text, _)| {
                            let output = std::process::Command::new("tesseract")
                                .arg(image)
                                .args(["-", "-l", "deu", "--psm", "3"])
                                .env("OMP_THREAD_LIMIT", "1")
                                .output()
                                .unwrap();
                            let text = String::from_utf8_lossy(&output.stdout);
                            (order_free_word_error(truth_text, &text), character_error_rate(truth_text, &text))
                        })
                        .collect::<Vec<(f64, f64)>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|half| half.join().unwrap()).collect()
    });
    let mean = |values: &mut dyn Iterator<Item = f64>| {
        let values: Vec<f64> = values.collect();
        values.iter().sum::<f64>() / values.len().max(1) as f64
    };
    let (our_words, our_chars) =
        (mean(&mut peers.iter().map(|peer| peer.3.0)), mean(&mut peers.iter().map(|peer| peer.3.1)));
    let (cli_words, cli_chars) =
        (mean(&mut cli_errors.iter().map(|error| error.0)), mean(&mut cli_errors.iter().map(|error| error.1)));
    eprintln!(
        "over {} pages: order-free word error scan2dms {our_words:.3}, tesseract CLI {cli_words:.3}; \
         character error rate scan2dms {our_chars:.3}, tesseract CLI {cli_chars:.3}",
        peers.len()
    );
    for ((name, _, _, ours), cli) in peers.iter().zip(&cli_errors) {
        if ours.0 > cli.0 + 0.05 {
            problems.push(format!("{name}: word error {:.3}, tesseract CLI {:.3}", ours.0, cli.0));
        }
    }
    assert!(peers.len() >= 20, "only {} pages compared with the CLI", peers.len());
    assert!(our_words <= cli_words + 0.01, "e-files read worse than tesseract's CLI (words)");
    assert!(our_chars <= cli_chars + 0.01, "e-files read worse than tesseract's CLI (characters)");
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // The logs and the event log carry ids, counts and codes: never a name
    // from the order lists, never a line of page text.
    let mut logs = String::from_utf8_lossy(&run.stderr).into_owned();
    for batch_id in BATCHES {
        logs.push_str(&String::from_utf8_lossy(&run_ok(scan2dms(&data_dir).args(["events", batch_id])).stdout));
    }
    assert!(logs.lines().count() > 100, "the debug log is too short to judge: {logs}");
    let orders = std::fs::read_dir(fixture_deliveries().join("orders")).unwrap();
    let names: BTreeSet<String> = orders
        .flat_map(|order| {
            let text = std::fs::read_to_string(order.unwrap().path()).unwrap();
            let titles: Vec<String> =
                text.lines().skip(1).map(|line| line.split(';').nth(2).unwrap().to_owned()).collect();
            titles
        })
        .flat_map(|title| {
            title
                .split(|c: char| !c.is_alphabetic())
                .filter(|word| word.chars().count() >= 4)
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(names.len() > 10, "{names:?}");
    let log_words: BTreeSet<&str> = logs.split(|c: char| !c.is_alphabetic()).collect();
    let leaked: Vec<&String> = names.iter().filter(|name| log_words.contains(name.as_str())).collect();
    assert!(leaked.is_empty(), "names from the order lists in the logs: {leaked:?}");
    let page_lines: BTreeSet<String> = all_documents
        .iter()
        .flat_map(|document| {
            document["text"].as_str().unwrap().lines().map(|line| line.trim().to_owned()).collect::<Vec<_>>()
        })
        .filter(|line| line.chars().count() >= 20)
        .collect();
    assert!(page_lines.len() > 50, "too little page text to judge: {}", page_lines.len());
    let leaked: Vec<&String> = page_lines.iter().filter(|line| logs.contains(line.as_str())).collect();
    assert!(leaked.is_empty(), "page text in the logs: {leaked:?}");
}
