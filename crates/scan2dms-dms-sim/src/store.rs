//! The simulator's repository on disk: one JSON file per object, content
//! files named by their SHA-256.
//!
//! Layout under the data directory:
//! - `objects/<id>.json`: one object (type, parent, index fields, content);
//! - `content/<sha256>`: file contents, shared by equal files;
//! - `uploads/`: content still arriving, moved into `content/` on commit.
//!
//! Every file is written under a temporary name, synced, renamed into place
//! and its directory synced, so a crash leaves either the old state or the
//! new one. Ids count up from 1 and continue after a restart (the highest
//! stored id plus one), so the same run of requests gives the same ids.
//!
//! Everything is kept in memory as well; the files are the truth on start.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{ObjectKind, SimError};

/// One object as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredObject {
    pub id: u64,
    pub type_name: String,
    pub type_id: u32,
    pub kind: ObjectKind,
    pub parent_id: Option<u64>,
    /// The folder the object is in (`system:SDSTA_ID`), at any depth.
    pub folder_id: Option<u64>,
    /// The register the object is directly in (`system:SDREG_ID`).
    pub register_id: Option<u64>,
    pub fields: BTreeMap<String, String>,
    pub content: Option<StoredContent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredContent {
    pub sha256: String,
    pub length: u64,
    pub mime_type: String,
    pub file_name: String,
    pub cid: String,
}

/// An object to insert, checked except for its parent.
#[derive(Debug)]
pub(crate) struct NewObject {
    pub type_name: String,
    pub type_id: u32,
    pub kind: ObjectKind,
    pub parent_id: Option<u64>,
    pub fields: BTreeMap<String, String>,
    pub content: Option<(StoredContent, PathBuf)>,
}

#[derive(Debug)]
pub(crate) struct Store {
    data_dir: PathBuf,
    objects: BTreeMap<u64, StoredObject>,
    next_id: u64,
}

impl Store {
    /// Opens (or creates) the repository and loads every object.
    pub(crate) fn open(data_dir: &Path) -> Result<Store, SimError> {
        for sub in ["objects", "content", "uploads"] {
            let dir = data_dir.join(sub);
            fs::create_dir_all(&dir).map_err(|source| SimError::Io { path: dir.clone(), source })?;
        }
        let uploads = data_dir.join("uploads");
        for entry in read_dir(&uploads)? {
            let _ = fs::remove_file(entry);
        }
        let objects: BTreeMap<u64, StoredObject> =
            load_objects(data_dir)?.into_iter().map(|object| (object.id, object)).collect();
        let next_id = objects.keys().next_back().map_or(1, |id| id + 1);
        Ok(Store { data_dir: data_dir.to_owned(), objects, next_id })
    }

    pub(crate) fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }

    pub(crate) fn get(&self, id: u64) -> Option<&StoredObject> {
        self.objects.get(&id)
    }

    pub(crate) fn objects(&self) -> impl Iterator<Item = &StoredObject> {
        self.objects.values()
    }

    pub(crate) fn content_path(&self, sha256: &str) -> PathBuf {
        self.data_dir.join("content").join(sha256)
    }

    /// Inserts all objects or none: every parent is checked first, then the
    /// content files are moved into place and the objects written.
    pub(crate) fn insert(&mut self, new_objects: Vec<NewObject>) -> Result<Vec<StoredObject>, InsertError> {
        let mut placed = Vec::with_capacity(new_objects.len());
        for (index, object) in new_objects.iter().enumerate() {
            let (folder_id, register_id) = self.placement(index, object)?;
            placed.push((folder_id, register_id));
        }
        let mut stored = Vec::with_capacity(new_objects.len());
        for (object, (folder_id, register_id)) in new_objects.into_iter().zip(placed) {
            let content = match object.content {
                Some((content, upload)) => {
                    let target = self.content_path(&content.sha256);
                    if target.exists() {
                        let _ = fs::remove_file(&upload);
                    } else {
                        fs::rename(&upload, &target).map_err(|source| io_error(&target, source))?;
                        sync_dir(&self.data_dir.join("content"))?;
                    }
                    Some(content)
                }
                None => None,
            };
            let id = self.next_id;
            let object = StoredObject {
                id,
                type_name: object.type_name,
                type_id: object.type_id,
                kind: object.kind,
                parent_id: object.parent_id,
                folder_id,
                register_id,
                fields: object.fields,
                content,
            };
            let path = self.data_dir.join("objects").join(format!("{id}.json"));
            let json = serde_json::to_vec_pretty(&object).map_err(|error| InsertError::Io(error.to_string()))?;
            write_atomically(&path, &json)?;
            self.next_id += 1;
            self.objects.insert(id, object.clone());
            stored.push(object);
        }
        Ok(stored)
    }

    /// Where an object would go: its folder and register, or why it cannot.
    fn placement(&self, index: usize, object: &NewObject) -> Result<(Option<u64>, Option<u64>), InsertError> {
        let position = index + 1;
        let Some(parent_id) = object.parent_id else {
            return match object.kind {
                ObjectKind::Folder => Ok((None, None)),
                kind => Err(InsertError::Invalid(format!(
                    "object {position}: a {} needs system:parentId (a folder or register)",
                    kind.as_str()
                ))),
            };
        };
        let parent = self.objects.get(&parent_id).ok_or_else(|| {
            InsertError::Invalid(format!("object {position}: parent object {parent_id} does not exist"))
        })?;
        match (object.kind, parent.kind) {
            (ObjectKind::Folder, _) => Err(InsertError::Invalid(format!(
                "object {position}: a folder is placed in its cabinet, not under object {parent_id}"
            ))),
            (_, ObjectKind::Folder) => Ok((Some(parent.id), None)),
            (_, ObjectKind::Register) => Ok((parent.folder_id, Some(parent.id))),
            (_, ObjectKind::Document) => Err(InsertError::Invalid(format!(
                "object {position}: parent object {parent_id} is a document and cannot hold objects"
            ))),
        }
    }
}

#[derive(Debug)]
pub(crate) enum InsertError {
    /// The request is wrong (answered with 422).
    Invalid(String),
    /// The disk failed (answered with 500).
    Io(String),
}

/// Every stored object, in id order, straight from the files.
pub(crate) fn load_objects(data_dir: &Path) -> Result<Vec<StoredObject>, SimError> {
    let objects_dir = data_dir.join("objects");
    let mut objects = Vec::new();
    for path in read_dir(&objects_dir)? {
        let name = path.file_name().and_then(|name| name.to_str()).unwrap_or_default();
        if name.starts_with('.') {
            // An object whose write was cut short: it was never committed.
            let _ = fs::remove_file(&path);
            continue;
        }
        if !name.ends_with(".json") {
            continue;
        }
        let bytes = fs::read(&path).map_err(|source| SimError::Io { path: path.clone(), source })?;
        let object: StoredObject = serde_json::from_slice(&bytes)
            .map_err(|error| SimError::Corrupt { path: path.clone(), message: error.to_string() })?;
        objects.push(object);
    }
    objects.sort_by_key(|object| object.id);
    Ok(objects)
}

fn read_dir(dir: &Path) -> Result<Vec<PathBuf>, SimError> {
    let entries = fs::read_dir(dir).map_err(|source| SimError::Io { path: dir.to_owned(), source })?;
    entries
        .map(|entry| entry.map(|entry| entry.path()).map_err(|source| SimError::Io { path: dir.to_owned(), source }))
        .collect()
}

/// Temporary file, fsync, rename, fsync of the directory.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), InsertError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let file_name = path.file_name().and_then(|name| name.to_str()).unwrap_or("object");
    let temporary = dir.join(format!(".{file_name}.tmp"));
    let mut file = fs::File::create(&temporary).map_err(|source| io_error(&temporary, source))?;
    file.write_all(bytes).map_err(|source| io_error(&temporary, source))?;
    file.sync_all().map_err(|source| io_error(&temporary, source))?;
    drop(file);
    fs::rename(&temporary, path).map_err(|source| io_error(path, source))?;
    sync_dir(dir)
}

fn sync_dir(dir: &Path) -> Result<(), InsertError> {
    fs::File::open(dir).and_then(|handle| handle.sync_all()).map_err(|source| io_error(dir, source))
}

fn io_error(path: &Path, source: std::io::Error) -> InsertError {
    InsertError::Io(format!("{}: {source}", path.display()))
}
