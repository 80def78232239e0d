//! A work area that cannot be written (a read-only mount) and then one that
//! is full (a tiny tmpfs) while the e-file stage writes into it: each time
//! the stage fails with an error that names the file and the cause, the
//! batch waits for an operator, nothing already done is lost, and a retry
//! once the disk is fixed files the batch.
//!
//! The mounts are made in a private user and mount namespace
//! (`unshare -rm`), so the test needs no privileges and leaves nothing
//! mounted behind.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

use crate::{BagRecord, run_ok, scan2dms, workspace_root, write_bag};

const ORDER_ID: &str = "ORD-0094-PERS";
const BATCH_ID: &str = "SSN-0094-001";

/// Runs scan2dms with `args` after `mount` (a shell command) in a namespace of its own.
fn in_namespace(data_dir: &Path, config: &Path, mount: &str, args: &[&str]) -> Output {
    Command::new("unshare")
        .args(["-rm", "sh", "-ec", &format!("{mount}\nexec \"$@\""), "sh"])
        .arg(env!("CARGO_BIN_EXE_scan2dms"))
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("SCAN2DMS_CONFIG")
        .env_remove("SCAN2DMS_DATA_DIR")
        .output()
        .unwrap()
}

fn batch(data_dir: &Path) -> Value {
    let batches: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(data_dir).args(["batches", "--json"])).stdout).unwrap();
    batches.into_iter().find(|batch| batch["batch_id"] == BATCH_ID).unwrap()
}

#[test]
fn an_unwritable_or_full_work_area_fails_clearly_and_the_batch_stays_retryable() {
    if Command::new("unshare").args(["-rm", "true"]).status().map_or(true, |status| !status.success()) {
        assert!(std::env::var_os("CI").is_none(), "CI must be able to make user namespaces (unshare -rm)");
        eprintln!("skipped: no user namespaces here");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, inbox) = (dir.path().join("data"), dir.path().join("inbox"));
    std::fs::create_dir_all(&inbox).unwrap();
    let record_id = "PN-940001";
    let pages = vec![(workspace_root().join("fixtures/images/g4-300dpi.tif"), 1)];
    write_bag(&inbox, BATCH_ID, ORDER_ID, "personnel", &[BagRecord { record_id: record_id.to_owned(), files: pages }]);
    let order = dir.path().join(format!("{ORDER_ID}.csv"));
    std::fs::write(&order, format!("record_id;series;title;box_id\n{record_id};personnel;Testakte;BOX-009400\n"))
        .unwrap();
    run_ok(scan2dms(&data_dir).args(["orders", "import"]).arg(&order));
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, "[retry]\nmax_attempts = 2\nbackoff_base_secs = 0\nbackoff_max_secs = 0\n").unwrap();

    // Validation and OCR on a healthy disk.
    run_ok(
        scan2dms(&data_dir)
            .arg("--config")
            .arg(&config)
            .args(["run", "--once", "--stages", "validate,ocr", "--inbox"])
            .arg(&inbox),
    );
    assert_eq!(batch(&data_dir)["state"], "efile_pending");
    let work = data_dir.join("batches").join(BATCH_ID);
    let efiles = work.join("efiles");
    std::fs::create_dir_all(&efiles).unwrap();
    let efiles_arg = efiles.display().to_string();
    let work_arg = work.display().to_string();

    let cases = [
        (
            "read-only",
            format!("mount --bind '{work_arg}' '{work_arg}'\nmount -o remount,bind,ro '{work_arg}'"),
            "Read-only file system",
        ),
        ("full", format!("mount -t tmpfs -o size=16k none '{efiles_arg}'"), "No space left on device"),
    ];
    for (what, mount, cause) in &cases {
        let output = in_namespace(&data_dir, &config, mount, &["run", "--once", "--stages", "efile"]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!stderr.contains("panicked"), "{what}: {stderr}");
        let state = batch(&data_dir);
        assert!(state["state"].as_str().unwrap().ends_with("_failed"), "{what}: {state}");
        let error = state["last_error"].as_str().unwrap_or_default();
        eprintln!("{what}: {error}");
        assert!(
            error.contains(cause) && error.contains("efiles"),
            "{what}: the error names neither cause nor file: {error}"
        );
        assert!(stderr.contains(cause), "{what}: the operator's terminal says nothing of it: {stderr}");
        // Nothing done before is lost: the OCR results are still there.
        let documents: Vec<Value> = serde_json::from_slice(
            &run_ok(scan2dms(&data_dir).args(["documents", "--batch", BATCH_ID, "--json"])).stdout,
        )
        .unwrap();
        assert_eq!(documents.len(), 1, "{what}");
        assert!(!documents[0]["text"].as_str().unwrap().trim().is_empty(), "{what}: the OCR text is gone");
        run_ok(scan2dms(&data_dir).arg("--config").arg(&config).args(["retry", BATCH_ID]));
        assert_eq!(batch(&data_dir)["state"], "efile_pending", "{what}: the retry resumes at the failed stage");
    }

    // The disk is fixed: the retried batch goes all the way.
    run_ok(scan2dms(&data_dir).arg("--config").arg(&config).args(["run", "--once", "--inbox"]).arg(&inbox));
    assert_eq!(batch(&data_dir)["state"], "done");
    let documents: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(&data_dir).args(["documents", "--json"])).stdout).unwrap();
    assert_eq!(documents[0]["dms"]["verified"], true, "{}", documents[0]);
}
