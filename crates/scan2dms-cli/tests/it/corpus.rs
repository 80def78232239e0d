//! Every generated delivery validates to its ground truth: the outcome, and
//! for a rejected batch its reason codes. Warnings that need the OCR stage
//! (rotated and blank pages, printed keys) are not decided by validation;
//! `low_dpi` is, and must match the truth page by page.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::{fixture_deliveries, prepared, run_ok, scan2dms, shared_deliveries};

/// Warnings validation decides on its own.
const VALIDATION_WARNINGS: [&str; 2] = ["low_dpi", "unreferenced_file"];

fn codes(findings: &Value) -> BTreeSet<String> {
    findings.as_array().into_iter().flatten().map(|finding| finding["code"].as_str().unwrap_or("").to_owned()).collect()
}

fn low_dpi_pages(findings: &Value) -> BTreeSet<(String, u64)> {
    findings
        .as_array()
        .into_iter()
        .flatten()
        .filter(|finding| finding["code"] == "low_dpi")
        .map(|finding| {
            (finding["record_id"].as_str().unwrap_or("").to_owned(), finding["page_no"].as_u64().unwrap_or(0))
        })
        .collect()
}

/// Runs the whole delivery set through `scan2dms run --once` and returns one
/// line per disagreement with the truth.
fn disagreements(deliveries: &Path) -> Vec<String> {
    let (_dir, data_dir, inbox) = prepared(deliveries);
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));

    let mut truths: Vec<Value> = std::fs::read_dir(deliveries.join("truth"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("SSN-")))
        .map(|path| serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap())
        .collect();
    truths.sort_by_key(|truth| truth["seq"].as_u64());
    assert!(!truths.is_empty(), "no truth files in {}", deliveries.display());

    let mut problems = Vec::new();
    for truth in &truths {
        let batch_id = truth["batch_id"].as_str().unwrap();
        let output = run_ok(scan2dms(&data_dir).args(["report", batch_id, "--json"]));
        let report: Value = serde_json::from_slice(&output.stdout).unwrap();
        let expected = truth["expected_outcome"].as_str().unwrap();
        let outcome = report["outcome"].as_str().unwrap();
        let acceptable: BTreeSet<String> = truth["also_acceptable"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|code| code.as_str().map(str::to_owned))
            .collect();
        if expected == "rejected" {
            let wanted = codes(&truth["reasons"]);
            let found = codes(&report["reasons"]);
            if outcome != "rejected"
                || !wanted.is_subset(&found)
                || !found.iter().all(|code| wanted.contains(code) || acceptable.contains(code))
            {
                problems.push(format!("{batch_id}: expected rejected {wanted:?}, got {outcome} {found:?}"));
            }
        } else {
            if outcome == "rejected" {
                problems.push(format!("{batch_id}: expected {expected}, got rejected {:?}", report["reasons"]));
                continue;
            }
            let truth_warnings = codes(&truth["warnings"]);
            for code in codes(&report["warnings"]) {
                if !truth_warnings.contains(&code) && !acceptable.contains(&code) {
                    problems.push(format!("{batch_id}: warning {code} is not in the truth"));
                }
                if !VALIDATION_WARNINGS.contains(&code.as_str()) {
                    problems.push(format!("{batch_id}: validation reported {code}, which it cannot decide"));
                }
            }
            let (wanted, found) = (low_dpi_pages(&truth["warnings"]), low_dpi_pages(&report["warnings"]));
            if wanted != found {
                problems.push(format!("{batch_id}: low_dpi pages expected {wanted:?}, got {found:?}"));
            }
        }
    }
    problems
}

#[test]
fn fixture_deliveries_validate_to_their_truth() {
    let problems = disagreements(&fixture_deliveries());
    assert!(problems.is_empty(), "disagreements with the truth:\n{}", problems.join("\n"));
}

#[test]
fn shared_corpus_validates_to_its_truth() {
    let Some(deliveries) = shared_deliveries() else {
        eprintln!("note: ../shared/corpus/deliveries is absent; the fixture sample covers the same codes");
        return;
    };
    let problems = disagreements(&deliveries);
    assert!(problems.is_empty(), "disagreements with the truth:\n{}", problems.join("\n"));
}

#[test]
fn the_fixture_sample_covers_every_reason_code() {
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(fixture_deliveries().join("truth")).unwrap() {
        let truth: Value = serde_json::from_slice(&std::fs::read(entry.unwrap().path()).unwrap()).unwrap();
        covered.extend(codes(&truth["reasons"]));
    }
    let missing: Vec<&str> = scan2dms_model::ReasonCode::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| !covered.contains(*code))
        .collect();
    assert!(missing.is_empty(), "reason codes without a fixture: {missing:?}");
}
