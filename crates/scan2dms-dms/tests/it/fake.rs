//! A DMS in memory. Failures are scripted per operation: each call takes
//! the next scripted fault of its operation, if any, and logs what happened.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use scan2dms_dms::{
    ContentDigest, DmsError, DmsTarget, DocumentSpec, FolderSpec, Health, ObjectId, RegisterSpec, RetryPolicy,
};

#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// Fails before doing anything (a 503, a refused connection).
    Transient,
    /// Does the work, then the answer is lost (a timeout after the commit).
    LostAfterCommit,
    Rejected(u16, &'static str),
    Unauthorized,
    /// For `fetch_content`: answers with other content.
    WrongContent,
}

#[derive(Debug)]
pub struct StoredObject {
    pub id: ObjectId,
    pub kind: &'static str,
    pub parent: Option<ObjectId>,
    pub key: String,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    objects: Vec<StoredObject>,
    faults: HashMap<&'static str, VecDeque<Fault>>,
    log: Vec<String>,
}

#[derive(Debug, Default)]
pub struct FakeDms {
    state: Mutex<State>,
}

pub const CONTENT_SHA256: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
pub const CONTENT_LENGTH: u64 = 4;

impl FakeDms {
    pub fn new() -> FakeDms {
        FakeDms::default()
    }

    /// Scripts the next failures of one operation, in order.
    pub fn fail(&self, operation: &'static str, faults: &[Fault]) {
        self.state.lock().unwrap().faults.entry(operation).or_default().extend(faults.iter().copied());
    }

    /// Adds an object as if an earlier run had created it.
    pub fn seed(&self, kind: &'static str, parent: Option<&ObjectId>, key: &str) -> ObjectId {
        let mut state = self.state.lock().unwrap();
        state.add(kind, parent, key)
    }

    pub fn objects(&self, kind: &str, key: &str) -> Vec<ObjectId> {
        let state = self.state.lock().unwrap();
        state.objects.iter().filter(|object| object.kind == kind && object.key == key).map(|o| o.id.clone()).collect()
    }

    pub fn transcript(&self) -> String {
        self.state.lock().unwrap().log.join("\n")
    }

    fn find(
        &self,
        operation: &'static str,
        kind: &str,
        parent: Option<&ObjectId>,
        key: &str,
    ) -> Result<Vec<ObjectId>, DmsError> {
        let mut state = self.state.lock().unwrap();
        if let Some(error) = state.fault_before(operation) {
            return Err(error);
        }
        let ids: Vec<ObjectId> = state
            .objects
            .iter()
            .filter(|object| {
                object.kind == kind && object.key == key && (parent.is_none() || object.parent.as_ref() == parent)
            })
            .map(|object| object.id.clone())
            .collect();
        let listed: Vec<&str> = ids.iter().map(ObjectId::as_str).collect();
        state.log.push(format!("{operation} {key} -> [{}]", listed.join(", ")));
        Ok(ids)
    }

    fn create(
        &self,
        operation: &'static str,
        kind: &'static str,
        parent: Option<&ObjectId>,
        key: &str,
    ) -> Result<ObjectId, DmsError> {
        let mut state = self.state.lock().unwrap();
        let lost = match state.faults.get_mut(operation).and_then(VecDeque::pop_front) {
            Some(Fault::LostAfterCommit) => true,
            Some(fault) => return Err(state.failed(operation, &fault)),
            None => false,
        };
        let id = state.add(kind, parent, key);
        if lost {
            state.log.push(format!("{operation} {key} -> {id}, answer lost"));
            return Err(DmsError::Transient { operation: operation.to_owned(), message: "timed out".to_owned() });
        }
        state.log.push(format!("{operation} {key} -> {id}"));
        Ok(id)
    }
}

impl State {
    fn add(&mut self, kind: &'static str, parent: Option<&ObjectId>, key: &str) -> ObjectId {
        self.next_id += 1;
        let id = ObjectId::parse(&self.next_id.to_string()).unwrap();
        self.objects.push(StoredObject { id: id.clone(), kind, parent: parent.cloned(), key: key.to_owned() });
        id
    }

    fn fault_before(&mut self, operation: &'static str) -> Option<DmsError> {
        let fault = self.faults.get_mut(operation).and_then(VecDeque::pop_front)?;
        Some(self.failed(operation, &fault))
    }

    fn failed(&mut self, operation: &'static str, fault: &Fault) -> DmsError {
        self.log.push(format!("{operation} fails: {fault:?}"));
        let operation = operation.to_owned();
        match fault {
            Fault::Transient | Fault::LostAfterCommit | Fault::WrongContent => {
                DmsError::Transient { operation, message: "status 503: busy".to_owned() }
            }
            Fault::Rejected(status, message) => {
                DmsError::Rejected { operation, status: *status, message: (*message).to_owned() }
            }
            Fault::Unauthorized => DmsError::Unauthorized { operation, status: 401 },
        }
    }
}

impl DmsTarget for FakeDms {
    fn health(&self) -> Result<Health, DmsError> {
        Ok(Health { object_types: vec!["fake".to_owned()], round_trip: Duration::ZERO })
    }

    fn find_folder(&self, folder: &FolderSpec) -> Result<Vec<ObjectId>, DmsError> {
        self.find("find_folder", "folder", None, &folder.key)
    }

    fn create_folder(&self, folder: &FolderSpec) -> Result<ObjectId, DmsError> {
        self.create("create_folder", "folder", None, &folder.key)
    }

    fn find_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<Vec<ObjectId>, DmsError> {
        self.find("find_register", "register", Some(folder_id), &register.name)
    }

    fn create_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<ObjectId, DmsError> {
        self.create("create_register", "register", Some(folder_id), &register.name)
    }

    fn find_document(&self, external_id: &str) -> Result<Vec<ObjectId>, DmsError> {
        self.find("find_document", "document", None, external_id)
    }

    fn insert_document(
        &self,
        parent: &ObjectId,
        document: &DocumentSpec,
        _content: &Path,
    ) -> Result<ObjectId, DmsError> {
        self.create("insert_document", "document", Some(parent), &document.external_id)
    }

    fn fetch_content(&self, object_id: &ObjectId) -> Result<ContentDigest, DmsError> {
        let mut state = self.state.lock().unwrap();
        let fault = state.faults.get_mut("fetch_content").and_then(VecDeque::pop_front);
        match fault {
            Some(Fault::WrongContent) => {
                state.log.push(format!("fetch_content {object_id} -> other content"));
                Ok(ContentDigest { sha256: "00".repeat(32), length: CONTENT_LENGTH + 1 })
            }
            Some(fault) => Err(state.failed("fetch_content", &fault)),
            None => {
                state.log.push(format!("fetch_content {object_id}"));
                Ok(ContentDigest { sha256: CONTENT_SHA256.to_owned(), length: CONTENT_LENGTH })
            }
        }
    }
}

/// Records the sleeps instead of sleeping.
#[derive(Debug, Default)]
pub struct Sleeps(Mutex<Vec<Duration>>);

impl Sleeps {
    pub fn sleep(&self, duration: Duration) {
        self.0.lock().unwrap().push(duration);
    }

    pub fn taken(&self) -> Vec<Duration> {
        self.0.lock().unwrap().clone()
    }
}

pub fn policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy { max_attempts, base_delay: Duration::from_millis(100), max_delay: Duration::from_millis(400) }
}
