//! Behaviour of scan2dms-classify: the model (deterministic training, its
//! file, series narrowing, learning the corpus), key fields and key
//! mismatches against the ground truth of the shared corpus, and
//! segmentation against the corpus' document boundaries.
//!
//! The corpus tests read `../shared/corpus/deliveries/truth` next to this
//! checkout and skip with a note when it is absent.

#![allow(clippy::unwrap_used, reason = "a test that cannot set up should panic")]

mod fields;
mod model;
mod segment;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use scan2dms_classify::training::{TruthBatch, TruthDocument, read_truth_dir};

/// The shared corpus' batches, read once; `None` (with a note) when absent.
pub fn corpus() -> Option<&'static [TruthBatch]> {
    static CORPUS: OnceLock<Option<Vec<TruthBatch>>> = OnceLock::new();
    CORPUS
        .get_or_init(|| {
            let dir = corpus_dir();
            if !dir.join("truth").is_dir() {
                eprintln!("note: {} not found, corpus test skipped", dir.display());
                return None;
            }
            Some(read_truth_dir(&dir).expect("corpus truth files parse"))
        })
        .as_deref()
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/deliveries")
}

/// The documents of each record of a batch, in record order.
pub fn records(batch: &TruthBatch) -> Vec<(&str, Vec<&TruthDocument>)> {
    let mut records: Vec<(&str, Vec<&TruthDocument>)> = Vec::new();
    for document in &batch.documents {
        match records.iter_mut().find(|(id, _)| *id == document.record_id) {
            Some((_, documents)) => documents.push(document),
            None => records.push((&document.record_id, vec![document])),
        }
    }
    records
}

/// What OCR would read of a page: its text and its stamps.
pub fn page_text_with_stamps(document: &TruthDocument) -> String {
    document
        .content_pages()
        .filter(|page| !page.blank)
        .map(|page| {
            let mut text = page.text.clone();
            for line in &page.stamp_text {
                text.push('\n');
                text.push_str(line);
            }
            text
        })
        .collect::<Vec<_>>()
        .join("\u{c}")
}
