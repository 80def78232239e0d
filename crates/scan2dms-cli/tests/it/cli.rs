//! The command line contract: exit codes, reports, refusals, retries.

use expect_test::expect;

use crate::{fixture_deliveries, keep_only, prepared, run_ok, scan2dms};

fn batch(id: &str) -> std::path::PathBuf {
    fixture_deliveries().join("batches").join(id)
}

#[test]
fn validate_exits_0_accepted_1_rejected_2_could_not_run() {
    let dir = tempfile::tempdir().unwrap();
    let orders = fixture_deliveries().join("orders");
    let status = |path: std::path::PathBuf| {
        scan2dms(dir.path()).arg("validate").arg(path).arg("--orders").arg(&orders).output().unwrap().status.code()
    };
    assert_eq!(status(batch("SSN-0007-001")), Some(0));
    assert_eq!(status(batch("SSN-0007-014")), Some(1));
    assert_eq!(status(batch("SSN-0007-025.zip")), Some(1), "zip slip is a rejection, not a crash");
    assert_eq!(status(batch("does-not-exist")), Some(2));

    let without_orders =
        scan2dms(&dir.path().join("nothing-here")).arg("validate").arg(batch("SSN-0007-001")).output().unwrap();
    assert_eq!(without_orders.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&without_orders.stderr).contains("pass --orders DIR"));
    assert!(!dir.path().join("nothing-here").exists(), "a stateless check creates no data directory");
}

#[test]
fn the_rejection_report_names_record_page_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let orders = fixture_deliveries().join("orders");
    let output =
        scan2dms(dir.path()).arg("validate").arg(batch("SSN-0007-014")).arg("--orders").arg(&orders).output().unwrap();
    expect![[r#"
        batch SSN-0007-014: REJECTED
        reasons (1):
          - page_gap [record KZ-2300-7123436, page 2, file data/index.csv]: page_no 2 is missing (next is 3)
        note: no delivery history: duplicate deliveries and Replaces-Batch were not checked
    "#]]
    .assert_eq(&String::from_utf8_lossy(&output.stdout));

    let output = scan2dms(dir.path())
        .arg("validate")
        .arg(batch("SSN-0007-014"))
        .arg("--orders")
        .arg(&orders)
        .arg("--json")
        .output()
        .unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["batch_id"], "SSN-0007-014");
    assert_eq!(report["outcome"], "rejected");
    assert_eq!(report["reasons"][0]["code"], "page_gap");
    assert_eq!(report["warnings"], serde_json::json!([]));
}

#[test]
fn bag_validate_judges_any_bag() {
    let dir = tempfile::tempdir().unwrap();
    let code = |path: std::path::PathBuf| {
        scan2dms(dir.path()).args(["bag", "validate"]).arg(path).output().unwrap().status.code()
    };
    assert_eq!(code(batch("SSN-0007-001")), Some(0));
    // A page-gap batch is a perfectly good bag: BagIt does not read CSVs.
    assert_eq!(code(batch("SSN-0007-014")), Some(0));
    assert_eq!(code(batch("SSN-0007-003")), Some(1), "checksum mismatch");
    assert_eq!(code(batch("does-not-exist")), Some(2));
    let output = scan2dms(dir.path()).args(["bag", "validate", "--json"]).arg(batch("SSN-0007-006")).output().unwrap();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["valid"], false);
    assert_eq!(report["findings"][0]["kind"], "oxum_mismatch");
}

#[test]
fn a_broken_order_list_imports_nothing_and_names_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let good = fixture_deliveries().join("orders").join("ORD-0007-PERS.csv");
    let bad = dir.path().join("ORD-BAD.csv");
    std::fs::write(&bad, "record_id;series;title;box_id\nPN-000001;personnel;A;BOX-1\nPN-12;personnel;B;BOX-1\n")
        .unwrap();
    let output = scan2dms(&dir.path().join("data")).args(["orders", "import"]).arg(&good).arg(&bad).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("ORD-BAD.csv") && stderr.contains("line 3") && stderr.contains("PN-12"), "{stderr}");
    let listed = run_ok(scan2dms(&dir.path().join("data")).args(["orders", "list", "--json"]));
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&listed.stdout).unwrap(), serde_json::json!([]));
}

#[test]
fn stray_inbox_entries_are_refused_with_a_reason_never_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    std::fs::write(inbox.join("notes.txt"), "hello").unwrap();
    std::fs::create_dir(inbox.join("not a batch id")).unwrap();
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));
    assert_eq!(std::fs::read_dir(&inbox).unwrap().count(), 0);
    let mut reasons: Vec<String> = std::fs::read_dir(data_dir.join("refused"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".reason.txt"))
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    reasons.sort();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    assert!(reasons[0].starts_with("not a batch id: batch id"), "{reasons:?}");
    assert!(reasons[1].starts_with("notes.txt: not a bag directory"), "{reasons:?}");
}

#[test]
fn a_rejected_batch_can_be_validated_again_after_its_order_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("data");
    let inbox = dir.path().join("inbox");
    crate::copy_tree(&batch("SSN-0007-001"), &inbox.join("SSN-0007-001"));
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));
    let report = run_ok(scan2dms(&data_dir).args(["report", "SSN-0007-001", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["reasons"][0]["code"], "unknown_order");

    let orders: Vec<_> =
        std::fs::read_dir(fixture_deliveries().join("orders")).unwrap().map(|entry| entry.unwrap().path()).collect();
    run_ok(scan2dms(&data_dir).args(["orders", "import"]).args(&orders));
    let retried = run_ok(scan2dms(&data_dir).args(["retry", "SSN-0007-001"]));
    assert!(String::from_utf8_lossy(&retried.stdout).contains("rejected -> received"));
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));
    let batches = run_ok(scan2dms(&data_dir).args(["batches", "--json"]));
    let batches: serde_json::Value = serde_json::from_slice(&batches.stdout).unwrap();
    assert_eq!(batches[0]["state"], "accepted");
    assert_eq!(batches[0]["outcome"], "accepted");

    let events = run_ok(scan2dms(&data_dir).args(["events", "SSN-0007-001", "--json"]));
    let kinds: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&events.stdout)
        .unwrap()
        .iter()
        .map(|event| event["kind"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(kinds, ["registered", "claimed", "rejected", "retry_requested", "claimed", "accepted"]);

    let wrong = scan2dms(&data_dir).args(["retry", "SSN-0007-001", "--from-stage", "push"]).output().unwrap();
    assert_eq!(wrong.status.code(), Some(2), "an accepted batch waiting for OCR has nothing to retry");
}

#[test]
fn status_counts_batches_and_order_progress() {
    let (_dir, data_dir, inbox) = prepared(&fixture_deliveries());
    keep_only(&inbox, &["SSN-0007-001", "SSN-0007-014"]);
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));
    let status = run_ok(scan2dms(&data_dir).args(["status", "--json"]));
    let status: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(status["batches"], serde_json::json!({"accepted": 1, "rejected": 1}));
    let delivered: u64 =
        status["orders"].as_array().unwrap().iter().map(|order| order["delivered"].as_u64().unwrap()).sum();
    assert_eq!(delivered, 2, "SSN-0007-001 delivers two records");
}

#[test]
fn a_tar_delivery_is_unpacked_and_accepted() {
    let (dir, data_dir, inbox) = prepared(&fixture_deliveries());
    keep_only(&inbox, &[]);
    let tar = dir.path().join("SSN-0007-001.tar");
    let status = std::process::Command::new("tar")
        .arg("-cf")
        .arg(&tar)
        .arg("-C")
        .arg(fixture_deliveries().join("batches"))
        .arg("SSN-0007-001")
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::rename(&tar, inbox.join("SSN-0007-001.tar")).unwrap();
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));
    let report = run_ok(scan2dms(&data_dir).args(["report", "SSN-0007-001", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(report["outcome"], "accepted", "{report}");
    assert!(data_dir.join("batches/SSN-0007-001/bag/SSN-0007-001/bagit.txt").is_file());
}
