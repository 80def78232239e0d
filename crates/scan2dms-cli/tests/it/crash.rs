//! SIGKILL while `scan2dms run` works, restart, repeat: no delivery is lost
//! and none is registered twice.
//!
//! Kills are timed by what the process reports (its n-th progress line), not
//! by the clock, so the test is deterministic in what it checks and needs
//! no sleeps.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use serde_json::Value;

use crate::{fixture_deliveries, keep_only, prepared, run_ok, scan2dms};

#[test]
fn sigkill_during_run_loses_no_batch_and_registers_none_twice() {
    let (dir, data_dir, inbox) = prepared(&fixture_deliveries());
    let deliveries = std::fs::read_dir(&inbox).unwrap().count();
    let config = dir.path().join("pipeline.toml");
    std::fs::write(&config, "[intake]\nsettle_secs = 0\npoll_interval_ms = 20\n").unwrap();

    // Kill after the n-th line of progress of each run: early in intake,
    // mid-way through validation, and late. Runs use `--once`, so one that
    // finishes before its kill point ends the line stream instead of
    // waiting for more deliveries.
    for kill_after_lines in [1, 9, 20, 12, 6] {
        let mut child = scan2dms(&data_dir)
            .arg("--config")
            .arg(&config)
            .args(["run", "--once", "--stages", "validate", "--inbox"])
            .arg(&inbox)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = 0;
        while seen < kill_after_lines {
            match lines.next() {
                Some(Ok(_)) => seen += 1,
                _ => break,
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
    }
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));

    assert_eq!(std::fs::read_dir(&inbox).unwrap().count(), 0, "the inbox is empty");
    assert!(!data_dir.join("refused").exists(), "nothing was refused as a duplicate");
    let output = run_ok(scan2dms(&data_dir).args(["batches", "--json"]));
    let batches: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(batches.len(), deliveries, "every delivery registered");
    for batch in &batches {
        let batch_id = batch["batch_id"].as_str().unwrap();
        assert!(
            ["accepted", "rejected"].contains(&batch["state"].as_str().unwrap()),
            "{batch_id} ended in {}",
            batch["state"]
        );
        let truth: Value = serde_json::from_slice(
            &std::fs::read(fixture_deliveries().join("truth").join(format!("{batch_id}.json"))).unwrap(),
        )
        .unwrap();
        let expected_rejected = truth["expected_outcome"] == "rejected";
        let report = run_ok(scan2dms(&data_dir).args(["report", batch_id]));
        assert_eq!(
            batch["state"] == "rejected",
            expected_rejected,
            "{batch_id}: {batch}\n{}",
            String::from_utf8_lossy(&report.stdout)
        );

        let output = run_ok(scan2dms(&data_dir).args(["events", batch_id, "--json"]));
        let events: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
        let registered = events.iter().filter(|event| event["kind"] == "registered").count();
        assert_eq!(registered, 1, "{batch_id} registered once: {events:?}");
    }
}

#[test]
fn a_delivery_moved_but_not_registered_before_a_crash_is_registered_on_restart() {
    let (_dir, data_dir, inbox) = prepared(&fixture_deliveries());
    // The state a crash between the move and the registration leaves behind.
    let source = data_dir.join("batches/SSN-0007-001/source");
    std::fs::create_dir_all(&source).unwrap();
    std::fs::rename(inbox.join("SSN-0007-001"), source.join("SSN-0007-001")).unwrap();
    keep_only(&inbox, &[]);
    run_ok(scan2dms(&data_dir).args(["run", "--once", "--stages", "validate", "--inbox"]).arg(&inbox));
    let output = run_ok(scan2dms(&data_dir).args(["batches", "--json"]));
    let batches: Vec<Value> = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0]["state"], "accepted");
}
