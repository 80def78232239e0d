//! Document boundaries from the ground truth's page facts reproduce the
//! ground truth's documents, for every accepted fixture batch.

use std::collections::BTreeMap;
use std::path::Path;

use scan2dms_core::documents::{BlankPages, PageFacts, split_record};
use serde_json::Value;

#[test]
fn splitting_the_fixture_records_gives_the_true_documents() {
    let truth_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/deliveries/truth");
    let mut records_checked = 0;
    for entry in std::fs::read_dir(truth_dir).unwrap() {
        let path = entry.unwrap().path();
        if !path.file_name().unwrap().to_string_lossy().starts_with("SSN-") {
            continue;
        }
        let truth: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        if truth["expected_outcome"] == "rejected" {
            continue;
        }
        let mut pages: BTreeMap<&str, Vec<PageFacts>> = BTreeMap::new();
        let mut expected: BTreeMap<&str, Vec<(u32, Vec<u32>)>> = BTreeMap::new();
        for document in truth["documents"].as_array().unwrap() {
            let record_id = document["record_id"].as_str().unwrap();
            let index_document_no = document["index_document_no"].as_u64().map(|number| number as u32);
            let mut kept = Vec::new();
            for page in document["pages"].as_array().unwrap() {
                let facts = PageFacts {
                    page_no: page["page_no"].as_u64().unwrap() as u32,
                    document_no: index_document_no,
                    separator: page["separator"] == true,
                    blank: page["blank"] == true,
                };
                if !facts.separator {
                    kept.push(facts.page_no);
                }
                pages.entry(record_id).or_default().push(facts);
            }
            expected.entry(record_id).or_default().push((document["document_no"].as_u64().unwrap() as u32, kept));
        }
        for (record_id, mut facts) in pages {
            facts.sort_by_key(|facts| facts.page_no);
            let (documents, _notes) = split_record(&facts, BlankPages::Keep);
            let found: Vec<(u32, Vec<u32>)> =
                documents.into_iter().map(|document| (document.document_no, document.page_nos)).collect();
            assert_eq!(found, expected[record_id], "{} record {record_id}", truth["batch_id"]);
            records_checked += 1;
        }
    }
    assert!(records_checked >= 8, "only {records_checked} records checked");
}
