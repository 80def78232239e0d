//! Listing a bag's files without following links.
//!
//! Key decision: the walk uses `DirEntry::file_type`, which does not follow
//! symbolic links, and refuses every link and special file (FIFO, socket,
//! device) as a path escape: a validator that followed them could be made to
//! hash `/dev/zero` forever or vouch for files outside the bag.
//!
//! This module only lists; it reads no file contents.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::{BagFinding, FindingKind};

/// A regular file found in the bag.
#[derive(Debug, Clone)]
pub(crate) struct DiskFile {
    pub disk_path: PathBuf,
    pub bytes: u64,
}

/// Everything the walk found, keyed by bag-relative '/'-separated path.
#[derive(Debug, Default)]
pub(crate) struct BagTree {
    /// Regular files under `data/`.
    pub payload: BTreeMap<String, DiskFile>,
    /// Regular files anywhere else (tag files).
    pub tag: BTreeMap<String, DiskFile>,
    /// Links and special files, refused and not descended into.
    pub refused: Vec<String>,
    /// Whether `data/` exists as a real directory.
    pub has_data_dir: bool,
    pub findings: Vec<BagFinding>,
}

/// Walks the whole bag below `bag_dir`. The root itself must be readable
/// (the caller checked); problems further down are findings.
pub(crate) fn walk_bag(bag_dir: &Path) -> BagTree {
    let mut tree = BagTree::default();
    let mut pending: Vec<(PathBuf, String)> = vec![(bag_dir.to_path_buf(), String::new())];
    while let Some((dir, relative_dir)) = pending.pop() {
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) => {
                let shown = if relative_dir.is_empty() { ".".to_owned() } else { relative_dir.clone() };
                tree.findings.push(BagFinding::new(
                    FindingKind::UnreadableFile,
                    shown,
                    format!("cannot list directory: {error}"),
                ));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(error) => {
                    tree.findings.push(BagFinding::new(
                        FindingKind::UnreadableFile,
                        relative_dir.clone(),
                        format!("cannot list directory: {error}"),
                    ));
                    continue;
                }
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let relative = if relative_dir.is_empty() { name } else { format!("{relative_dir}/{name}") };
            let file_type = match entry.file_type() {
                Ok(file_type) => file_type,
                Err(error) => {
                    tree.findings.push(BagFinding::new(
                        FindingKind::UnreadableFile,
                        relative,
                        format!("cannot stat: {error}"),
                    ));
                    continue;
                }
            };
            if file_type.is_symlink() {
                tree.findings.push(BagFinding::new(
                    FindingKind::PathEscape,
                    relative.clone(),
                    "symbolic link, not followed",
                ));
                tree.refused.push(relative);
            } else if file_type.is_dir() {
                if relative == "data" {
                    tree.has_data_dir = true;
                }
                pending.push((entry.path(), relative));
            } else if file_type.is_file() {
                match entry.metadata() {
                    Ok(metadata) => {
                        let file = DiskFile { disk_path: entry.path(), bytes: metadata.len() };
                        if relative.starts_with("data/") {
                            tree.payload.insert(relative, file);
                        } else {
                            tree.tag.insert(relative, file);
                        }
                    }
                    Err(error) => tree.findings.push(BagFinding::new(
                        FindingKind::UnreadableFile,
                        relative,
                        format!("cannot stat: {error}"),
                    )),
                }
            } else {
                tree.findings.push(BagFinding::new(
                    FindingKind::PathEscape,
                    relative.clone(),
                    "special file (fifo, socket or device), not read",
                ));
                tree.refused.push(relative);
            }
        }
    }
    tree
}

impl BagTree {
    /// Whether `path` is a refused link or special file, or lies below one.
    pub fn is_refused(&self, path: &str) -> bool {
        self.refused.iter().any(|refused| {
            path == refused || (path.starts_with(refused.as_str()) && path.as_bytes().get(refused.len()) == Some(&b'/'))
        })
    }
}
