//! A real tus client, tus-py (`pip install tuspy`), uploads a bag in two
//! runs: the first stops part-way (as a client that crashed), the second
//! finds the upload by the file's fingerprint, asks for the offset and
//! sends the rest. The pipeline validates it; the report is read back.
//!
//! Skipped, with a message, where `import tusclient` fails.

use std::process::Command;

use scan2dms_core::Stage;

use crate::{Env, RunningServer, import_orders, run_pipeline, tar_of};

const CLIENT: &str = r#"
import hashlib, json, sys
from tusclient import client
from tusclient.storage import filestorage
from tusclient.uploader import Uploader

class Sha256Uploader(Uploader):
    CHECKSUM_ALGORITHM_PAIR = ("sha256", hashlib.sha256)

base, token, path, storage_path, phase = sys.argv[1:6]
tus = client.TusClient(base + "/api/uploads", headers={"Authorization": "Bearer " + token})
storage = filestorage.FileStorage(storage_path)
# The first run checks chunks with sha256, the second with tus-py's default, sha1.
kind = Sha256Uploader if phase == "first" else Uploader
uploader = kind(file_path=path, client=tus, chunk_size=32768, metadata={"filename": "SSN-0007-001.tar"},
                store_url=True, url_storage=storage, upload_checksum=True)
resumed_at = uploader.offset
if phase == "first":
    uploader.upload(stop_at=2 * 32768)
else:
    uploader.upload()
print(json.dumps({"url": uploader.url, "resumed_at": resumed_at, "offset": uploader.offset}))
"#;

fn tusclient_available() -> bool {
    Command::new("python3").args(["-c", "import tusclient"]).output().is_ok_and(|output| output.status.success())
}

fn run_client(
    server: &RunningServer,
    token: &str,
    archive: &std::path::Path,
    storage: &std::path::Path,
    phase: &str,
) -> serde_json::Value {
    let output = Command::new("python3")
        .arg("-c")
        .arg(CLIENT)
        .arg(&server.base_url)
        .arg(token)
        .arg(archive)
        .arg(storage)
        .arg(phase)
        .output()
        .unwrap();
    assert!(output.status.success(), "tus-py {phase}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn tus_py_uploads_a_bag_interrupted_and_resumed_and_reads_its_report() {
    if !tusclient_available() {
        eprintln!("skipped: python3 cannot import tusclient (pip install tuspy, or scripts/setup.sh)");
        return;
    }
    let env = Env::new();
    import_orders(&*env.store);
    let server = RunningServer::start(env.state.clone());
    let work = tempfile::tempdir().unwrap();
    let archive_path = work.path().join("SSN-0007-001.tar");
    let archive = tar_of("SSN-0007-001");
    assert!(archive.len() > 3 * 32768, "the bag needs several chunks: {}", archive.len());
    std::fs::write(&archive_path, &archive).unwrap();
    let storage = work.path().join("tus-urls.json");

    let first = run_client(&server, &env.contractor, &archive_path, &storage, "first");
    assert_eq!(first["offset"], 2 * 32768, "{first}");
    let url = first["url"].as_str().unwrap().to_owned();
    let client = reqwest::blocking::Client::new();
    let head = client.head(&url).bearer_auth(&env.contractor).header("tus-resumable", "1.0.0").send().unwrap();
    assert_eq!(head.headers()["upload-offset"], "65536");
    assert!(!env.inbox().join("SSN-0007-001.tar").exists(), "half an upload is no delivery");

    let second = run_client(&server, &env.contractor, &archive_path, &storage, "second");
    assert_eq!(second["url"], url.as_str(), "the same upload, found again");
    assert_eq!(second["resumed_at"], 2 * 32768, "resumed where the first run stopped");
    assert_eq!(second["offset"], archive.len(), "{second}");
    assert_eq!(std::fs::read(env.inbox().join("SSN-0007-001.tar")).unwrap(), archive);

    let summary = run_pipeline(&env, &[Stage::Validate]);
    assert_eq!((summary.registered, summary.accepted), (1, 1), "{summary:?}");
    let report_url = format!("{}/api/batches/SSN-0007-001/report", server.base_url);
    let report: serde_json::Value =
        client.get(&report_url).bearer_auth(&env.contractor).send().unwrap().json().unwrap();
    assert_eq!(report["batch_id"], "SSN-0007-001");
    assert_eq!(report["outcome"], "accepted", "{report}");
    // Another contractor gets nothing of it.
    let other = client.get(&report_url).bearer_auth(&env.other_contractor).send().unwrap();
    assert_eq!(other.status().as_u16(), 404);
}
