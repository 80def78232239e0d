//! A deployment in small: one PostgreSQL database, one server taking
//! uploads, three worker processes sharing the data directory, and the DMS
//! simulator as the DMS. Ten batches are uploaded; one worker is killed
//! (SIGKILL) in the middle of an OCR stage. Its lease runs out, another
//! worker takes the batch over, and at the end every batch is done with each
//! document exactly once in the DMS.
//!
//! Needs `SCAN2DMS_TEST_POSTGRES_URL` (a database the test may create
//! databases from); skipped without it, except under CI.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::dms::SimProcess;
use crate::{run_ok, scan2dms, two_record_batches};

const ORDER_ID: &str = "ORD-0097-PERS";
const BATCHES: usize = 10;
/// Longer than the whole run takes on a slow machine, short of forever.
const DEADLINE: Duration = Duration::from_secs(15 * 60);

/// A database of its own for one test, dropped afterwards.
struct Database {
    admin_url: String,
    name: String,
    url: String,
}

impl Database {
    fn create() -> Option<Database> {
        let Ok(admin_url) = std::env::var("SCAN2DMS_TEST_POSTGRES_URL") else {
            let under_ci = std::env::var("CI").is_ok_and(|value| !matches!(value.as_str(), "" | "0" | "false"));
            assert!(!under_ci, "CI must set SCAN2DMS_TEST_POSTGRES_URL");
            eprintln!("SCAN2DMS_TEST_POSTGRES_URL not set: the many-worker test is skipped");
            return None;
        };
        let started = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        let name = format!("scan2dms_workers_{}_{started}", std::process::id());
        psql(&admin_url, &format!("CREATE DATABASE {name}"));
        let (base, query) = admin_url.split_once('?').map_or((admin_url.as_str(), ""), |(base, query)| (base, query));
        let (server, _) = base.rsplit_once('/').expect("a database URL ends in /DATABASE");
        let url = if query.is_empty() { format!("{server}/{name}") } else { format!("{server}/{name}?{query}") };
        Some(Database { admin_url, name, url })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .arg(&self.admin_url)
            .args(["-qc", &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name)])
            .output();
    }
}

fn psql(url: &str, sql: &str) {
    let output = Command::new("psql").arg(url).args(["-v", "ON_ERROR_STOP=1", "-qc", sql]).output().expect("psql runs");
    assert!(output.status.success(), "{sql}: {}", String::from_utf8_lossy(&output.stderr));
}

/// A long-running scan2dms process whose output lines go to `send`;
/// killed when dropped.
struct Process {
    child: Child,
}

impl Process {
    fn start(mut command: Command, send: impl Fn(String) -> bool + Clone + Send + 'static) -> Process {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("scan2dms starts");
        for stream in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let send = send.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if !send(line) {
                        break;
                    }
                }
            });
        }
        Process { child }
    }

    fn terminate(&mut self) {
        if self.child.try_wait().is_ok_and(|status| status.is_some()) {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Reads `lines` until `done` accepts one, at most until the deadline.
fn wait_for<T>(lines: &mpsc::Receiver<T>, what: &str, mut done: impl FnMut(&T) -> bool) -> T {
    let until = Instant::now() + DEADLINE;
    loop {
        let left = until.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if done(&line) => return line,
            Ok(_) => {}
            Err(error) => panic!("no line {what}: {error}"),
        }
    }
}

fn json(command: &mut Command) -> Value {
    serde_json::from_slice(&run_ok(command).stdout).unwrap()
}

#[test]
fn three_workers_on_postgres_survive_a_killed_worker_and_file_each_document_once() {
    let Some(database) = Database::create() else { return };
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, bags, sim_dir) = (dir.path().join("shared"), dir.path().join("bags"), dir.path().join("dms"));
    std::fs::create_dir_all(&bags).unwrap();

    let sim = SimProcess::start(&sim_dir, 0.0, 0.0);
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            "[intake]\nsettle_secs = 0\npoll_interval_ms = 100\n\
             [retry]\nmax_attempts = 10\nbackoff_base_secs = 0\nbackoff_max_secs = 1\n\
             [store]\nurl = \"{}\"\nlease_secs = 2\ndata_dir = \"shared\"\n\
             [ocr]\nthreads = 1\n\
             [dms]\ntarget = \"enaio\"\nurl = \"{}\"\nuser = \"scan2dms\"\npassword = \"geheim\"\nrate_limit_per_sec = 0\n",
            database.url, sim.base_url
        ),
    )
    .unwrap();
    let with_config = |command: &mut Command| {
        command.arg("--config").arg(&config);
    };
    // As deployed: every process finds the shared directory in the config
    // (relative to it here), none is told on its command line.
    let cli = || {
        let mut command = Command::new(env!("CARGO_BIN_EXE_scan2dms"));
        command.env_remove("SCAN2DMS_DATA_DIR").env_remove("SCAN2DMS_CONFIG");
        with_config(&mut command);
        command
    };

    // The order, and ten batches of two records each, as tar deliveries.
    let (batch_ids, order) = two_record_batches(&bags, 97, ORDER_ID, BATCHES);
    let deliveries: Vec<(String, PathBuf)> = batch_ids
        .into_iter()
        .map(|batch_id| {
            let tar = bags.join(format!("{batch_id}.tar"));
            let status = Command::new("tar").arg("-cf").arg(&tar).arg("-C").arg(&bags).arg(&batch_id).status().unwrap();
            assert!(status.success());
            (batch_id, tar)
        })
        .collect();
    let order_file = dir.path().join(format!("{ORDER_ID}.csv"));
    std::fs::write(&order_file, order).unwrap();
    run_ok(cli().args(["orders", "import"]).arg(&order_file));
    let token =
        String::from_utf8(run_ok(cli().args(["users", "add", "--name", "Scanbetrieb", "--role", "contractor"])).stdout)
            .unwrap()
            .trim()
            .to_owned();

    // The server, deployed apart from the workers, takes the uploads.
    let (server_sender, server_lines) = mpsc::channel();
    let server = Process::start(
        {
            let mut command = cli();
            command.args(["serve", "--listen", "127.0.0.1:0"]);
            command
        },
        move |line| server_sender.send(line).is_ok(),
    );
    let line = wait_for(&server_lines, "with the server's address", |line| line.contains("http://"));
    let base_url = line.split_whitespace().find(|word| word.starts_with("http://")).unwrap().trim_end_matches('/');

    // Three workers; the first also takes the deliveries from the inbox.
    // Their lines arrive on one channel, with the worker's number.
    let (worker_sender, worker_lines) = mpsc::channel::<(usize, String)>();
    let worker = |number: usize, inbox: Option<&Path>| {
        let mut command = cli();
        command.arg("worker");
        if let Some(inbox) = inbox {
            command.arg("--inbox").arg(inbox);
        }
        let sender = worker_sender.clone();
        Process::start(command, move |line| sender.send((number, line)).is_ok())
    };
    let mut workers = vec![worker(0, Some(&data_dir.join("inbox"))), worker(1, None), worker(2, None)];
    // Batches some worker has verified, read from every line that passes.
    let mut verified = std::collections::BTreeSet::new();
    let mut note_verified = |line: &str| {
        if let Some(batch_id) = line.strip_suffix(": verify done") {
            verified.insert(batch_id.to_owned());
        }
        verified.len()
    };

    for (batch_id, tar) in &deliveries {
        let output = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST", "--data-binary"])
            .arg(format!("@{}", tar.display()))
            .args(["-H", &format!("Authorization: Bearer {token}"), "-H", "Content-Type: application/x-tar"])
            .arg(format!("{base_url}/api/batches?name={batch_id}.tar"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&output.stdout), "201", "upload of {batch_id}: {output:?}");
    }

    // Kill the second worker in the middle of one of its OCR stages.
    let (_, started) = wait_for(&worker_lines, "of an OCR stage starting", |(number, line)| {
        note_verified(line);
        *number == 1 && line.ends_with(": ocr started")
    });
    let killed_batch = started.split(':').next().unwrap().to_owned();
    workers[1].child.kill().unwrap();
    workers[1].child.wait().unwrap();

    // The other two finish everything, the killed worker's batch included.
    if note_verified("") < BATCHES {
        wait_for(&worker_lines, "of the last batch verified", |(_, line)| note_verified(line) == BATCHES);
    }
    let batches: Vec<Value> = serde_json::from_value(json(cli().args(["batches", "--json"]))).unwrap();
    assert_eq!(batches.len(), BATCHES);
    for batch in &batches {
        assert_eq!(batch["state"], "done", "{batch}");
    }
    for worker in &mut workers {
        worker.terminate();
    }
    drop(server);

    // The killed worker's OCR stage was interrupted by a live worker once
    // its lease ran out, and run again.
    let events: Vec<Value> = serde_json::from_value(json(cli().args(["events", &killed_batch, "--json"]))).unwrap();
    let entries: Vec<(&str, &str)> =
        events.iter().map(|event| (event["kind"].as_str().unwrap(), event["detail"].as_str().unwrap_or(""))).collect();
    let taken_over = entries.windows(3).any(|run| {
        run[0] == ("claimed", "ocr_running (attempt 1)")
            && run[1].0 == "interrupted"
            && run[2] == ("claimed", "ocr_running (attempt 2)")
    });
    assert!(taken_over, "the OCR stage of {killed_batch} was not taken over: {entries:?}");

    // Each document exactly once in the DMS, the one the store knows.
    let documents: Vec<Value> = serde_json::from_value(json(cli().args(["documents", "--json"]))).unwrap();
    assert_eq!(documents.len(), 2 * BATCHES, "{batches:?}");
    let stored: Vec<Value> =
        serde_json::from_value(json(scan2dms(&sim_dir).args(["dms-sim", "dump", "--json"]))).unwrap();
    let mut copies: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for object in stored.iter().filter(|object| object["kind"] == "document") {
        copies.entry(object["fields"]["ExtId"].as_str().unwrap().to_owned()).or_default().push(object);
    }
    assert_eq!(copies.values().map(Vec::len).sum::<usize>(), documents.len(), "no document twice: {copies:?}");
    for document in &documents {
        let external_id = format!(
            "{}/{}/{}",
            document["batch_id"].as_str().unwrap(),
            document["record_id"].as_str().unwrap(),
            document["document_no"]
        );
        let stored = &copies[&external_id];
        assert_eq!(stored.len(), 1, "{external_id}");
        assert_eq!(document["state"], "verified", "{external_id}");
        assert_eq!(stored[0]["content_sha256"], document["efile"]["sha256"], "{external_id}");
    }
    drop(sim);
}
