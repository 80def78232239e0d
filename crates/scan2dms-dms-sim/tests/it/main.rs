//! The real enaio client against a started simulator on 127.0.0.1:0: the
//! wire contract (`contract`), persistence (`restart`) and exactly-once
//! under injected faults (`faults`).

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod contract;
mod faults;
mod restart;

use std::path::{Path, PathBuf};
use std::time::Duration;

use scan2dms_dms::{DocumentSpec, EnaioClient, EnaioSettings, Fields, FolderSpec, RegisterSpec, RetryPolicy};
use scan2dms_dms_sim::{SimHandle, SimOptions, Simulator};
use sha2::{Digest, Sha256};

pub fn start(options: SimOptions) -> SimHandle {
    Simulator::start(options).unwrap()
}

/// Client settings for a simulator with the default options.
pub fn settings(sim: &SimHandle) -> EnaioSettings {
    EnaioSettings {
        base_url: sim.base_url(),
        user: "scan2dms".to_owned(),
        password: "scan2dms".to_owned(),
        request_timeout: Duration::from_secs(20),
        rate_limit_per_sec: 0.0,
        ..EnaioSettings::default()
    }
}

pub fn client(sim: &SimHandle) -> EnaioClient {
    EnaioClient::new(settings(sim)).unwrap()
}

/// Retries without real waits worth mentioning.
pub fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy { max_attempts, base_delay: Duration::from_millis(2), max_delay: Duration::from_millis(20) }
}

pub fn fields(pairs: &[(&str, &str)]) -> Fields {
    pairs.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect()
}

pub fn folder(key: &str) -> FolderSpec {
    FolderSpec { key: key.to_owned(), fields: fields(&[("Aktenbezeichnung", &format!("Personalakte {key}"))]) }
}

pub fn register(name: &str) -> RegisterSpec {
    RegisterSpec { name: name.to_owned(), fields: Fields::new() }
}

pub fn document(external_id: &str) -> DocumentSpec {
    DocumentSpec {
        external_id: external_id.to_owned(),
        file_name: format!("{external_id}.pdf"),
        mime_type: "application/pdf".to_owned(),
        fields: fields(&[("Betreff", &format!("Dokument {external_id}"))]),
    }
}

/// Writes a PDF-looking file whose bytes depend on `seed`, and returns its
/// path, SHA-256 and length.
pub fn content_file(dir: &Path, name: &str, seed: u64, length: usize) -> (PathBuf, String, u64) {
    let mut bytes = b"%PDF-1.7\n".to_vec();
    let mut state = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
    while bytes.len() < length {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        bytes.extend_from_slice(&state.to_le_bytes());
    }
    bytes.truncate(length.max(9));
    bytes.extend_from_slice(b"\n%%EOF\n");
    let path = dir.join(name);
    std::fs::write(&path, &bytes).unwrap();
    (path, hex::encode(Sha256::digest(&bytes)), bytes.len() as u64)
}
