//! The port's vocabulary: object ids, what to file where, and the errors.
//!
//! These are domain types, not wire types: the enaio JSON lives in
//! `enaio::wire` and is converted by hand. Index fields are plain strings
//! keyed by name; which enaio field a name means is the adapter's business.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

/// Index fields by name, in a stable order.
pub type Fields = BTreeMap<String, String>;

/// The id a DMS gave an object. enaio uses numeric strings, yuuvis UUIDs;
/// either way it is a non-empty token without spaces or slashes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectId(String);

impl ObjectId {
    pub fn parse(value: &str) -> Result<ObjectId, InvalidObjectId> {
        let valid = !value.is_empty()
            && value.len() <= 128
            && value.bytes().all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b':'));
        if valid { Ok(ObjectId(value.to_owned())) } else { Err(InvalidObjectId(value.to_owned())) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid object id {0:?}")]
pub struct InvalidObjectId(pub String);

/// A folder (the "Akte" of one record). It is found by `key`, the value of
/// the folder type's key field (the record id); `fields` are the other index
/// data, taken from the order list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderSpec {
    pub key: String,
    pub fields: Fields,
}

/// A register inside a folder: one per document type, found by `name`
/// (the value of the register type's name field) among the folder's registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterSpec {
    pub name: String,
    pub fields: Fields,
}

/// A document to file. `external_id` is our id of the document and is what
/// makes a push idempotent: it is stored in a dedicated index field and
/// searched for before every insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSpec {
    pub external_id: String,
    pub file_name: String,
    pub mime_type: String,
    pub fields: Fields,
}

/// What a health check saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    /// The object types the check queried, each known to the server.
    pub object_types: Vec<String>,
    /// Wall time of the whole check.
    pub round_trip: Duration,
}

/// The SHA-256 (lowercase hex) and length of content as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentDigest {
    pub sha256: String,
    pub length: u64,
}

/// Why a call to a DMS failed, sorted by what a caller should do about it.
#[derive(Debug, thiserror::Error)]
pub enum DmsError {
    /// Worth another try: a 5xx, 408 or 429 answer, a timeout, a refused or
    /// broken connection, or a response lost on the way. The request may
    /// have been carried out.
    #[error("{operation}: transient failure: {message}")]
    Transient { operation: String, message: String },
    /// The server refused the request (a 4xx other than 401, 403, 408 and
    /// 429); `message` is what it said. Trying again changes nothing.
    #[error("{operation}: rejected with status {status}: {message}")]
    Rejected { operation: String, status: u16, message: String },
    /// The credentials were refused (401 or 403).
    #[error("{operation}: credentials refused with status {status}")]
    Unauthorized { operation: String, status: u16 },
    /// The server answered success with a body we cannot read.
    #[error("{operation}: unexpected response: {message}")]
    Protocol { operation: String, message: String },
    /// A local file to upload could not be read.
    #[error("{operation}: cannot read {path}")]
    Content {
        operation: String,
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The client's settings are unusable.
    #[error("dms settings: {field}: {message}")]
    Settings { field: &'static str, message: String },
}

impl DmsError {
    /// True when the same request may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, DmsError::Transient { .. })
    }
}
