//! Intake: deliveries move from the inbox into the work area and are
//! registered, each exactly once.
//!
//! The order of the two steps is what makes this crash-safe. A delivery is
//! first renamed to `batches/<batch_id>/source/<name>` (atomic on one file
//! system), then registered. A crash between the two leaves a directory
//! without a row, which [`Intake::register_orphans`] registers on the next
//! start; a crash after both leaves nothing to do. The store refuses a second
//! registration of the same batch id, so nothing is registered twice.
//!
//! A delivery is taken once it has stopped changing (`settle`), so a copy in
//! progress is not picked up half-way. Entries that cannot become a batch (a
//! stray file, a name that is not a batch id, a batch id already used) are
//! moved to `refused/` with a note saying why, never silently dropped.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use scan2dms_model::BatchId;
use scan2dms_store::{NewBatch, Registration};

use crate::{Note, Observer, Pipeline, RuntimeError, now_ms};

/// What became of one inbox entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IntakeOutcome {
    Registered(String),
    Refused { name: String, reason: String },
}

/// Size, entry count and newest modification of an inbox entry.
type Signature = (u64, u64, Option<SystemTime>);

#[derive(Debug)]
pub struct Intake<'a> {
    pipeline: &'a Pipeline,
    /// Entries seen but not yet settled: their signature and since when.
    seen: HashMap<PathBuf, (Signature, Instant)>,
}

const ARCHIVE_SUFFIXES: [&str; 2] = [".zip", ".tar"];

impl<'a> Intake<'a> {
    pub fn new(pipeline: &'a Pipeline) -> Intake<'a> {
        Intake { pipeline, seen: HashMap::new() }
    }

    /// Entries seen in the inbox that are still settling.
    pub fn waiting(&self) -> usize {
        self.seen.len()
    }

    /// Takes every inbox entry that has not changed for `settle`.
    pub fn poll(
        &mut self,
        inbox: &Path,
        settle: Duration,
        observer: &dyn Observer,
    ) -> Result<Vec<IntakeOutcome>, RuntimeError> {
        let io = |action, source| RuntimeError::Io { action, path: inbox.to_owned(), source };
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(inbox) {
            Ok(entries) => entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect(),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(inbox).map_err(|source| io("cannot create inbox", source))?;
                Vec::new()
            }
            Err(source) => return Err(io("cannot list inbox", source)),
        };
        // Deliveries are taken in name order: batch numbers are the
        // contractor's processing order.
        entries.sort();
        entries.retain(|path| !is_ignored(path));
        self.seen.retain(|path, _| entries.contains(path));

        let mut outcomes = Vec::new();
        for path in entries {
            if !settle.is_zero() {
                let signature = signature(&path);
                let now = Instant::now();
                let (previous, since) = self.seen.entry(path.clone()).or_insert((signature, now));
                if *previous != signature {
                    *previous = signature;
                    *since = now;
                }
                if now.duration_since(*since) < settle {
                    continue;
                }
            }
            self.seen.remove(&path);
            if let Some(outcome) = self.take(&path, observer)? {
                outcomes.push(outcome);
            }
        }
        Ok(outcomes)
    }

    fn take(&self, path: &Path, observer: &dyn Observer) -> Result<Option<IntakeOutcome>, RuntimeError> {
        let name = path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
        let metadata = match std::fs::symlink_metadata(path) {
            Ok(metadata) => metadata,
            // Gone meanwhile (another worker took it).
            Err(_) => return Ok(None),
        };
        let stem = if metadata.is_dir() {
            Some(name.as_str())
        } else if metadata.is_file() {
            ARCHIVE_SUFFIXES.iter().find_map(|suffix| name.strip_suffix(suffix))
        } else {
            None
        };
        let Some(stem) = stem else {
            return self.refuse(path, &name, "not a bag directory, .zip or .tar file", observer).map(Some);
        };
        let batch_id: BatchId = match stem.parse() {
            Ok(batch_id) => batch_id,
            Err(error) => return self.refuse(path, &name, &error.to_string(), observer).map(Some),
        };
        if let Some(existing) = self.pipeline.store.batch(batch_id.as_str())? {
            let reason = format!(
                "batch {batch_id} is already registered (now {}); a redelivery needs a new batch id and Replaces-Batch",
                existing.batch.state
            );
            return self.refuse(path, &name, &reason, observer).map(Some);
        }
        let batch_dir = self.pipeline.batch_dir(batch_id.as_str());
        if batch_dir.exists() {
            let reason = format!("the work area already holds {}; see the operator", batch_dir.display());
            return self.refuse(path, &name, &reason, observer).map(Some);
        }
        let source_dir = batch_dir.join("source");
        std::fs::create_dir_all(&source_dir).map_err(|source| RuntimeError::Io {
            action: "cannot create",
            path: source_dir.clone(),
            source,
        })?;
        let target = source_dir.join(&name);
        if let Err(error) = move_entry(path, &target) {
            // Leave the inbox entry where it was; the next poll tries again.
            let _ = std::fs::remove_dir_all(&batch_dir);
            return Err(RuntimeError::Io {
                action: "cannot move delivery out of the inbox",
                path: path.to_owned(),
                source: error,
            });
        }
        self.register(&batch_id, &name, observer).map(Some)
    }

    fn register(&self, batch_id: &BatchId, name: &str, observer: &dyn Observer) -> Result<IntakeOutcome, RuntimeError> {
        let new = NewBatch {
            batch_id: batch_id.clone(),
            source_name: name.to_owned(),
            source_path: format!("batches/{batch_id}/source/{name}"),
        };
        match self.pipeline.store.register_batch(&new, now_ms())? {
            Registration::Registered(_) => {
                tracing::info!(batch_id = %batch_id, source = %name, "registered");
                observer.note(&Note::Registered { batch_id: batch_id.to_string(), source_name: name.to_owned() });
            }
            Registration::AlreadyRegistered(_) => {}
        }
        Ok(IntakeOutcome::Registered(batch_id.to_string()))
    }

    /// Registers deliveries that were moved into the work area by a process
    /// that died before it could register them.
    pub fn register_orphans(&self, observer: &dyn Observer) -> Result<(), RuntimeError> {
        let batches = self.pipeline.data_dir.join("batches");
        let Ok(entries) = std::fs::read_dir(&batches) else { return Ok(()) };
        let mut dirs: Vec<PathBuf> = entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
        dirs.sort();
        for dir in dirs {
            let Some(batch_id) =
                dir.file_name().and_then(|name| name.to_str()).and_then(|name| name.parse::<BatchId>().ok())
            else {
                continue;
            };
            if self.pipeline.store.batch(batch_id.as_str())?.is_some() {
                continue;
            }
            let sources: Vec<PathBuf> = std::fs::read_dir(dir.join("source"))
                .map(|entries| entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect())
                .unwrap_or_default();
            match sources.as_slice() {
                [source] => {
                    let name = source.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
                    tracing::warn!(batch_id = %batch_id, "registering a delivery moved before a crash");
                    self.register(&batch_id, &name, observer)?;
                }
                // The move itself never completed: nothing arrived, tidy up.
                [] => {
                    let _ = std::fs::remove_dir_all(&dir);
                }
                _ => {
                    tracing::error!(batch_id = %batch_id, dir = %dir.display(), "work area holds several sources; left for an operator")
                }
            }
        }
        Ok(())
    }

    fn refuse(
        &self,
        path: &Path,
        name: &str,
        reason: &str,
        observer: &dyn Observer,
    ) -> Result<IntakeOutcome, RuntimeError> {
        let refused_dir = self.pipeline.data_dir.join("refused");
        std::fs::create_dir_all(&refused_dir).map_err(|source| RuntimeError::Io {
            action: "cannot create",
            path: refused_dir.clone(),
            source,
        })?;
        let target = refused_dir.join(format!("{name}.{}", now_ms()));
        move_entry(path, &target).map_err(|source| RuntimeError::Io {
            action: "cannot move refused delivery",
            path: path.to_owned(),
            source,
        })?;
        let note_path =
            refused_dir.join(format!("{}.reason.txt", target.file_name().unwrap_or_default().to_string_lossy()));
        std::fs::write(&note_path, format!("{name}: {reason}\n")).map_err(|source| RuntimeError::Io {
            action: "cannot write",
            path: note_path.clone(),
            source,
        })?;
        tracing::warn!(entry = %name, %reason, "inbox entry refused");
        observer.note(&Note::Refused { name: name.to_owned(), reason: reason.to_owned() });
        Ok(IntakeOutcome::Refused { name: name.to_owned(), reason: reason.to_owned() })
    }
}

/// Hidden files and partial uploads are not deliveries (yet).
fn is_ignored(path: &Path) -> bool {
    let name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    name.starts_with('.') || name.ends_with(".part") || name.ends_with(".tmp")
}

/// Renames, or copies then removes across file systems.
fn move_entry(from: &Path, to: &Path) -> std::io::Result<()> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::CrossesDevices => {
            // Copy under a temporary name, then rename, so the target
            // never holds a half copy.
            let temporary = to.with_extension("copying");
            copy_tree(from, &temporary)?;
            std::fs::rename(&temporary, to)?;
            if from.is_dir() { std::fs::remove_dir_all(from) } else { std::fs::remove_file(from) }
        }
        Err(error) => Err(error),
    }
}

fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    let metadata = std::fs::symlink_metadata(from)?;
    if metadata.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else if metadata.is_file() {
        std::fs::copy(from, to).map(|_| ())
    } else {
        // Links are not followed; validation reports them from the original.
        Err(std::io::Error::other(format!("{} is neither a file nor a directory", from.display())))
    }
}

/// Total size, entry count and newest mtime below `path` (without following links).
fn signature(path: &Path) -> Signature {
    let mut total = (0, 0, None);
    let mut stack = vec![path.to_owned()];
    while let Some(current) = stack.pop() {
        let Ok(metadata) = std::fs::symlink_metadata(&current) else { continue };
        total.0 += metadata.len();
        total.1 += 1;
        let modified = metadata.modified().ok();
        if modified > total.2 {
            total.2 = modified;
        }
        if metadata.is_dir()
            && let Ok(entries) = std::fs::read_dir(&current)
        {
            stack.extend(entries.filter_map(|entry| entry.ok().map(|entry| entry.path())));
        }
    }
    total
}
