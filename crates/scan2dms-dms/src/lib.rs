//! The DMS side of scan2dms: the [`DmsTarget`] port, the enaio client
//! ([`EnaioClient`]), the xdomea export for a DMS without an API
//! ([`XdomeaExport`]) and the exactly-once push over any target ([`push`]).
//!
//! The port is blocking, like the rest of the pipeline (std threads and
//! rayon); an adapter that needs an async runtime keeps it inside. It knows
//! three kinds of object, as enaio does: a folder per record (the "Akte"),
//! registers inside it (one per document type) and documents with one file.
//!
//! The key decision is where "exactly once" lives: not in the adapter but
//! in plain functions over `&dyn DmsTarget` ([`push_document`],
//! [`ensure_folder`], [`ensure_register`]), which search by our own key
//! before every insert, and search again after an insert whose answer was
//! lost. An adapter sends each request once and classifies what went wrong
//! ([`DmsError`]); it never retries.
//!
//! What this crate does not do: it keeps no state of its own (which document
//! went where is the state store's business; the xdomea export's manifests
//! are its "DMS", not our bookkeeping), it never deletes or updates an
//! object in the DMS, and it does not talk to the legacy OSRest API.

mod enaio;
mod limit;
mod model;
pub mod push;
mod xdomea;

use std::path::Path;

pub use enaio::{EnaioClient, EnaioSettings};
pub use model::{
    ContentDigest, DmsError, DocumentSpec, Fields, FolderSpec, Health, InvalidObjectId, ObjectId, RegisterSpec,
};
pub use push::{
    PushError, PushOutcome, PushRequest, RetryPolicy, check_health, ensure_folder, ensure_register, push_document,
    thread_sleep, verify,
};
pub use xdomea::{XdomeaExport, XdomeaSettings};

/// The port: one DMS the pipeline files documents into. Methods take `&self`
/// and may be called from many threads; adapters synchronise internally.
///
/// Every call sends its request once. A search returns every matching id (so
/// that duplicates show); a create returns the new object's id.
pub trait DmsTarget: Send + Sync {
    /// Proves that the DMS answers, accepts our credentials and knows the
    /// configured object types.
    fn health(&self) -> Result<Health, DmsError>;

    /// Folders whose key field holds `folder.key`.
    fn find_folder(&self, folder: &FolderSpec) -> Result<Vec<ObjectId>, DmsError>;
    /// Creates a folder with the key and index fields.
    fn create_folder(&self, folder: &FolderSpec) -> Result<ObjectId, DmsError>;

    /// Registers in the folder whose name field holds `register.name`.
    fn find_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<Vec<ObjectId>, DmsError>;
    /// Creates a register in the folder.
    fn create_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<ObjectId, DmsError>;

    /// Documents whose external-id field holds `external_id`, anywhere.
    fn find_document(&self, external_id: &str) -> Result<Vec<ObjectId>, DmsError>;
    /// Inserts a document with its file into a folder or register.
    fn insert_document(&self, parent: &ObjectId, document: &DocumentSpec, content: &Path)
    -> Result<ObjectId, DmsError>;

    /// Reads the document's (first) file back and hashes it as it streams;
    /// the file is never held in memory whole.
    fn fetch_content(&self, object_id: &ObjectId) -> Result<ContentDigest, DmsError>;
}
