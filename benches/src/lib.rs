//! Benchmarks of scan2dms against its peers, each measured in one run.
//!
//! The benchmarks live in `benches/` as harness-free bench targets (see
//! `README.md` beside this crate for how to run each one and what it
//! compares). This library holds only the little they share: preparing
//! work directories from the delivery corpora.

use std::fs;
use std::path::Path;

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
