//! Benchmarks of scan2dms against its peers, each measured in one run.
//!
//! The benchmarks live in `benches/` as harness-free bench targets (see
//! `README.md` beside this crate for how to run each one and what it
//! compares). This library holds only the little they share: choosing
//! batches of the delivery corpora, preparing work directories from them,
//! and the median of rounds.

use std::fs;
use std::path::Path;

/// What a bench's setup can fail with.
pub type Error = Box<dyn std::error::Error>;

/// The truth files (`truth/SSN-*.json`) of whole batches of a delivery
/// corpus that are accepted and stand alone (delivered as a directory, not
/// a redelivery, waiting for no other batch), in delivery order, until they
/// hold at least `wanted_pages` pages.
pub fn accepted_batches(deliveries: &Path, wanted_pages: usize) -> Result<Vec<serde_json::Value>, Error> {
    let mut truths: Vec<serde_json::Value> = fs::read_dir(deliveries.join("truth"))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("SSN-")))
        .map(|path| Ok(serde_json::from_slice(&fs::read(path)?)?))
        .collect::<Result<_, Error>>()?;
    truths.sort_by_key(|truth| truth["seq"].as_u64());
    let mut chosen = Vec::new();
    let mut pages = 0;
    for truth in truths {
        if pages >= wanted_pages {
            break;
        }
        let independent =
            truth["process_after"].as_array().is_none_or(Vec::is_empty) && truth["replaces_batch"].is_null();
        if truth["expected_outcome"] == "rejected" || truth["packaging"] != "dir" || !independent {
            continue;
        }
        if !truth["batch_id"].is_string() {
            return Err("a truth file without batch_id".into());
        }
        pages += page_count(&truth);
        chosen.push(truth);
    }
    if chosen.is_empty() {
        return Err(format!("no accepted batches in {}", deliveries.display()).into());
    }
    Ok(chosen)
}

/// The pages a batch's truth lists, separator sheets and blanks included.
pub fn page_count(truth: &serde_json::Value) -> usize {
    truth["documents"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|document| document["pages"].as_array().map_or(0, Vec::len))
        .sum()
}

/// The batch id of a truth file chosen by [`accepted_batches`].
pub fn batch_id(truth: &serde_json::Value) -> String {
    truth["batch_id"].as_str().unwrap_or_default().to_owned()
}

/// The median of rounds (the upper one of an even count).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Copies a file or a directory tree (a delivered bag into an inbox).
pub fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        fs::create_dir_all(to)?;
        for entry in fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
    } else {
        fs::copy(from, to)?;
    }
    Ok(())
}
