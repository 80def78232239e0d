//! Exactly once under faults: every fifth request fails before doing
//! anything (a 503 or a stall past the client's timeout), every fifth insert
//! commits and then loses its answer. Every document must still end up in
//! the DMS exactly once, with the bytes that were sent.

use std::collections::BTreeMap;
use std::time::Duration;

use scan2dms_dms::{
    EnaioClient, EnaioSettings, ObjectId, PushRequest, ensure_folder, ensure_register, push_document, thread_sleep,
    verify,
};
use scan2dms_dms_sim::{ObjectKind, SimOptions, dump};

use crate::{content_file, document, folder, quick_retries, register, settings, start};

const RECORDS: usize = 4;
const REGISTERS: [&str; 2] = ["Zeugnisse", "Verträge"];
const DOCUMENTS_PER_RECORD: usize = 13;

#[test]
fn every_document_lands_exactly_once_despite_faults_and_lost_answers() {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("dms");
    let options = SimOptions {
        fault_rate: 0.2,
        drop_after_commit: 0.2,
        stall_ms: 1_000,
        latency_ms: 1,
        seed: 20_240_611,
        ..SimOptions::new(&data_dir)
    };
    let sim = start(options);
    let client = EnaioClient::new(EnaioSettings {
        // Shorter than the stall, so a stall is a timeout, yet long enough
        // that an answer on a busy machine is not mistaken for one.
        request_timeout: Duration::from_millis(500),
        max_concurrent_requests: 4,
        rate_limit_per_sec: 500.0,
        ..settings(&sim)
    })
    .unwrap();
    let policy = quick_retries(30);

    // Every document's expected content, by external id.
    let mut expected: BTreeMap<String, (String, u64)> = BTreeMap::new();
    let mut work: Vec<Vec<(String, std::path::PathBuf)>> = vec![Vec::new(); RECORDS];
    for (record, documents) in work.iter_mut().enumerate() {
        for number in 0..DOCUMENTS_PER_RECORD {
            let external_id = format!("SCAN-{record}-{number:02}");
            let seed = (record * 100 + number) as u64;
            let (path, sha256, length) =
                content_file(dir.path(), &format!("{external_id}.pdf"), seed, 2_000 + number * 3_000);
            expected.insert(external_id.clone(), (sha256, length));
            documents.push((external_id, path));
        }
    }

    // One thread per record, as the runtime does it.
    std::thread::scope(|scope| {
        for (record, documents) in work.iter().enumerate() {
            let (client, policy, expected) = (&client, &policy, &expected);
            scope.spawn(move || {
                let folder_id =
                    ensure_folder(client, &folder(&format!("R-{record}")), policy, &thread_sleep).unwrap().object_id;
                for (number, (external_id, path)) in documents.iter().enumerate() {
                    let name = REGISTERS[number % REGISTERS.len()];
                    let register_id: ObjectId =
                        ensure_register(client, &folder_id, &register(name), policy, &thread_sleep).unwrap().object_id;
                    let spec = document(external_id);
                    let request = PushRequest { parent: &register_id, document: &spec, content: path };
                    let outcome = push_document(client, &request, policy, &thread_sleep)
                        .unwrap_or_else(|error| panic!("{external_id}: {error:?}"));
                    let (sha256, length) = &expected[external_id];
                    verify(client, &outcome.object_id, sha256, *length, policy, &thread_sleep)
                        .unwrap_or_else(|error| panic!("{external_id}: {error:?}"));
                }
            });
        }
    });

    // The run went through every kind of fault, or it proves little.
    let stats = sim.stats();
    assert!(stats.server_errors > 0 && stats.stalls > 0 && stats.dropped_after_commit > 0, "{stats:?}");

    let objects = dump(&data_dir).unwrap();
    let count = |kind: ObjectKind| objects.iter().filter(|object| object.kind == kind).count();
    assert_eq!(count(ObjectKind::Folder), RECORDS, "one folder per record");
    assert_eq!(count(ObjectKind::Register), RECORDS * REGISTERS.len(), "one register per name and folder");

    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for object in objects.iter().filter(|object| object.kind == ObjectKind::Document) {
        let external_id = object.fields["ExtId"].as_str();
        *seen.entry(external_id).or_default() += 1;
        let (sha256, length) = &expected[external_id];
        assert_eq!(object.content_sha256.as_deref(), Some(sha256.as_str()), "{external_id}");
        assert_eq!(object.content_length, Some(*length), "{external_id}");
    }
    let duplicated: Vec<_> = seen.iter().filter(|(_, count)| **count != 1).collect();
    assert!(duplicated.is_empty(), "documents stored more than once: {duplicated:?}");
    assert_eq!(seen.len(), expected.len(), "every document is there");
    assert_eq!(stats.objects_created as usize, objects.len());
}
