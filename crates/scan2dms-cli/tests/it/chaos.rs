//! Chaos: twenty-four deliveries (twenty good, four bad), arriving three
//! per run, go through the pipeline while a seeded schedule strikes each
//! run with one fault: a SIGKILL in any stage (intake, validate, ocr,
//! efile, push, verify), the DMS down for the whole run, or the DMS killed
//! in the middle of a push. Throughout, the DMS fails or drops the answers
//! to a tenth of its requests. After the schedule an operator retries what
//! gave up, as the runbook says. At the end every good batch is verified
//! with each document exactly once in the DMS, every bad batch is rejected
//! with its reason, and every batch's event log closes each stage it
//! opened with that stage's outcome.
//!
//! The schedule comes from `SCAN2DMS_CHAOS_SEED` (default below); a failing
//! run prints its seed and its schedule, so it can be replayed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;

use crate::dms::SimProcess;
use crate::{BagRecord, bag_info, run_ok, scan2dms, seal, workspace_root, write_bag};

const ORDER_ID: &str = "ORD-0095-PERS";
const DEFAULT_SEED: u64 = 20_261_204;
const GOOD_BATCHES: usize = 20;
const ROUNDS: usize = 8;
const STAGES: [&str; 6] = ["intake", "validate", "ocr", "efile", "push", "verify"];

/// splitmix64: small, seedable, and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

/// What goes wrong in one round, that is one run of the pipeline.
#[derive(Debug, Clone)]
enum Fault {
    /// SIGKILL the run `delay_ms` after it has started `stage` for the `nth` time.
    Kill { stage: &'static str, nth: usize, delay_ms: u64 },
    /// The DMS is down from before the run to its end.
    DmsDown,
    /// The DMS dies (SIGKILL) as the run starts its `nth` push, and stays
    /// down to the run's end.
    DmsDiesInPush { nth: usize },
}

fn image(name: &str) -> PathBuf {
    workspace_root().join("fixtures/images").join(name)
}

fn json(command: &mut std::process::Command) -> Value {
    serde_json::from_slice(&run_ok(command).stdout).unwrap()
}

/// Runs `scan2dms run --once` with the round's fault, if any, and returns
/// whether the fault struck (the kill or the DMS death came to pass).
fn run_round(
    data_dir: &Path,
    config: &Path,
    inbox: &Path,
    fault: Option<&Fault>,
    sim: &mut Option<SimProcess>,
) -> bool {
    let mut child = scan2dms(data_dir)
        .arg("--config")
        .arg(config)
        .args(["run", "--once", "--inbox"])
        .arg(inbox)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (mut seen, mut struck, mut killed) = (0, matches!(fault, Some(Fault::DmsDown)), false);
    let mut lines = BufReader::new(stderr).lines();
    for line in lines.by_ref() {
        let Ok(line) = line else { break };
        assert!(!line.contains("panicked"), "{line}");
        match fault {
            Some(Fault::Kill { stage, nth, delay_ms }) => {
                let hit = match *stage {
                    "intake" => line.starts_with("registered "),
                    stage => line.ends_with(&format!(": {stage} started")),
                };
                seen += usize::from(hit);
                if hit && seen == *nth {
                    std::thread::sleep(Duration::from_millis(*delay_ms));
                    child.kill().unwrap();
                    (struck, killed) = (true, true);
                    break;
                }
            }
            Some(Fault::DmsDiesInPush { nth }) if line.ends_with(": push started") => {
                seen += 1;
                if seen == *nth {
                    // Dropping the process handle kills it: no goodbye.
                    drop(sim.take());
                    struck = true;
                }
            }
            _ => {}
        }
    }
    // Drain what is left so the child never blocks on a full pipe.
    for _ in lines {}
    let status = child.wait().unwrap();
    if !killed {
        assert!(status.success(), "a run ended with {status}");
    }
    struck
}

#[test]
fn seeded_kills_and_dms_outages_lose_nothing_and_file_each_document_once() {
    let seed = std::env::var("SCAN2DMS_CHAOS_SEED").map_or(DEFAULT_SEED, |seed| seed.parse().expect("a number"));
    let mut rng = Rng(seed);
    // Most rounds are killed somewhere; the third has the DMS down for the
    // whole run, the sixth has it die in the middle of a push, and any
    // other round may have either.
    let schedule: Vec<Fault> = (0..ROUNDS)
        .map(|index| match (index, rng.below(6)) {
            (2, _) | (_, 0) => Fault::DmsDown,
            (5, _) | (_, 1) => Fault::DmsDiesInPush { nth: 1 + rng.below(2) as usize },
            _ => Fault::Kill {
                stage: STAGES[rng.below(STAGES.len() as u64) as usize],
                nth: 1 + rng.below(3) as usize,
                delay_ms: rng.below(300),
            },
        })
        .collect();
    eprintln!("chaos seed {seed}: {schedule:#?}");

    let dir = tempfile::tempdir().unwrap();
    let (data_dir, inbox, sim_dir) = (dir.path().join("data"), dir.path().join("inbox"), dir.path().join("dms"));
    // The contractor's side: deliveries wait here and arrive in the inbox a
    // few per round, so every round has work in every stage.
    let outbox = dir.path().join("outbox");
    std::fs::create_dir_all(&inbox).unwrap();

    // Twenty good deliveries of one or two one-page records.
    let mut order = String::from("record_id;series;title;box_id\n");
    let mut good = BTreeSet::new();
    for batch in 1..=GOOD_BATCHES {
        let batch_id = format!("SSN-0095-{batch:03}");
        let records: Vec<BagRecord> = (0..1 + batch % 2)
            .map(|index| {
                let record_id = format!("PN-95{batch:02}{index:02}");
                order.push_str(&format!("{record_id};personnel;Testakte {record_id};BOX-009500\n"));
                let page = if index == 0 { "g4-300dpi.tif" } else { "bitonal.png" };
                BagRecord { record_id, files: vec![(image(page), 1)] }
            })
            .collect();
        write_bag(&outbox, &batch_id, ORDER_ID, "personnel", &records);
        good.insert(batch_id);
    }
    // Four bad ones, each with the reason its report must give.
    let mut bad = BTreeMap::new();
    let mut bad_bag = |number: usize, code: &'static str, in_order: bool| {
        let batch_id = format!("SSN-0095-{number:03}");
        let record_id = format!("PN-95{number:02}00");
        if in_order {
            order.push_str(&format!("{record_id};personnel;Testakte {record_id};BOX-009500\n"));
        }
        let record = BagRecord { record_id: record_id.clone(), files: vec![(image("bitonal.png"), 1)] };
        write_bag(&outbox, &batch_id, ORDER_ID, "personnel", &[record]);
        bad.insert(batch_id.clone(), code);
        (outbox.join(&batch_id), batch_id, record_id)
    };
    let (bag, _, record_id) = bad_bag(21, "checksum_mismatch", true);
    std::fs::write(bag.join(format!("data/images/{record_id}/0001.png")), b"not the scanned page").unwrap();
    bad_bag(22, "not_in_order", false);
    let (bag, batch_id, record_id) = bad_bag(23, "page_count_mismatch", true);
    std::fs::write(
        bag.join("data/records.csv"),
        format!("record_id;title;box_id;pages\n{record_id};Testakte;BOX-009500;3\n"),
    )
    .unwrap();
    seal(&bag, &bag_info(&batch_id, ORDER_ID, "personnel"));
    let (bag, _, record_id) = bad_bag(24, "missing_file", true);
    std::fs::remove_file(bag.join(format!("data/images/{record_id}/0001.png"))).unwrap();

    let order_file = dir.path().join(format!("{ORDER_ID}.csv"));
    std::fs::write(&order_file, order).unwrap();
    run_ok(scan2dms(&data_dir).args(["orders", "import"]).arg(&order_file));

    // The DMS on a port of its own, so it comes back where it was.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let listen = format!("127.0.0.1:{port}");
    let mut sim_seed = seed;
    let mut start_sim = || {
        sim_seed += 1;
        SimProcess::start_at(&sim_dir, &listen, 0.1, 0.1, sim_seed)
    };
    let config = dir.path().join("pipeline.toml");
    std::fs::write(
        &config,
        format!(
            "[intake]\nsettle_secs = 0\npoll_interval_ms = 50\n\
             [retry]\nmax_attempts = 3\nbackoff_base_secs = 0\nbackoff_max_secs = 1\n\
             [ocr]\nthreads = 1\n\
             [dms]\ntarget = \"enaio\"\nurl = \"http://{listen}/api/dms\"\nuser = \"scan2dms\"\npassword = \"geheim\"\n\
             request_timeout_secs = 1\nrate_limit_per_sec = 0\nmax_attempts = 3\n"
        ),
    )
    .unwrap();

    // The sim's closing lines of counts, from every time it was stopped.
    let mut sim_counts = Vec::new();
    let mut sim = Some(start_sim());
    let mut struck = 0;
    let mut waiting: Vec<String> = good.iter().chain(bad.keys()).cloned().collect();
    waiting.sort_by_cached_key(|_| rng.next());
    let per_round = waiting.len().div_ceil(ROUNDS);
    for fault in &schedule {
        for batch_id in waiting.drain(..per_round.min(waiting.len())) {
            std::fs::rename(outbox.join(&batch_id), inbox.join(&batch_id)).unwrap();
        }
        if matches!(fault, Fault::DmsDown) {
            sim_counts.push(sim.take().unwrap().stop());
        }
        struck += usize::from(run_round(&data_dir, &config, &inbox, Some(fault), &mut sim));
        if sim.is_none() {
            sim = Some(start_sim());
        }
    }
    // The operator's part: retry what gave up during an outage, run again.
    let mut retried = 0;
    for _ in 0..5 {
        run_round(&data_dir, &config, &inbox, None, &mut sim);
        let batches = json(scan2dms(&data_dir).args(["batches", "--json"]));
        let failed: Vec<&str> = batches
            .as_array()
            .unwrap()
            .iter()
            .filter(|batch| batch["state"].as_str().unwrap().ends_with("_failed"))
            .map(|batch| batch["batch_id"].as_str().unwrap())
            .collect();
        if failed.is_empty() {
            break;
        }
        for batch_id in failed {
            run_ok(scan2dms(&data_dir).arg("--config").arg(&config).args(["retry", batch_id]));
            retried += 1;
        }
    }
    sim_counts.push(sim.take().unwrap().stop());
    eprintln!("{struck} of {ROUNDS} faults struck, {retried} operator retries; dms-sim: {sim_counts:?}");
    assert!(2 * struck >= ROUNDS, "only {struck} of {ROUNDS} faults struck: the schedule missed the work");

    // Every batch ended where it should: good ones done, bad ones rejected
    // with their reason.
    let batches: BTreeMap<String, Value> = json(scan2dms(&data_dir).args(["batches", "--json"]))
        .as_array()
        .unwrap()
        .iter()
        .map(|batch| (batch["batch_id"].as_str().unwrap().to_owned(), batch.clone()))
        .collect();
    assert_eq!(batches.len(), good.len() + bad.len(), "{:?}", batches.keys());
    for batch_id in &good {
        assert_eq!(batches[batch_id]["state"], "done", "{}", batches[batch_id]);
    }
    for (batch_id, code) in &bad {
        assert_eq!(batches[batch_id]["state"], "rejected", "{}", batches[batch_id]);
        let report = json(scan2dms(&data_dir).args(["report", batch_id, "--json"]));
        let codes: Vec<&str> =
            report["reasons"].as_array().unwrap().iter().map(|reason| reason["code"].as_str().unwrap()).collect();
        assert!(codes.contains(code), "{batch_id}: {codes:?}, expected {code}");
    }

    // Each document exactly once in the DMS, with the e-file's bytes.
    let documents = json(scan2dms(&data_dir).args(["documents", "--json"]));
    let documents = documents.as_array().unwrap();
    let records = good.iter().map(|batch| 1 + batch[9..].parse::<usize>().unwrap() % 2).sum::<usize>();
    assert_eq!(documents.len(), records, "one document per good record");
    let stored = json(scan2dms(&sim_dir).args(["dms-sim", "dump", "--json"]));
    let mut copies: BTreeMap<&str, Vec<&Value>> = BTreeMap::new();
    for object in stored.as_array().unwrap().iter().filter(|object| object["kind"] == "document") {
        copies.entry(object["fields"]["ExtId"].as_str().unwrap()).or_default().push(object);
    }
    assert_eq!(copies.values().map(Vec::len).sum::<usize>(), documents.len(), "no document twice: {copies:?}");
    for document in documents {
        let external_id = format!(
            "{}/{}/{}",
            document["batch_id"].as_str().unwrap(),
            document["record_id"].as_str().unwrap(),
            document["document_no"]
        );
        let stored = &copies[external_id.as_str()];
        assert_eq!(stored.len(), 1, "{external_id}");
        assert_eq!(stored[0]["content_sha256"], document["efile"]["sha256"], "{external_id}");
        assert_eq!(document["state"], "verified", "{external_id}");
        assert_eq!(document["dms"]["object_id"], stored[0]["id"], "{external_id}");
    }

    // Every stage a batch opened in its event log is closed before the next
    // one opens: by its own outcome, or as failed or interrupted.
    let outcome_of = |claimed: &str| -> &'static [&'static str] {
        match claimed.split_whitespace().next().unwrap() {
            "validating" => &["accepted", "rejected"],
            "ocr_running" => &["ocr_done"],
            "efile_running" => &["efiles_done"],
            "push_running" => &["pushed"],
            "verify_running" => &["verified"],
            other => panic!("a stage the test does not know: {other}"),
        }
    };
    let (mut interrupted, mut dms_failures) = (0, 0);
    for batch_id in batches.keys() {
        let events = json(scan2dms(&data_dir).args(["events", batch_id, "--json"]));
        let mut open: Option<&str> = None;
        for event in events.as_array().unwrap() {
            let (kind, detail) = (event["kind"].as_str().unwrap(), event["detail"].as_str().unwrap());
            let closes = open.is_some_and(|claimed| {
                outcome_of(claimed).contains(&kind) || ["failed", "interrupted"].contains(&kind)
            });
            if kind == "claimed" {
                assert!(open.is_none(), "{batch_id}: {detail} claimed while {open:?} is open: {events:#}");
                open = Some(detail);
            } else if closes {
                interrupted += usize::from(kind == "interrupted");
                let in_dms_stage =
                    open.is_some_and(|claimed| claimed.starts_with("push") || claimed.starts_with("verify"));
                dms_failures += usize::from(kind == "failed" && in_dms_stage);
                open = None;
            } else {
                let outcome =
                    ["accepted", "rejected", "ocr_done", "efiles_done", "pushed", "verified", "failed", "interrupted"];
                assert!(
                    !outcome.contains(&kind),
                    "{batch_id}: {kind} ({detail}) closes no stage it belongs to: {events:#}"
                );
                assert!(kind != "retry_requested" || open.is_none(), "{batch_id}: a retry while {open:?} runs");
            }
        }
        assert!(open.is_none(), "{batch_id}: {open:?} never ended: {events:#}");
    }
    assert!(interrupted > 0, "no stage was ever interrupted");
    assert!(dms_failures > 0, "the DMS dying never made a push or verify fail");
    eprintln!("{interrupted} stages interrupted, {dms_failures} push or verify attempts failed");
    // The DMS did fail requests and drop answers.
    let total = |what: &str| -> u64 {
        sim_counts
            .iter()
            .map(|counts| {
                let before = counts.split(what).next().unwrap_or_else(|| panic!("{what:?} not in {counts:?}"));
                before.split_whitespace().last().unwrap().parse::<u64>().unwrap()
            })
            .sum()
    };
    assert!(total(" answered 503") > 0 && total(" dropped after commit") > 0, "{sim_counts:?}");
}
