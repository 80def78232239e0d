//! The XDOMEA export: a [`DmsTarget`] that files each record as an xdomea
//! 4.0.0 hand-over message (`Abgabe.Abgabe.0401`, namespace
//! `urn:xoev-de:xdomea:schema:4.0.0`) in a directory, for when the DMS API
//! is not available and the DMS imports xdomea instead. The push and the
//! read-back verification run on it unchanged.
//!
//! Mapping (see `shared/spec/enaio-dms-api.md` §7 and the 4.0.0 schema):
//!
//! | port | xdomea 4.0.0 |
//! |---|---|
//! | folder (a record) | one message, zipped as `{ProzessID}_0401_1.zip` with `{ProzessID}_0401_1.xml`, holding one `Schriftgutobjekt/Akte`: `AllgemeineMetadaten/Kennzeichen` = the key (record id), `Betreff` = the title field |
//! | register | `Akte/Akteninhalt/Vorgang`, `Betreff` = the register name |
//! | document | `DokumentOderDokumentMitSchriftstueck/Dokument` in its `Vorgang` (or directly in the `Akte`), `Betreff` = its title field or file name, one `Version` (`Nummer` 1) with one `Format` (code list `dateiformat` 2.0) and one `Primaerdokument`: `Dateiname` = `{own UUID}.{ext}` (the zip entry), `DateinameOriginal` = the file name, `Hash` = SHA-256 in hex (`Algorithmus` code `SHA-256`) |
//! | index fields, external id | `AnwendungsspezifischeErweiterung` (`Kennung` `scan2dms`), one `Feld` each |
//! | object ids | the objects' `xdomeaUUID` |
//!
//! The header is 4.0.0's `nachrichtenkopf`: `nachrichtenUUID`, `nachrichtentyp`
//! 0401, `erstellungszeitpunkt` (UTC, milliseconds), `leser` and `autor` as a
//! `Behoerdenkennung` (directory service and code from the settings),
//! `ProzessID`; then `Importbestaetigung` 1 (fixed by the schema),
//! `Empfangsbestaetigung` 0 and message 1 of 1. The product is named in the
//! root's `produkt`, `produkthersteller` and `produktversion` attributes.
//! (3.x names that 4.0.0 dropped: `Kopf`, `Absender`, `Empfaenger`,
//! `SendendesSystem`, `Identifikation/ID`; the 3.x zip name
//! `{ProzessID}_Abgabe.Abgabe.0401.zip`.)
//!
//! Key decisions:
//! - Ids are name-based UUIDs (version 8 from SHA-256, RFC 9562 B.2) of the
//!   sender code and our keys: a folder's from its key, a register's from
//!   its folder and name, a document's from its external id. A search
//!   recomputes the id and looks it up; the same record exported again keeps
//!   its UUIDs, as xdomea wants. The message UUID is derived from the
//!   record's content, so every state of a package has its own.
//! - State lives in `.scan2dms-xdomea/` under `out_dir`: a JSON manifest per
//!   record (`records/{folder id}/manifest.json`, the commit point: an
//!   object exists once its manifest names it) and a marker per register and
//!   document naming its record (`objects/{id}`).
//! - Every change rewrites the record's zip whole (temp file, fsync,
//!   rename): the documents already in it are copied over from the old zip
//!   and checked against their hashes on the way, the new file is streamed
//!   in and hashed as it goes, the message XML comes last; then the manifest
//!   is written. A crash in between leaves the old zip, or a zip with one
//!   document the manifest does not name yet: the next change of the record
//!   drops it again, and the push of that document, run again, adds it. The zip is the only copy of a document here (no
//!   personal data lingers in the staging area), so it costs one rewrite of
//!   the record per document.
//! - `fetch_content` reads the document back from the zip, hashing as it
//!   streams, so verification proves the package holds the right bytes.
//!
//! What it does not do: send packages anywhere or read the answers (0402,
//! 0403); mark a package complete (take packages once their batches are
//! verified); let a package that was moved away grow (the record's next
//! document fails, naming the missing zip); share `out_dir` with another
//! process; write an `Aktenplan`, `Laufzeit`, `Medium` or retention data;
//! validate against the XSD. The directory service's code list version is
//! written as "1", not checked against XRepository.

mod message;

use std::collections::HashMap;
use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

use crate::{ContentDigest, DmsError, DmsTarget, DocumentSpec, Fields, FolderSpec, Health, ObjectId, RegisterSpec};
use message::{Header, MESSAGE_TYPE_CODE, file_extension, message_xml};

/// The staging area inside `out_dir`.
const STAGING_DIR: &str = ".scan2dms-xdomea";
/// Version of the manifest's JSON layout.
const MANIFEST_FORMAT: u32 = 1;
const BUFFER_SIZE: usize = 64 * 1024;

/// Where the packages go and who sends them to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XdomeaSettings {
    /// The directory the packages are written to; it must exist. The
    /// staging area `.scan2dms-xdomea/` is created inside it.
    pub out_dir: PathBuf,
    /// The sending authority's code in the directory service (`autor`), e.g.
    /// a DVDV code like `psw:01003110`. All ids are derived from it.
    pub sender_code: String,
    /// The receiving authority's code (`leser`).
    pub receiver_code: String,
    /// The directory service both codes are registered in (code list
    /// `verzeichnisdienst`).
    pub directory_service: String,
    /// The folder and document field whose value is the `Betreff`.
    pub title_field: String,
    /// The organisation responsible for this installation of scan2dms (the
    /// `produkthersteller` attribute the schema demands).
    pub producer: String,
}

impl Default for XdomeaSettings {
    /// Everything but the directory and the two codes, which have no sensible
    /// default.
    fn default() -> Self {
        XdomeaSettings {
            out_dir: PathBuf::new(),
            sender_code: String::new(),
            receiver_code: String::new(),
            directory_service: "DVDV".to_owned(),
            title_field: "title".to_owned(),
            producer: "scan2dms".to_owned(),
        }
    }
}

/// The xdomea export. Share one per process; records are written in
/// parallel, the changes to one record one after another.
#[derive(Debug)]
pub struct XdomeaExport {
    settings: XdomeaSettings,
    staging_dir: PathBuf,
    record_locks: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl XdomeaExport {
    /// Checks the settings; nothing is written yet.
    pub fn new(settings: XdomeaSettings) -> Result<XdomeaExport, DmsError> {
        if settings.out_dir.as_os_str().is_empty() {
            return Err(DmsError::Settings { field: "out_dir", message: "must not be empty".to_owned() });
        }
        let required = [
            ("sender_code", &settings.sender_code),
            ("receiver_code", &settings.receiver_code),
            ("directory_service", &settings.directory_service),
            ("title_field", &settings.title_field),
            ("producer", &settings.producer),
        ];
        for (field, value) in required {
            if value.trim().is_empty() {
                return Err(DmsError::Settings { field, message: "must not be empty".to_owned() });
            }
        }
        let staging_dir = settings.out_dir.join(STAGING_DIR);
        Ok(XdomeaExport { settings, staging_dir, record_locks: Mutex::new(HashMap::new()) })
    }

    pub fn settings(&self) -> &XdomeaSettings {
        &self.settings
    }

    /// The zip of the record whose folder is `folder_id`, whether written yet
    /// or not.
    pub fn package_path(&self, folder_id: &ObjectId) -> PathBuf {
        self.package_path_of(&self.uuid("prozess", folder_id.as_str()))
    }

    fn package_path_of(&self, process_id: &str) -> PathBuf {
        self.settings.out_dir.join(format!("{}.zip", message_name(process_id)))
    }

    /// The name-based UUID of an object of `kind` called `name`.
    fn uuid(&self, kind: &str, name: &str) -> String {
        name_uuid(&self.settings.sender_code, kind, name)
    }

    fn record_lock(&self, folder_id: &str) -> Arc<Mutex<()>> {
        let mut locks = self.record_locks.lock().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(locks.entry(folder_id.to_owned()).or_default())
    }

    fn manifest_path(&self, folder_id: &str) -> PathBuf {
        self.staging_dir.join("records").join(folder_id).join("manifest.json")
    }

    fn marker_path(&self, object_id: &str) -> PathBuf {
        self.staging_dir.join("objects").join(object_id)
    }

    /// Creates the staging area; `out_dir` itself must already be there, so
    /// that a mistyped or unmounted directory is reported, not created.
    fn ensure_staging(&self, operation: &str) -> Result<(), DmsError> {
        let out_dir = &self.settings.out_dir;
        if !out_dir.is_dir() {
            return Err(DmsError::Settings {
                field: "out_dir",
                message: format!("{} is not an existing directory", out_dir.display()),
            });
        }
        for part in ["records", "objects"] {
            let dir = self.staging_dir.join(part);
            fs::create_dir_all(&dir).map_err(|error| io_failure(operation, &dir, &error))?;
        }
        Ok(())
    }

    fn load_manifest(&self, operation: &str, folder_id: &str) -> Result<Option<Manifest>, DmsError> {
        let path = self.manifest_path(folder_id);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(io_failure(operation, &path, &error)),
        };
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|error| protocol(operation, format!("{} is not a manifest: {error}", path.display())))?;
        if manifest.format != MANIFEST_FORMAT || manifest.folder_id != folder_id {
            return Err(protocol(
                operation,
                format!("{} is a manifest of format {} for {}", path.display(), manifest.format, manifest.folder_id),
            ));
        }
        Ok(Some(manifest))
    }

    fn write_manifest(&self, operation: &str, manifest: &Manifest) -> Result<(), DmsError> {
        let path = self.manifest_path(&manifest.folder_id);
        let text = serde_json::to_string_pretty(manifest)
            .map_err(|error| protocol(operation, format!("cannot serialise the manifest: {error}")))?;
        write_atomically(&path, text.as_bytes()).map_err(|error| io_failure(operation, &path, &error))
    }

    /// The folder id a register or document marker names, if there is one.
    fn read_marker(&self, operation: &str, object_id: &str) -> Result<Option<String>, DmsError> {
        let path = self.marker_path(object_id);
        match fs::read_to_string(&path) {
            Ok(text) if is_uuid(text.trim()) => Ok(Some(text.trim().to_owned())),
            Ok(text) => Err(protocol(operation, format!("{} names no folder but {text:?}", path.display()))),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_failure(operation, &path, &error)),
        }
    }

    fn write_marker(&self, operation: &str, object_id: &str, folder_id: &str) -> Result<(), DmsError> {
        let path = self.marker_path(object_id);
        write_atomically(&path, folder_id.as_bytes()).map_err(|error| io_failure(operation, &path, &error))
    }

    /// What an id stands for, with the manifest of its record. Ids that are
    /// not ours (not UUIDs, so never a path) stand for nothing.
    fn locate(&self, operation: &str, object_id: &str) -> Result<Option<(Manifest, Located)>, DmsError> {
        if !is_uuid(object_id) {
            return Ok(None);
        }
        if let Some(manifest) = self.load_manifest(operation, object_id)? {
            return Ok(Some((manifest, Located::Folder)));
        }
        let Some(folder_id) = self.read_marker(operation, object_id)? else {
            return Ok(None);
        };
        let Some(manifest) = self.load_manifest(operation, &folder_id)? else {
            return Ok(None);
        };
        let located = if manifest.registers.iter().any(|register| register.id == object_id) {
            Located::Register
        } else if let Some(index) = manifest.documents.iter().position(|document| document.id == object_id) {
            Located::Document(index)
        } else {
            // A marker written before a change that did not complete.
            return Ok(None);
        };
        Ok(Some((manifest, located)))
    }

    /// Writes the record's zip anew, with `new_document` added to the
    /// manifest once its bytes are in, and replaces the old one.
    fn write_package(
        &self,
        operation: &str,
        manifest: &mut Manifest,
        new_document: Option<(DocumentEntry, &Path)>,
    ) -> Result<(), DmsError> {
        let package_path = self.package_path_of(&manifest.process_id);
        let temp_path = self.settings.out_dir.join(format!(".{}.zip.partial", message_name(&manifest.process_id)));
        let written = self.write_package_to(operation, &temp_path, &package_path, manifest, new_document);
        let replaced = written.and_then(|()| {
            fs::rename(&temp_path, &package_path)
                .and_then(|()| sync_dir(&self.settings.out_dir))
                .map_err(|error| io_failure(operation, &package_path, &error))
        });
        if replaced.is_err() {
            let _ = fs::remove_file(&temp_path);
        }
        replaced
    }

    fn write_package_to(
        &self,
        operation: &str,
        temp_path: &Path,
        package_path: &Path,
        manifest: &mut Manifest,
        new_document: Option<(DocumentEntry, &Path)>,
    ) -> Result<(), DmsError> {
        let now = jiff::Timestamp::now();
        let stored = SimpleFileOptions::default()
            .compression_method(CompressionMethod::Stored)
            .last_modified_time(zip_time(now));
        let file = File::create(temp_path).map_err(|error| io_failure(operation, temp_path, &error))?;
        let mut zip = ZipWriter::new(BufWriter::new(file));
        let write_failure = |error: io::Error| io_failure(operation, temp_path, &error);

        if !manifest.documents.is_empty() {
            let mut archive = open_package(operation, package_path, manifest)?;
            for document in &manifest.documents {
                let mut entry = archive
                    .by_name(&document.entry_name)
                    .map_err(|error| damaged(operation, package_path, &document.entry_name, &error))?;
                zip.start_file(document.entry_name.as_str(), stored)
                    .map_err(|error| zip_failure(operation, temp_path, error))?;
                let digest = copy_hashing(&mut entry, &mut zip).map_err(|error| match error {
                    CopyError::Read(error) => read_failure(operation, package_path, &document.entry_name, &error),
                    CopyError::Write(error) => write_failure(error),
                })?;
                if digest.sha256 != document.sha256 || digest.length != document.length {
                    return Err(protocol(
                        operation,
                        format!(
                            "{}: {} (document {:?}) has sha256 {} and {} bytes, the manifest says sha256 {} and {} bytes",
                            package_path.display(),
                            document.entry_name,
                            document.external_id,
                            digest.sha256,
                            digest.length,
                            document.sha256,
                            document.length
                        ),
                    ));
                }
            }
        }

        if let Some((mut document, content)) = new_document {
            let content_failure = |source: io::Error| DmsError::Content {
                operation: operation.to_owned(),
                path: content.display().to_string(),
                source,
            };
            let mut source = File::open(content).map_err(content_failure)?;
            zip.start_file(document.entry_name.as_str(), stored)
                .map_err(|error| zip_failure(operation, temp_path, error))?;
            let digest = copy_hashing(&mut source, &mut zip).map_err(|error| match error {
                CopyError::Read(error) => content_failure(error),
                CopyError::Write(error) => write_failure(error),
            })?;
            document.sha256 = digest.sha256;
            document.length = digest.length;
            manifest.documents.push(document);
        }

        // Objects are only ever added, so the counts name the state.
        let state = format!("{}:{}:{}", manifest.process_id, manifest.registers.len(), manifest.documents.len());
        let message_id = self.uuid("nachricht", &state);
        let created_at = format!("{now:.3}");
        let header = Header {
            message_id: &message_id,
            created_at: &created_at,
            sender_code: &self.settings.sender_code,
            receiver_code: &self.settings.receiver_code,
            directory_service: &self.settings.directory_service,
            producer: &self.settings.producer,
            title_field: &self.settings.title_field,
        };
        let xml = message_xml(&header, manifest);
        let deflated = stored.compression_method(CompressionMethod::Deflated);
        zip.start_file(format!("{}.xml", message_name(&manifest.process_id)), deflated)
            .map_err(|error| zip_failure(operation, temp_path, error))?;
        zip.write_all(xml.as_bytes()).map_err(write_failure)?;
        let writer = zip.finish().map_err(|error| zip_failure(operation, temp_path, error))?;
        let file = writer.into_inner().map_err(|error| write_failure(error.into_error()))?;
        file.sync_all().map_err(write_failure)
    }

    /// What `create_*` does when the object is there already: the same
    /// object when asked for the same thing, else a conflict.
    fn existing<T: PartialEq>(
        operation: &str,
        object_id: &str,
        existing: &T,
        wanted: &T,
    ) -> Result<ObjectId, DmsError> {
        if existing == wanted {
            object_id_of(operation, object_id)
        } else {
            Err(DmsError::Rejected {
                operation: operation.to_owned(),
                status: 409,
                message: format!("object {object_id} exists with other index data"),
            })
        }
    }
}

impl DmsTarget for XdomeaExport {
    /// Proves that `out_dir` is a directory we can write to.
    fn health(&self) -> Result<Health, DmsError> {
        let started = Instant::now();
        let operation = "health check";
        self.ensure_staging(operation)?;
        let probe = self.staging_dir.join("health-probe");
        write_atomically(&probe, b"ok")
            .and_then(|()| fs::remove_file(&probe))
            .map_err(|error| io_failure(operation, &probe, &error))?;
        let object_types = ["Akte", "Vorgang", "Dokument"].map(str::to_owned).to_vec();
        Ok(Health { object_types, round_trip: started.elapsed() })
    }

    fn find_folder(&self, folder: &FolderSpec) -> Result<Vec<ObjectId>, DmsError> {
        let operation = format!("search folder with key {:?}", folder.key);
        let folder_id = self.uuid("akte", &folder.key);
        match self.load_manifest(&operation, &folder_id)? {
            Some(manifest) if manifest.record_key == folder.key => Ok(vec![object_id_of(&operation, &folder_id)?]),
            Some(manifest) => Err(protocol(
                &operation,
                format!("folder {folder_id} belongs to key {:?}, not {:?}", manifest.record_key, folder.key),
            )),
            None => Ok(Vec::new()),
        }
    }

    fn create_folder(&self, folder: &FolderSpec) -> Result<ObjectId, DmsError> {
        let operation = format!("create folder with key {:?}", folder.key);
        if folder.key.trim().is_empty() {
            return Err(rejected(&operation, 400, "the key must not be empty".to_owned()));
        }
        self.ensure_staging(&operation)?;
        let folder_id = self.uuid("akte", &folder.key);
        let lock = self.record_lock(&folder_id);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = self.load_manifest(&operation, &folder_id)? {
            let wanted = (&folder.key, &folder.fields);
            return Self::existing(&operation, &folder_id, &(&existing.record_key, &existing.fields), &wanted);
        }
        let mut manifest = Manifest {
            format: MANIFEST_FORMAT,
            record_key: folder.key.clone(),
            process_id: self.uuid("prozess", &folder_id),
            folder_id: folder_id.clone(),
            fields: folder.fields.clone(),
            registers: Vec::new(),
            documents: Vec::new(),
        };
        let record_dir = self.staging_dir.join("records").join(&folder_id);
        fs::create_dir_all(&record_dir).map_err(|error| io_failure(&operation, &record_dir, &error))?;
        self.write_package(&operation, &mut manifest, None)?;
        self.write_manifest(&operation, &manifest)?;
        object_id_of(&operation, &folder_id)
    }

    fn find_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<Vec<ObjectId>, DmsError> {
        let operation = format!("search register {:?} in folder {folder_id}", register.name);
        let Some((manifest, Located::Folder)) = self.locate(&operation, folder_id.as_str())? else {
            return Ok(Vec::new());
        };
        manifest
            .registers
            .iter()
            .filter(|entry| entry.name == register.name)
            .map(|entry| object_id_of(&operation, &entry.id))
            .collect()
    }

    fn create_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<ObjectId, DmsError> {
        let operation = format!("create register {:?} in folder {folder_id}", register.name);
        if register.name.trim().is_empty() {
            return Err(rejected(&operation, 400, "the name must not be empty".to_owned()));
        }
        self.ensure_staging(&operation)?;
        let lock = self.record_lock(folder_id.as_str());
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((mut manifest, Located::Folder)) = self.locate(&operation, folder_id.as_str())? else {
            return Err(rejected(&operation, 404, format!("there is no folder {folder_id}")));
        };
        let register_id = self.uuid("vorgang", &format!("{folder_id}/{}", register.name));
        if let Some(existing) = manifest.registers.iter().find(|entry| entry.id == register_id) {
            return Self::existing(&operation, &register_id, &existing.fields, &register.fields);
        }
        self.write_marker(&operation, &register_id, folder_id.as_str())?;
        manifest.registers.push(RegisterEntry {
            id: register_id.clone(),
            name: register.name.clone(),
            fields: register.fields.clone(),
        });
        self.write_package(&operation, &mut manifest, None)?;
        self.write_manifest(&operation, &manifest)?;
        object_id_of(&operation, &register_id)
    }

    fn find_document(&self, external_id: &str) -> Result<Vec<ObjectId>, DmsError> {
        let operation = format!("search document with external id {external_id:?}");
        let document_id = self.uuid("dokument", external_id);
        match self.locate(&operation, &document_id)? {
            Some((_, Located::Document(_))) => Ok(vec![object_id_of(&operation, &document_id)?]),
            _ => Ok(Vec::new()),
        }
    }

    /// Streams the file into the record's zip and rewrites the message. The
    /// same document again (same external id, place and bytes) is the same
    /// object; with other bytes or elsewhere it is a conflict, as the
    /// export cannot hold two documents with one external id.
    fn insert_document(
        &self,
        parent: &ObjectId,
        document: &DocumentSpec,
        content: &Path,
    ) -> Result<ObjectId, DmsError> {
        let operation = format!("insert document with external id {:?}", document.external_id);
        if document.external_id.is_empty() {
            return Err(rejected(&operation, 400, "the external id must not be empty".to_owned()));
        }
        self.ensure_staging(&operation)?;
        let folder_id = match self.locate(&operation, parent.as_str())? {
            Some((manifest, Located::Folder | Located::Register)) => manifest.folder_id,
            _ => return Err(rejected(&operation, 404, format!("there is no folder or register {parent}"))),
        };
        let lock = self.record_lock(&folder_id);
        let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(mut manifest) = self.load_manifest(&operation, &folder_id)? else {
            return Err(rejected(&operation, 404, format!("there is no folder {folder_id}")));
        };

        let document_id = self.uuid("dokument", &document.external_id);
        if let Some((other, Located::Document(index))) = self.locate(&operation, &document_id)? {
            let existing = &other.documents[index];
            let digest = hash_file(&operation, content)?;
            let same = existing.parent_id == parent.as_str()
                && existing.sha256 == digest.sha256
                && existing.length == digest.length;
            if same {
                return object_id_of(&operation, &document_id);
            }
            return Err(rejected(
                &operation,
                409,
                format!("document {document_id} is in folder {} with other content or elsewhere", other.folder_id),
            ));
        }

        self.write_marker(&operation, &document_id, &folder_id)?;
        let file_id = self.uuid("datei", &document.external_id);
        let entry = DocumentEntry {
            id: document_id.clone(),
            parent_id: parent.as_str().to_owned(),
            external_id: document.external_id.clone(),
            entry_name: format!("{file_id}{}", file_extension(&document.file_name, &document.mime_type)),
            original_file_name: document.file_name.clone(),
            mime_type: document.mime_type.clone(),
            sha256: String::new(),
            length: 0,
            fields: document.fields.clone(),
        };
        self.write_package(&operation, &mut manifest, Some((entry, content)))?;
        self.write_manifest(&operation, &manifest)?;
        object_id_of(&operation, &document_id)
    }

    /// Reads the document's entry from the record's zip; the zip reader also
    /// checks the entry's CRC at its end.
    fn fetch_content(&self, object_id: &ObjectId) -> Result<ContentDigest, DmsError> {
        let operation = format!("read content of object {object_id}");
        let Some((manifest, Located::Document(index))) = self.locate(&operation, object_id.as_str())? else {
            return Err(rejected(&operation, 404, format!("there is no document {object_id}")));
        };
        let document = &manifest.documents[index];
        let package_path = self.package_path_of(&manifest.process_id);
        let mut archive = open_package(&operation, &package_path, &manifest)?;
        let mut entry = archive
            .by_name(&document.entry_name)
            .map_err(|error| damaged(&operation, &package_path, &document.entry_name, &error))?;
        copy_hashing(&mut entry, &mut io::sink()).map_err(|error| match error {
            CopyError::Read(error) => read_failure(&operation, &package_path, &document.entry_name, &error),
            CopyError::Write(error) => io_failure(&operation, &package_path, &error),
        })
    }
}

/// A record as this export keeps it: enough to write its message again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Manifest {
    format: u32,
    record_key: String,
    folder_id: String,
    process_id: String,
    fields: Fields,
    /// In the order they were created.
    registers: Vec<RegisterEntry>,
    /// In the order they were inserted.
    documents: Vec<DocumentEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RegisterEntry {
    id: String,
    name: String,
    fields: Fields,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct DocumentEntry {
    id: String,
    /// The folder or register it was filed in.
    parent_id: String,
    external_id: String,
    /// The primary document's name in the zip (`Dateiname`).
    entry_name: String,
    original_file_name: String,
    mime_type: String,
    sha256: String,
    length: u64,
    fields: Fields,
}

/// What an id found by [`XdomeaExport::locate`] is; a document with its
/// index in the manifest.
#[derive(Debug, Clone, Copy)]
enum Located {
    Folder,
    Register,
    Document(usize),
}

/// `{ProzessID}_0401_1`, the 4.0.0 name of a message's zip and XML (one
/// message per process).
fn message_name(process_id: &str) -> String {
    format!("{process_id}_{MESSAGE_TYPE_CODE}_1")
}

/// A UUID of version 8 whose 122 free bits are the start of the SHA-256 of
/// sender, kind and name, each length-prefixed (RFC 9562, appendix B.2).
fn name_uuid(sender: &str, kind: &str, name: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"scan2dms xdomea ids");
    for part in [sender, kind, name] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    let mut bytes = [0_u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex = hex::encode(bytes);
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

fn is_uuid(value: &str) -> bool {
    value.len() == 36
        && value.char_indices().all(|(index, character)| match index {
            8 | 13 | 18 | 23 => character == '-',
            _ => character.is_ascii_hexdigit(),
        })
}

fn object_id_of(operation: &str, id: &str) -> Result<ObjectId, DmsError> {
    ObjectId::parse(id).map_err(|error| protocol(operation, error.to_string()))
}

/// Opens a record's zip that must exist because the manifest names
/// documents in it.
fn open_package(
    operation: &str,
    package_path: &Path,
    manifest: &Manifest,
) -> Result<ZipArchive<BufReader<File>>, DmsError> {
    let file = File::open(package_path).map_err(|error| {
        if error.kind() == io::ErrorKind::NotFound {
            protocol(
                operation,
                format!(
                    "package {} of record {:?} is missing; it held {} documents and cannot be written again without them",
                    package_path.display(),
                    manifest.record_key,
                    manifest.documents.len()
                ),
            )
        } else {
            io_failure(operation, package_path, &error)
        }
    })?;
    ZipArchive::new(BufReader::new(file)).map_err(|error| match error {
        ZipError::Io(error)
            if error.kind() != io::ErrorKind::InvalidData && error.kind() != io::ErrorKind::UnexpectedEof =>
        {
            io_failure(operation, package_path, &error)
        }
        error => protocol(operation, format!("package {} is damaged: {error}", package_path.display())),
    })
}

/// The SHA-256 and length of a whole file.
fn hash_file(operation: &str, path: &Path) -> Result<ContentDigest, DmsError> {
    let content_failure = |source: io::Error| DmsError::Content {
        operation: operation.to_owned(),
        path: path.display().to_string(),
        source,
    };
    let mut file = File::open(path).map_err(content_failure)?;
    copy_hashing(&mut file, &mut io::sink()).map_err(|error| match error {
        CopyError::Read(error) | CopyError::Write(error) => content_failure(error),
    })
}

enum CopyError {
    Read(io::Error),
    Write(io::Error),
}

/// Copies `reader` to `writer` and hashes what went through.
fn copy_hashing(reader: &mut dyn Read, writer: &mut dyn Write) -> Result<ContentDigest, CopyError> {
    let mut hasher = Sha256::new();
    let mut length = 0_u64;
    let mut buffer = vec![0_u8; BUFFER_SIZE];
    loop {
        let count = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(count) => count,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(CopyError::Read(error)),
        };
        hasher.update(&buffer[..count]);
        writer.write_all(&buffer[..count]).map_err(CopyError::Write)?;
        length += count as u64;
    }
    Ok(ContentDigest { sha256: hex::encode(hasher.finalize()), length })
}

/// Writes a file so that readers see the old or the new content, never a
/// part: a temp file next to it, fsync, rename, fsync of the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let directory = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().map(|name| name.to_string_lossy()).unwrap_or_default();
    let temp_path = directory.join(format!(".{file_name}.partial"));
    let written = File::create(&temp_path).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    let result = written.and_then(|()| fs::rename(&temp_path, path)).and_then(|()| sync_dir(directory));
    if result.is_err() {
        let _ = fs::remove_file(&temp_path);
    }
    result
}

/// Makes a rename durable. Windows cannot open a directory for that, and
/// commits renames with the metadata anyway.
#[cfg(unix)]
fn sync_dir(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_directory: &Path) -> io::Result<()> {
    Ok(())
}

/// The modification time of zip entries (DOS time, taken as UTC).
fn zip_time(now: jiff::Timestamp) -> zip::DateTime {
    let civil = now.to_zoned(jiff::tz::TimeZone::UTC).datetime();
    let fields = (
        u16::try_from(civil.year()),
        u8::try_from(civil.month()),
        u8::try_from(civil.day()),
        u8::try_from(civil.hour()),
        u8::try_from(civil.minute()),
        u8::try_from(civil.second()),
    );
    match fields {
        (Ok(year), Ok(month), Ok(day), Ok(hour), Ok(minute), Ok(second)) => {
            zip::DateTime::from_date_and_time(year, month, day, hour, minute, second).unwrap_or_default()
        }
        _ => zip::DateTime::default(),
    }
}

fn protocol(operation: &str, message: String) -> DmsError {
    DmsError::Protocol { operation: operation.to_owned(), message }
}

/// Statuses in the HTTP sense: 400 for a bad request, 404 for an unknown
/// object, 409 for a conflict with what is there.
fn rejected(operation: &str, status: u16, message: String) -> DmsError {
    DmsError::Rejected { operation: operation.to_owned(), status, message }
}

/// A file system failure: maybe a full disk or a share that went away, so
/// worth another try; the change may have been made.
fn io_failure(operation: &str, path: &Path, error: &io::Error) -> DmsError {
    DmsError::Transient { operation: operation.to_owned(), message: format!("{}: {error}", path.display()) }
}

fn zip_failure(operation: &str, path: &Path, error: ZipError) -> DmsError {
    match error {
        ZipError::Io(error) => io_failure(operation, path, &error),
        error => protocol(operation, format!("{}: {error}", path.display())),
    }
}

/// An entry the manifest names that the zip does not hold.
fn damaged(operation: &str, package_path: &Path, entry_name: &str, error: &ZipError) -> DmsError {
    protocol(operation, format!("package {} is damaged at {entry_name}: {error}", package_path.display()))
}

/// A read from the zip that failed: damage (a bad CRC, a cut-off entry) is
/// final, anything else may pass.
fn read_failure(operation: &str, package_path: &Path, entry_name: &str, error: &io::Error) -> DmsError {
    if matches!(error.kind(), io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof) {
        protocol(operation, format!("package {} is damaged at {entry_name}: {error}", package_path.display()))
    } else {
        io_failure(operation, package_path, error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_based_ids_are_version_8_uuids_that_depend_on_sender_kind_and_name() {
        let id = name_uuid("psw:1", "akte", "R-1");
        assert!(is_uuid(&id), "{id}");
        assert_eq!(&id[14..15], "8");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"), "{id}");
        assert_eq!(id, name_uuid("psw:1", "akte", "R-1"));
        assert_ne!(id, name_uuid("psw:2", "akte", "R-1"));
        assert_ne!(id, name_uuid("psw:1", "dokument", "R-1"));
        assert_ne!(name_uuid("psw:1", "ab", "c"), name_uuid("psw:1", "a", "bc"));
    }

    #[test]
    fn only_uuids_are_taken_for_ids() {
        assert!(is_uuid("00000000-0000-8000-8000-00000000000a"));
        for value in ["..", "00000000-0000-8000-8000-00000000000", "00000000/0000-8000-8000-00000000000a", ""] {
            assert!(!is_uuid(value), "{value}");
        }
    }
}
