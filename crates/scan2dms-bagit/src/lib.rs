//! BagIt (RFC 8493) validation: a plain, fast validator for any bag.
//!
//! [`validate_bag`] checks one bag directory, versions 0.97 and 1.0: the bag
//! declaration (bagit.txt), bag-info.txt (with `Payload-Oxum`), every payload
//! manifest and tag manifest (md5, sha1, sha224, sha256, sha384, sha512),
//! fetch.txt, completeness in both directions and every checksum. It returns a
//! [`BagReport`] listing *all* problems as [`BagFinding`]s.
//!
//! Key decisions: each file is read once for all its algorithms and files are
//! hashed in parallel, largest first (see `validate`); symbolic links and
//! special files are refused, never followed; paths from manifests are only
//! looked up in the walked tree, never opened directly.
//!
//! What it deliberately does not do: check the meaning of bag-info values
//! (that belongs to the delivery checks), fetch remote files, unpack archives,
//! or apply Unicode normalisation to file names.

mod algorithm;
mod manifest;
mod report;
mod tagfile;
mod validate;
mod walk;

pub use algorithm::{Algorithm, digest_bytes, digest_file};
pub use manifest::{decode_manifest_path, encode_manifest_path, manifest_line};
pub use report::{BagError, BagFinding, BagReport, FindingKind, PayloadFile};
pub use tagfile::{parse_bag_info, split_lines};
pub use validate::read_at_most;
pub use validate::validate_bag;

/// How to run [`validate_bag`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ValidateOptions {
    /// Hashing threads; `None` (or `Some(0)`) uses rayon's global pool.
    pub threads: Option<usize>,
}
