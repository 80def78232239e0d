//! Safe extraction of an uploaded delivery archive (`.zip` or `.tar`) into the
//! batch's work directory.
//!
//! Key decision: inspect everything, then write. The whole archive is read
//! first without writing a byte (zip: the central directory; tar: a pass over
//! the headers that seeks over the data), and every entry is checked: a name
//! that is absolute, has a `..` component, a backslash, a drive letter or a
//! NUL byte is a [`ArchiveError::PathEscape`]; a symbolic link, hard link,
//! device or fifo is a [`ArchiveError::Link`]; the entry count, the declared
//! total size and the compression ratio are held against [`ArchiveLimits`].
//! Only then are files written, each with `create_new` below `dest_dir`,
//! never through a link (none is ever created), counting the bytes actually
//! written so a header that lies about its size is caught as well. On any
//! error the partial extraction is removed.
//!
//! Tar is stored uncompressed, so the ratio limit only applies to zip; a tar
//! entry's data can never be longer than its header says.
//!
//! What this module does not do: it does not restore permissions, owners,
//! timestamps or extended attributes (files get the process' default mode),
//! it does not read compressed tarballs (`.tar.gz`) or encrypted zip entries,
//! and it does not validate the bag inside: that is `validate_delivery`'s job.
//! It only guarantees a single top-level directory, returned as the bag root.

use std::collections::{BTreeSet, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// Bounds on what one archive may expand to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveLimits {
    /// Largest sum of the uncompressed sizes of all entries.
    pub max_total_bytes: u64,
    /// Largest number of entries (files and directories).
    pub max_entries: u64,
    /// Largest uncompressed/compressed ratio, per zip entry and for the whole
    /// archive. Entries and archives that expand to less than
    /// [`RATIO_CHECK_MIN_BYTES`] are exempt: small text files compress well and
    /// cannot be bombs by themselves.
    pub max_compression_ratio: u64,
}

/// Below this uncompressed size the compression ratio is not checked.
pub const RATIO_CHECK_MIN_BYTES: u64 = 1024 * 1024;

impl Default for ArchiveLimits {
    /// Real deliveries are 1 to 100 MB of already-compressed page images
    /// (G4, JPEG, PNG) plus small CSV and tag files, so they expand to about
    /// their own size. The defaults leave a wide margin for that and still
    /// stop a bomb early: 4 GiB in total, 100 000 entries (a bag of tens of
    /// thousands of pages), and a ratio of 100 (a zip bomb of zeros deflates
    /// at about 1000:1; text compresses at 3 to 20:1).
    fn default() -> ArchiveLimits {
        ArchiveLimits { max_total_bytes: 4 * 1024 * 1024 * 1024, max_entries: 100_000, max_compression_ratio: 100 }
    }
}

/// The container of an uploaded delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArchiveKind {
    Zip,
    Tar,
}

/// The outcome of a successful [`extract`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extracted {
    /// `dest_dir/<the archive's single top-level directory>`.
    pub bag_root: PathBuf,
    /// Entries written, directories included.
    pub entries: u64,
    /// Bytes written, file contents only.
    pub bytes: u64,
}

/// Why an archive was refused. Nothing of it remains in `dest_dir` then.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("i/o error on {}: {source}", path.display())]
    Io { path: PathBuf, source: io::Error },
    #[error("malformed archive: {0}")]
    Malformed(String),
    #[error("archive entry {entry} escapes the bag: {detail}")]
    PathEscape { entry: String, detail: String },
    /// A symbolic link, hard link, device or fifo.
    #[error("archive entry {entry} is a link or special file, not a regular file or directory")]
    Link { entry: String },
    #[error("archive too large: {detail}")]
    TooLarge { detail: String },
    #[error("archive must hold a single top-level directory, found {}", describe_roots(roots))]
    NoSingleRoot { roots: Vec<String> },
}

impl ArchiveError {
    /// The delivery-format reason code for this refusal, when there is one
    /// (I/O errors are ours, not the contractor's).
    pub fn reason_code(&self) -> Option<scan2dms_model::ReasonCode> {
        use scan2dms_model::ReasonCode;
        match self {
            ArchiveError::Io { .. } => None,
            ArchiveError::PathEscape { .. } | ArchiveError::Link { .. } => Some(ReasonCode::PathEscape),
            ArchiveError::TooLarge { .. } => Some(ReasonCode::ArchiveTooLarge),
            // Not a readable BagIt bag at all.
            ArchiveError::Malformed(_) | ArchiveError::NoSingleRoot { .. } => Some(ReasonCode::BadBagitTxt),
        }
    }
}

/// Recognises an archive by its magic bytes (`PK\x03\x04` or an empty zip's
/// `PK\x05\x06`; `ustar` at offset 257), falling back to the extension
/// (`.zip`, `.tar`) when the file cannot be read or has neither.
pub fn sniff(path: &Path) -> Option<ArchiveKind> {
    let mut head = Vec::with_capacity(262);
    if let Ok(file) = File::open(path) {
        let _ = file.take(262).read_to_end(&mut head);
    }
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(ArchiveKind::Zip);
    }
    if head.get(257..262) == Some(b"ustar".as_slice()) {
        return Some(ArchiveKind::Tar);
    }
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("zip") => Some(ArchiveKind::Zip),
        Some("tar") => Some(ArchiveKind::Tar),
        _ => None,
    }
}

/// Extracts `archive` into `dest_dir`, which must not exist or be empty.
///
/// The archive is checked completely before anything is written; see the
/// module documentation for the rules. On error `dest_dir` is left as it was
/// found (removed when this call created it, emptied otherwise).
pub fn extract(archive: &Path, dest_dir: &Path, limits: &ArchiveLimits) -> Result<Extracted, ArchiveError> {
    let kind = sniff(archive)
        .ok_or_else(|| ArchiveError::Malformed(format!("{}: not a zip or tar archive", archive.display())))?;
    let archive_len = fs::metadata(archive).map_err(|source| io_error(archive, source))?.len();
    let plan = match kind {
        ArchiveKind::Zip => inspect_zip(archive, archive_len, limits)?,
        ArchiveKind::Tar => inspect_tar(archive, limits)?,
    };
    let root = single_root(&plan)?;

    let created_dest = prepare_dest(dest_dir)?;
    let mut writer = Writer { dest_dir, limits, entries: 0, bytes: 0 };
    let written = match kind {
        ArchiveKind::Zip => writer.write_zip(archive, &plan),
        ArchiveKind::Tar => writer.write_tar(archive, &plan),
    };
    match written {
        Ok(()) => Ok(Extracted { bag_root: dest_dir.join(&root), entries: writer.entries, bytes: writer.bytes }),
        Err(error) => {
            clean_up(dest_dir, created_dest);
            Err(error)
        }
    }
}

/// One entry that passed inspection.
#[derive(Debug)]
struct PlannedEntry {
    /// The name as stored in the archive (lossy UTF-8), for messages.
    name: String,
    /// Checked, normalised components: no `..`, `.`, empty or separator.
    components: Vec<String>,
    is_dir: bool,
    declared_size: u64,
}

fn describe_roots(roots: &[String]) -> String {
    if roots.is_empty() { "no entries".to_owned() } else { roots.join(", ") }
}

fn io_error(path: &Path, source: io::Error) -> ArchiveError {
    ArchiveError::Io { path: path.to_path_buf(), source }
}

fn too_large(detail: String) -> ArchiveError {
    ArchiveError::TooLarge { detail }
}

/// Checks an entry name and splits it into safe components.
fn checked_components(raw: &[u8]) -> Result<Vec<String>, ArchiveError> {
    let entry = String::from_utf8_lossy(raw).into_owned();
    let escape = |detail: &str| ArchiveError::PathEscape { entry: entry.clone(), detail: detail.to_owned() };
    let Ok(name) = std::str::from_utf8(raw) else {
        return Err(escape("name is not valid utf-8"));
    };
    if name.contains('\0') {
        return Err(escape("name contains a nul byte"));
    }
    if name.contains('\\') {
        return Err(escape("name contains a backslash"));
    }
    if name.starts_with('/') {
        return Err(escape("absolute path"));
    }
    let mut components = Vec::new();
    for component in name.split('/') {
        match component {
            "" | "." => {}
            ".." => return Err(escape("parent directory component")),
            _ if component.contains(':') => {
                return Err(escape("drive letter or stream name (colon)"));
            }
            _ => components.push(component.to_owned()),
        }
    }
    if components.is_empty() {
        return Err(escape("empty name"));
    }
    Ok(components)
}

/// Shared bookkeeping of both inspections: entry count, total size and
/// duplicate names.
struct Tally<'a> {
    archive: &'a Path,
    limits: &'a ArchiveLimits,
    entries: Vec<PlannedEntry>,
    total_bytes: u64,
    seen: HashSet<Vec<String>>,
}

impl Tally<'_> {
    fn add(&mut self, entry: PlannedEntry) -> Result<(), ArchiveError> {
        if self.entries.len() as u64 >= self.limits.max_entries {
            return Err(too_large(format!(
                "{} has more than {} entries",
                self.archive.display(),
                self.limits.max_entries
            )));
        }
        self.total_bytes = self.total_bytes.saturating_add(entry.declared_size);
        if self.total_bytes > self.limits.max_total_bytes {
            return Err(too_large(format!(
                "{} expands beyond {} bytes (at entry {})",
                self.archive.display(),
                self.limits.max_total_bytes,
                entry.name
            )));
        }
        if !self.seen.insert(entry.components.clone()) {
            // A directory listed twice is harmless; a file twice is not.
            if !entry.is_dir {
                return Err(ArchiveError::Malformed(format!(
                    "{}: entry {} appears twice",
                    self.archive.display(),
                    entry.name
                )));
            }
            return Ok(());
        }
        self.entries.push(entry);
        Ok(())
    }
}

fn inspect_zip(archive: &Path, archive_len: u64, limits: &ArchiveLimits) -> Result<Vec<PlannedEntry>, ArchiveError> {
    let file = File::open(archive).map_err(|source| io_error(archive, source))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|error| zip_error(archive, None, error))?;
    if zip.len() as u64 > limits.max_entries {
        return Err(too_large(format!(
            "{} has {} entries, more than {}",
            archive.display(),
            zip.len(),
            limits.max_entries
        )));
    }
    let mut tally = Tally { archive, limits, entries: Vec::new(), total_bytes: 0, seen: HashSet::new() };
    for index in 0..zip.len() {
        // The raw view reads the central directory record and the local
        // header, not the data.
        let entry = zip.by_index_raw(index).map_err(|error| zip_error(archive, None, error))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let components = checked_components(entry.name_raw())?;
        let file_type = entry.unix_mode().map(|mode| mode & 0o170000).unwrap_or(0);
        if entry.is_symlink() || !matches!(file_type, 0 | 0o100000 | 0o040000) {
            return Err(ArchiveError::Link { entry: name });
        }
        if entry.encrypted() {
            return Err(ArchiveError::Malformed(format!("{}: entry {name} is encrypted", archive.display())));
        }
        let is_dir = entry.is_dir() || file_type == 0o040000;
        let declared_size = if is_dir { 0 } else { entry.size() };
        let compressed = entry.compressed_size().max(1);
        if declared_size >= RATIO_CHECK_MIN_BYTES && declared_size / compressed > limits.max_compression_ratio {
            return Err(too_large(format!(
                "entry {name} of {} expands from {} to {declared_size} bytes, a ratio above {}",
                archive.display(),
                entry.compressed_size(),
                limits.max_compression_ratio
            )));
        }
        tally.add(PlannedEntry { name, components, is_dir, declared_size })?;
    }
    if tally.total_bytes >= RATIO_CHECK_MIN_BYTES
        && tally.total_bytes / archive_len.max(1) > limits.max_compression_ratio
    {
        return Err(too_large(format!(
            "{} expands from {archive_len} to {} bytes, a ratio above {}",
            archive.display(),
            tally.total_bytes,
            limits.max_compression_ratio
        )));
    }
    Ok(tally.entries)
}

fn inspect_tar(archive: &Path, limits: &ArchiveLimits) -> Result<Vec<PlannedEntry>, ArchiveError> {
    let file = File::open(archive).map_err(|source| io_error(archive, source))?;
    let mut tar = tar::Archive::new(file);
    let mut tally = Tally { archive, limits, entries: Vec::new(), total_bytes: 0, seen: HashSet::new() };
    // Seeks over the data of each entry instead of reading it.
    let entries = tar.entries_with_seek().map_err(|error| tar_error(archive, error))?;
    for entry in entries {
        let entry = entry.map_err(|error| tar_error(archive, error))?;
        if let Some(planned) = plan_tar_entry(archive, &entry)? {
            tally.add(planned)?;
        }
    }
    Ok(tally.entries)
}

/// Checks one tar entry; `None` for metadata entries that carry no file.
fn plan_tar_entry<R: Read>(archive: &Path, entry: &tar::Entry<'_, R>) -> Result<Option<PlannedEntry>, ArchiveError> {
    use tar::EntryType;
    let raw_name = entry.path_bytes();
    let name = String::from_utf8_lossy(&raw_name).into_owned();
    let entry_type = entry.header().entry_type();
    let is_dir = match entry_type {
        EntryType::Regular | EntryType::Continuous => false,
        EntryType::Directory => true,
        // PAX and GNU metadata records; the tar crate folds long names and
        // per-file PAX headers into the following entry already.
        EntryType::XGlobalHeader | EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink => {
            return Ok(None);
        }
        EntryType::Symlink | EntryType::Link | EntryType::Char | EntryType::Block | EntryType::Fifo => {
            return Err(ArchiveError::Link { entry: name });
        }
        other => {
            return Err(ArchiveError::Malformed(format!(
                "{}: entry {name} has unsupported type {other:?}",
                archive.display()
            )));
        }
    };
    let components = checked_components(&raw_name)?;
    let declared_size = if is_dir { 0 } else { entry.size() };
    Ok(Some(PlannedEntry { name, components, is_dir, declared_size }))
}

fn zip_error(archive: &Path, entry: Option<&str>, error: zip::result::ZipError) -> ArchiveError {
    let place = match entry {
        Some(entry) => format!("{}: entry {entry}", archive.display()),
        None => archive.display().to_string(),
    };
    match error {
        zip::result::ZipError::Io(source)
            if source.kind() != io::ErrorKind::InvalidData && source.kind() != io::ErrorKind::UnexpectedEof =>
        {
            io_error(archive, source)
        }
        other => ArchiveError::Malformed(format!("{place}: {other}")),
    }
}

fn tar_error(archive: &Path, error: io::Error) -> ArchiveError {
    // The tar crate reports corrupt headers as io::Error (kind Other or
    // InvalidData); only errors of the file system itself are i/o errors.
    match error.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::PermissionDenied => io_error(archive, error),
        _ => ArchiveError::Malformed(format!("{}: {error}", archive.display())),
    }
}

/// The one top-level directory every entry lives under.
fn single_root(plan: &[PlannedEntry]) -> Result<String, ArchiveError> {
    let roots: BTreeSet<&str> = plan.iter().map(|entry| entry.components[0].as_str()).collect();
    let top_level_file = plan.iter().find(|entry| entry.components.len() == 1 && !entry.is_dir);
    match (roots.len(), top_level_file) {
        (1, None) => Ok(roots.into_iter().next().unwrap_or_default().to_owned()),
        _ => Err(ArchiveError::NoSingleRoot { roots: roots.into_iter().take(10).map(str::to_owned).collect() }),
    }
}

/// Creates `dest_dir` (and its parents) or accepts it when empty. Returns
/// whether this call created it.
fn prepare_dest(dest_dir: &Path) -> Result<bool, ArchiveError> {
    match fs::create_dir(dest_dir) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            let mut contents = fs::read_dir(dest_dir).map_err(|source| io_error(dest_dir, source))?;
            if contents.next().is_some() {
                return Err(io_error(
                    dest_dir,
                    io::Error::new(io::ErrorKind::AlreadyExists, "destination directory is not empty"),
                ));
            }
            Ok(false)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dest_dir).map_err(|source| io_error(dest_dir, source))?;
            Ok(true)
        }
        Err(source) => Err(io_error(dest_dir, source)),
    }
}

/// Removes what a failed extraction left. Best effort: a failure to clean up
/// must not hide the error that caused it.
fn clean_up(dest_dir: &Path, created_dest: bool) {
    if created_dest {
        let _ = fs::remove_dir_all(dest_dir);
        return;
    }
    if let Ok(contents) = fs::read_dir(dest_dir) {
        for entry in contents.flatten() {
            let path = entry.path();
            // DirEntry::file_type does not follow links.
            match entry.file_type() {
                Ok(file_type) if file_type.is_dir() => {
                    let _ = fs::remove_dir_all(&path);
                }
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

struct Writer<'a> {
    dest_dir: &'a Path,
    limits: &'a ArchiveLimits,
    entries: u64,
    bytes: u64,
}

impl Writer<'_> {
    fn write_zip(&mut self, archive: &Path, plan: &[PlannedEntry]) -> Result<(), ArchiveError> {
        let file = File::open(archive).map_err(|source| io_error(archive, source))?;
        let mut zip = zip::ZipArchive::new(BufReader::new(file)).map_err(|error| zip_error(archive, None, error))?;
        let mut planned = plan.iter();
        for index in 0..zip.len() {
            let mut entry = zip.by_index(index).map_err(|error| zip_error(archive, None, error))?;
            let name_components = checked_components(entry.name_raw())?;
            // Duplicated directory entries were folded during inspection.
            let Some(planned_entry) = planned.as_slice().first().filter(|p| p.components == name_components) else {
                if entry.is_dir() {
                    continue;
                }
                return Err(ArchiveError::Malformed(format!(
                    "{}: entry {} changed between inspection and extraction",
                    archive.display(),
                    String::from_utf8_lossy(entry.name_raw())
                )));
            };
            planned.next();
            // The zip crate stops at the declared size and then checks the
            // CRC, so a longer stream surfaces as a malformed entry.
            self.write_entry(archive, planned_entry, &mut entry)?;
        }
        Ok(())
    }

    fn write_tar(&mut self, archive: &Path, plan: &[PlannedEntry]) -> Result<(), ArchiveError> {
        let file = File::open(archive).map_err(|source| io_error(archive, source))?;
        let mut tar = tar::Archive::new(BufReader::new(file));
        let mut planned = plan.iter();
        let entries = tar.entries().map_err(|error| tar_error(archive, error))?;
        for entry in entries {
            let mut entry = entry.map_err(|error| tar_error(archive, error))?;
            let Some(checked) = plan_tar_entry(archive, &entry)? else {
                continue;
            };
            let Some(planned_entry) = planned.as_slice().first().filter(|p| p.components == checked.components) else {
                if checked.is_dir {
                    continue;
                }
                return Err(ArchiveError::Malformed(format!(
                    "{}: entry {} changed between inspection and extraction",
                    archive.display(),
                    checked.name
                )));
            };
            planned.next();
            self.write_entry(archive, planned_entry, &mut entry)?;
        }
        Ok(())
    }

    /// Writes one entry below `dest_dir`, never more bytes than it declared
    /// and never more than the archive's total allows.
    fn write_entry(
        &mut self,
        archive: &Path,
        planned: &PlannedEntry,
        data: &mut impl Read,
    ) -> Result<(), ArchiveError> {
        let mut target = self.dest_dir.to_path_buf();
        target.extend(&planned.components);
        self.entries += 1;
        if planned.is_dir {
            // Parents are created by us only, and no link is ever created,
            // so create_dir_all cannot be led outside dest_dir.
            return fs::create_dir_all(&target).map_err(|source| io_error(&target, source));
        }
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|source| io_error(parent, source))?;
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(|source| io_error(&target, source))?;
        let mut out = BufWriter::new(file);
        let mut buffer = vec![0u8; 64 * 1024];
        let mut written: u64 = 0;
        loop {
            let read = match data.read(&mut buffer) {
                Ok(0) => break,
                Ok(read) => read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(error) => {
                    return Err(ArchiveError::Malformed(format!(
                        "{}: entry {}: {error}",
                        archive.display(),
                        planned.name
                    )));
                }
            };
            written += read as u64;
            if written > planned.declared_size {
                return Err(too_large(format!(
                    "entry {} of {} expands beyond its declared {} bytes",
                    planned.name,
                    archive.display(),
                    planned.declared_size
                )));
            }
            if self.bytes + written > self.limits.max_total_bytes {
                return Err(too_large(format!(
                    "{} expands beyond {} bytes (at entry {})",
                    archive.display(),
                    self.limits.max_total_bytes,
                    planned.name
                )));
            }
            out.write_all(&buffer[..read]).map_err(|source| io_error(&target, source))?;
        }
        out.flush().map_err(|source| io_error(&target, source))?;
        if written != planned.declared_size {
            return Err(ArchiveError::Malformed(format!(
                "{}: entry {} has {written} bytes, {} declared",
                archive.display(),
                planned.name,
                planned.declared_size
            )));
        }
        self.bytes += written;
        Ok(())
    }
}

/// Where a delivery's bag is: the delivered directory itself, or the one
/// directory its archive was unpacked into under `unpacked`.
pub fn bag_root(delivered: &Path, unpacked: &Path) -> Result<PathBuf, String> {
    if delivered.is_dir() {
        return Ok(delivered.to_owned());
    }
    let mut roots = std::fs::read_dir(unpacked)
        .map_err(|error| format!("unpacked bag {}: {error}", unpacked.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.is_dir());
    match (roots.next(), roots.next()) {
        (Some(root), None) => Ok(root),
        _ => Err(format!("unpacked bag {} does not hold exactly one directory", unpacked.display())),
    }
}
