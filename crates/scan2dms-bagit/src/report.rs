//! The result of validating a bag: what was read, and everything wrong with it.
//!
//! Key decision: a report is plain data (serde-serialisable for `--json`),
//! and every problem is a [`BagFinding`] with a stable [`FindingKind`] code.
//! Only a bag that cannot be looked at at all is a [`BagError`].
//!
//! This module does not decide what is wrong; `validate` does.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

use crate::Algorithm;

/// Why a bag could not be checked at all. Problems *in* the bag are findings.
#[derive(Debug, thiserror::Error)]
pub enum BagError {
    #[error("bag directory {path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("cannot read bag directory {path}")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot start {threads} hashing threads")]
    ThreadPool {
        threads: usize,
        #[source]
        source: rayon::ThreadPoolBuildError,
    },
}

/// Everything read from a bag and everything found wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BagReport {
    /// `BagIt-Version` from bagit.txt, when it parses.
    pub version: Option<(u32, u32)>,
    /// bag-info.txt tags in file order, continuation lines joined (see
    /// [`crate::parse_bag_info`]), repeated labels kept.
    pub bag_info: Vec<(String, String)>,
    /// Every regular file under `data/`, sorted by path.
    pub payload_files: Vec<PayloadFile>,
    /// All problems, sorted by kind, then path, then detail.
    pub findings: Vec<BagFinding>,
}

impl BagReport {
    /// A bag is valid (RFC 8493 §3: complete, and every checksum verifies)
    /// when nothing at all was found wrong.
    pub fn is_valid(&self) -> bool {
        self.findings.is_empty()
    }

    /// The first value of a bag-info.txt tag, the label matched without
    /// regard to ASCII case: RFC 8493 §2.2.2 makes the reserved labels
    /// (`Payload-Oxum`, `External-Identifier`, ...) case-insensitive, and a
    /// lookup by any label follows the same rule.
    pub fn bag_info_value(&self, label: &str) -> Option<&str> {
        self.bag_info.iter().find(|(name, _)| name.eq_ignore_ascii_case(label)).map(|(_, value)| value.as_str())
    }

    /// Every value of a (repeatable) bag-info.txt tag, in file order, the
    /// label matched without regard to ASCII case.
    pub fn bag_info_values<'a>(&'a self, label: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.bag_info.iter().filter(move |(name, _)| name.eq_ignore_ascii_case(label)).map(|(_, value)| value.as_str())
    }

    /// Sum of the payload file sizes and their count, as in `Payload-Oxum`.
    pub fn payload_oxum(&self) -> (u64, u64) {
        let octets = self.payload_files.iter().map(|file| file.bytes).sum();
        (octets, self.payload_files.len() as u64)
    }
}

/// One regular file under `data/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PayloadFile {
    /// Relative to the bag root, '/' separated, e.g. `data/images/a.tif`.
    pub path: String,
    pub bytes: u64,
    /// Computed digests (lowercase hex), one per algorithm of the bag's
    /// manifests, in algorithm order. Empty when the file could not be read.
    pub digests: Vec<(Algorithm, String)>,
}

/// One problem with a bag.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct BagFinding {
    pub kind: FindingKind,
    /// The file at fault, relative to the bag root (`data/a.tif`,
    /// `manifest-sha256.txt`), when there is one.
    pub path: Option<String>,
    /// Lowercase, names the manifest, line or field at fault.
    pub detail: String,
}

impl BagFinding {
    pub(crate) fn new(kind: FindingKind, path: impl Into<String>, detail: impl Into<String>) -> BagFinding {
        BagFinding { kind, path: Some(path.into()), detail: detail.into() }
    }

    pub(crate) fn bagless(kind: FindingKind, detail: impl Into<String>) -> BagFinding {
        BagFinding { kind, path: None, detail: detail.into() }
    }
}

impl fmt::Display for BagFinding {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(formatter, "{} {}: {}", self.kind.code(), path.escape_debug(), self.detail),
            None => write!(formatter, "{}: {}", self.kind.code(), self.detail),
        }
    }
}

/// What kind of problem a finding is. The snake_case codes are stable and
/// match the delivery spec's reason codes where one exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// bagit.txt missing, not exactly the two required lines, an unsupported
    /// version or encoding, or a byte-order mark in a 1.0 bag.
    BadBagitTxt,
    /// bag-info.txt garbled: a line without a label, a continuation line with
    /// nothing to continue, text not valid in the declared encoding, a
    /// malformed or repeated `Payload-Oxum`, a byte-order mark.
    BadBagInfo,
    /// A manifest or tag manifest is unusable in part: an unparseable line, an
    /// unknown algorithm, a malformed digest, a path listed twice, a payload
    /// manifest entry outside `data/`, a tag manifest that lists a payload
    /// file or a tag manifest or leaves out a payload manifest, a byte-order
    /// mark; or the bag has no payload manifest at all.
    BadManifest,
    /// fetch.txt has an unparseable line, a malformed URL, or lists a file
    /// that no payload manifest lists.
    BadFetch,
    /// The bag's shape is wrong: no `data/` directory.
    BadLayout,
    /// A file's digest differs from its manifest entry (payload or tag).
    ChecksumMismatch,
    /// A file listed in a manifest (or fetch.txt) is absent.
    MissingFile,
    /// A payload file is not listed in a payload manifest.
    UnlistedFile,
    /// `Payload-Oxum` does not match `data/`.
    OxumMismatch,
    /// A manifest or fetch.txt path is absolute or contains `..`, or the bag
    /// holds a symbolic link or special file (never followed).
    PathEscape,
    /// A file or directory in the bag could not be read.
    UnreadableFile,
}

impl FindingKind {
    /// The stable snake_case code, as serialised.
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::BadBagitTxt => "bad_bagit_txt",
            FindingKind::BadBagInfo => "bad_bag_info",
            FindingKind::BadManifest => "bad_manifest",
            FindingKind::BadFetch => "bad_fetch",
            FindingKind::BadLayout => "bad_layout",
            FindingKind::ChecksumMismatch => "checksum_mismatch",
            FindingKind::MissingFile => "missing_file",
            FindingKind::UnlistedFile => "unlisted_file",
            FindingKind::OxumMismatch => "oxum_mismatch",
            FindingKind::PathEscape => "path_escape",
            FindingKind::UnreadableFile => "unreadable_file",
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.code())
    }
}
