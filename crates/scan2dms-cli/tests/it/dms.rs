//! The DMS stages against the simulator as a separate process, the way a
//! real enaio gateway is reached: a dozen batches pushed while the simulator
//! fails a fifth of its requests (503 at once, 503 after a stall past the
//! client's timeout) and drops a fifth of its insert answers after
//! committing, and while scan2dms itself is killed in the middle of pushing
//! and started again. At the end every document is in the DMS exactly once,
//! in its record's folder, with its index data and its exact bytes, and
//! verified.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

use crate::{run_ok, scan2dms, two_record_batches};

const ORDER_ID: &str = "ORD-0098-PERS";
const BATCHES: usize = 12;

/// The simulator as a child process, killed when dropped.
pub(crate) struct SimProcess {
    child: Child,
    stdout: BufReader<std::process::ChildStdout>,
    pub(crate) base_url: String,
}

impl SimProcess {
    pub(crate) fn start(data_dir: &Path, fault_rate: f64, drop_after_commit: f64) -> SimProcess {
        SimProcess::start_at(data_dir, "127.0.0.1:0", fault_rate, drop_after_commit, 7)
    }

    /// Starts it on `listen` (a fixed port lets it come back where it was),
    /// its faults drawn from `seed`.
    pub(crate) fn start_at(
        data_dir: &Path,
        listen: &str,
        fault_rate: f64,
        drop_after_commit: f64,
        seed: u64,
    ) -> SimProcess {
        let mut child = scan2dms(data_dir)
            .args(["dms-sim", "serve", "--listen", listen, "--user", "scan2dms", "--password", "geheim"])
            .args(["--fault-rate", &fault_rate.to_string(), "--drop-after-commit", &drop_after_commit.to_string()])
            .args(["--latency-ms", "5", "--seed", &seed.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let base_url = line
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {line:?}"))
            .to_owned();
        SimProcess { child, stdout, base_url }
    }

    /// Stops it with SIGTERM and returns its closing line of counts.
    pub(crate) fn stop(mut self) -> String {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(status.success());
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        rest
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `scan2dms run --once` and kills it (SIGKILL) right after its
/// `kill_after`-th "push done" line, while the other stage slot is still
/// pushing; `None` lets it finish.
fn run_until(data_dir: &Path, config: &Path, inbox: &Path, kill_after: Option<usize>) {
    // The password reaches the config through ${SIM_PASSWORD}, as a secret should.
    let mut child = scan2dms(data_dir)
        .env("SIM_PASSWORD", "geheim")
        .arg("--config")
        .arg(config)
        .args(["run", "--once", "--inbox"])
        .arg(inbox)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut pushed = 0;
    for line in BufReader::new(stderr).lines() {
        let Ok(line) = line else { break };
        if line.ends_with("push done") {
            pushed += 1;
            if Some(pushed) == kill_after {
                child.kill().unwrap();
                break;
            }
        }
    }
    let status = child.wait().unwrap();
    if kill_after.is_none() {
        assert!(status.success(), "the last run ended with {status}");
    }
}

#[test]
fn every_document_is_in_the_dms_once_despite_faults_and_kills() {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, inbox, sim_dir) = (dir.path().join("data"), dir.path().join("inbox"), dir.path().join("dms"));
    std::fs::create_dir_all(&inbox).unwrap();

    // Twelve batches of two records each, from the fixture page images.
    let (_, order) = two_record_batches(&inbox, 98, ORDER_ID, BATCHES);
    let order_file = dir.path().join(format!("{ORDER_ID}.csv"));
    std::fs::write(&order_file, order).unwrap();
    run_ok(scan2dms(&data_dir).args(["orders", "import"]).arg(&order_file));

    let sim = SimProcess::start(&sim_dir, 0.2, 0.2);
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            "[intake]\nsettle_secs = 0\npoll_interval_ms = 50\n\
             [retry]\nmax_attempts = 20\nbackoff_base_secs = 0\nbackoff_max_secs = 1\n\
             [dms]\ntarget = \"enaio\"\nurl = \"{}\"\nuser = \"scan2dms\"\npassword = \"${{SIM_PASSWORD}}\"\n\
             request_timeout_secs = 1\nrate_limit_per_sec = 0\nmax_attempts = 8\n\
             [dms.fields]\ntitle = \"Aktenbezeichnung\"\n",
            sim.base_url
        ),
    )
    .unwrap();
    // Kill during the push three times, then let it finish.
    for kill_after in [Some(1), Some(2), Some(3), None] {
        run_until(&data_dir, &config, &inbox, kill_after);
    }

    let batches: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(&data_dir).args(["batches", "--json"])).stdout).unwrap();
    assert_eq!(batches.len(), BATCHES);
    for batch in &batches {
        assert_eq!(batch["state"], "done", "{batch}");
    }
    let documents: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(&data_dir).args(["documents", "--json"])).stdout).unwrap();
    assert_eq!(documents.len(), 2 * BATCHES);
    let efiles_left =
        data_dir.join("batches").read_dir().unwrap().any(|batch| batch.unwrap().path().join("efiles").exists());
    assert!(!efiles_left, "the staging e-files are deleted once verified");

    let stored: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(&sim_dir).args(["dms-sim", "dump", "--json"])).stdout).unwrap();
    let folders: BTreeMap<&str, &Value> = stored
        .iter()
        .filter(|object| object["kind"] == "folder")
        .map(|object| (object["id"].as_str().unwrap(), object))
        .collect();
    let registers: BTreeMap<&str, &Value> = stored
        .iter()
        .filter(|object| object["kind"] == "register")
        .map(|object| (object["id"].as_str().unwrap(), object))
        .collect();
    let stored_documents: Vec<&Value> = stored.iter().filter(|object| object["kind"] == "document").collect();

    // One folder per record, found by its key, with the order's index data
    // under the mapped field name; one register in each.
    let keys: Vec<&str> = folders.values().map(|folder| folder["fields"]["Aktenzeichen"].as_str().unwrap()).collect();
    assert_eq!(keys.len(), 2 * BATCHES, "one folder per record: {keys:?}");
    assert_eq!(keys.iter().collect::<BTreeSet<_>>().len(), keys.len(), "no record has two folders");
    for folder in folders.values() {
        let key = folder["fields"]["Aktenzeichen"].as_str().unwrap();
        assert_eq!(folder["fields"]["Aktenbezeichnung"], format!("Testakte {key}"), "{folder}");
        assert_eq!(folder["fields"]["series"], "personnel", "{folder}");
    }
    assert_eq!(registers.len(), folders.len(), "one register per folder");

    // Each document exactly once, in its record's folder, its bytes those
    // of the e-file, verified.
    let mut by_external_id: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for object in &stored_documents {
        by_external_id.entry(object["fields"]["ExtId"].as_str().unwrap()).or_default().push(object);
    }
    assert_eq!(stored_documents.len(), documents.len(), "no document twice: {by_external_id:?}");
    for document in &documents {
        let external_id = format!(
            "{}/{}/{}",
            document["batch_id"].as_str().unwrap(),
            document["record_id"].as_str().unwrap(),
            document["document_no"]
        );
        let copies = &by_external_id[external_id.as_str()];
        assert_eq!(copies.len(), 1, "{external_id}");
        let object = copies[0];
        assert_eq!(document["dms"]["object_id"], object["id"], "{external_id}");
        assert_eq!(document["dms"]["verified"], true, "{external_id}");
        assert_eq!(document["state"], "verified", "{external_id}");
        assert_eq!(object["content_sha256"], document["efile"]["sha256"], "{external_id}");
        assert_eq!(object["content_length"], document["efile"]["bytes"], "{external_id}");
        let register = registers[object["parent_id"].as_str().unwrap()];
        let folder = folders[register["parent_id"].as_str().unwrap()];
        assert_eq!(folder["fields"]["Aktenzeichen"], document["record_id"], "{external_id}");
        assert_eq!(object["fields"]["sha256"], document["efile"]["sha256"], "{external_id}: index data");
    }

    // The faults and the kills did happen.
    let counts = sim.stop();
    let count = |what: &str| -> u64 {
        let before = counts.split(what).next().unwrap_or_else(|| panic!("{what:?} not in {counts:?}"));
        before.split_whitespace().last().unwrap().parse().unwrap()
    };
    eprintln!("{}", counts.trim());
    assert!(count(" answered 503") > 0 && count(" stalled") > 0 && count(" dropped after commit") > 0, "{counts}");
    let interrupted_pushes = batches
        .iter()
        .flat_map(|batch| {
            let events = run_ok(scan2dms(&data_dir).args(["events", batch["batch_id"].as_str().unwrap(), "--json"]));
            serde_json::from_slice::<Vec<Value>>(&events.stdout).unwrap()
        })
        .filter(|event| event["kind"] == "interrupted" && event["detail"].as_str().unwrap_or("").contains("push"))
        .count();
    assert!(interrupted_pushes > 0, "no run was killed while pushing");
}

#[test]
fn dms_check_reports_health_and_a_wrong_password() {
    let dir = tempfile::tempdir().unwrap();
    let sim = SimProcess::start(&dir.path().join("dms"), 0.0, 0.0);
    let config = |password: &str| {
        let path = dir.path().join(format!("{password}.toml"));
        std::fs::write(
            &path,
            format!("[dms]\ntarget = \"enaio\"\nurl = \"{}\"\nuser = \"scan2dms\"\npassword = \"{password}\"\nmax_attempts = 2\n", sim.base_url),
        )
        .unwrap();
        path
    };
    let data_dir = dir.path().join("data");
    let healthy = run_ok(scan2dms(&data_dir).arg("--config").arg(config("geheim")).args(["dms", "check"]));
    let stdout = String::from_utf8_lossy(&healthy.stdout);
    assert!(stdout.contains("ok: object types Akte, Register, Dokument known"), "{stdout}");
    assert!(stdout.contains("folder Akte (key Aktenzeichen)"), "{stdout}");

    let refused = scan2dms(&data_dir).arg("--config").arg(config("falsch")).args(["dms", "check"]).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&refused.stdout);
    assert!(stdout.contains("failed:") && stdout.contains("401"), "{stdout}");
}

#[test]
fn xdomea_target_writes_one_verified_package_per_record() {
    let (dir, data_dir, inbox) = crate::prepared(&crate::fixture_deliveries());
    crate::keep_only(&inbox, &["SSN-0007-031"]);
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        "[dms]\ntarget = \"xdomea\"\nxdomea_dir = \"abgabe\"\nxdomea_sender = \"psw:01003110\"\nxdomea_receiver = \"psw:99999999\"\n",
    )
    .unwrap();
    run_ok(scan2dms(&data_dir).arg("--config").arg(&config).args(["run", "--once", "--inbox"]).arg(&inbox));
    let documents: Vec<Value> =
        serde_json::from_slice(&run_ok(scan2dms(&data_dir).args(["documents", "--json"])).stdout).unwrap();
    assert!(!documents.is_empty());
    assert!(documents.iter().all(|document| document["dms"]["verified"] == true), "{documents:?}");
    let records: BTreeSet<&str> = documents.iter().map(|document| document["record_id"].as_str().unwrap()).collect();
    let packages: Vec<PathBuf> = std::fs::read_dir(data_dir.join("abgabe"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "zip"))
        .collect();
    assert_eq!(packages.len(), records.len(), "one package per record: {packages:?}");
}
