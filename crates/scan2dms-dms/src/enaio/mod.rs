//! The enaio adapter: a blocking client of the "DMS service for enaio"
//! (`/api/dms/objects`), see `shared/spec/enaio-dms-api.md` §3.
//!
//! Key decisions:
//! - One request per call and no retries here: retrying, and searching
//!   before inserting again, is the push algorithm's job (`crate::push`), so
//!   there is exactly one place that decides whether a request may be sent
//!   again.
//! - Every value in a search goes in as a query parameter (`@p1`), never into
//!   the statement text; type and field names are checked when the client is
//!   built, as they do stand in the statement.
//! - HTTP Basic on every request, no session; redirects are not followed (a
//!   gateway that redirects to a login form is reported, not parsed).
//! - Rate and concurrency limits live in the client, so every thread that
//!   shares it shares them.
//!
//! It does not speak the legacy OSRest API (`/osrest/api`), nor use server
//! job options (`ARCHIVABLE` and the like), nor update or delete objects.

mod wire;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response, multipart};
use reqwest::header::{HeaderMap, HeaderValue};
use reqwest::{StatusCode, Url};
use sha2::{Digest, Sha256};

use crate::limit::{Slots, TokenBucket};
use crate::push::RetryPolicy;
use crate::{ContentDigest, DmsError, DmsTarget, DocumentSpec, Fields, FolderSpec, Health, ObjectId, RegisterSpec};
use wire::{
    ObjectsBody, ObjectsResponse, OutgoingContentStream, OutgoingObject, PropertyValue, SearchBody, SearchQuery,
};

/// The multipart part (and `Content-ID`) that carries a document's file.
const CONTENT_CID: &str = "cid_document";
/// Search page size: enough to see every duplicate of a key.
const SEARCH_MAX_ITEMS: u32 = 50;

/// Everything the enaio client needs. Object types may be given as internal
/// names or as numeric ids in a string; searches name the type in `FROM`,
/// which the query language documents for internal names, so those are the
/// safer choice.
#[derive(Clone)]
pub struct EnaioSettings {
    /// The DMS service root, e.g. `https://gateway.example/api/dms` (some
    /// installations route it without `/api`).
    pub base_url: String,
    pub user: String,
    pub password: String,
    /// Object type of a folder (the "Akte" of one record).
    pub folder_type: String,
    /// Object type of a register inside a folder.
    pub register_type: String,
    /// Object type of a document.
    pub document_type: String,
    /// The folder type's field that holds the record id.
    pub folder_key_field: String,
    /// The register type's field that holds the register's name.
    pub register_name_field: String,
    /// The document type's field that holds our external id.
    pub external_id_field: String,
    /// Our field names mapped to enaio internal names; a field not listed is
    /// sent under its own name.
    pub field_names: BTreeMap<String, String>,
    /// Connect, send and each read of one request.
    pub request_timeout: Duration,
    /// Requests per second, for all threads together; 0 means no limit.
    pub rate_limit_per_sec: f64,
    /// Requests in flight at once, for all threads together.
    pub max_concurrent_requests: usize,
    /// How the push algorithm retries; the client itself never does.
    pub retry: RetryPolicy,
}

impl Default for EnaioSettings {
    /// Type and field names are those of the simulator's default object
    /// definition; a real installation has its own.
    fn default() -> Self {
        EnaioSettings {
            base_url: String::new(),
            user: String::new(),
            password: String::new(),
            folder_type: "Akte".to_owned(),
            register_type: "Register".to_owned(),
            document_type: "Dokument".to_owned(),
            folder_key_field: "Aktenzeichen".to_owned(),
            register_name_field: "Registername".to_owned(),
            external_id_field: "ExtId".to_owned(),
            field_names: BTreeMap::new(),
            request_timeout: Duration::from_secs(60),
            rate_limit_per_sec: 20.0,
            max_concurrent_requests: 4,
            retry: RetryPolicy::default(),
        }
    }
}

impl fmt::Debug for EnaioSettings {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("EnaioSettings")
            .field("base_url", &self.base_url)
            .field("user", &self.user)
            .field("password", &"***")
            .field("folder_type", &self.folder_type)
            .field("register_type", &self.register_type)
            .field("document_type", &self.document_type)
            .field("folder_key_field", &self.folder_key_field)
            .field("register_name_field", &self.register_name_field)
            .field("external_id_field", &self.external_id_field)
            .field("field_names", &self.field_names)
            .field("request_timeout", &self.request_timeout)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("max_concurrent_requests", &self.max_concurrent_requests)
            .field("retry", &self.retry)
            .finish()
    }
}

/// The enaio DMS-service client. Share one per process: it holds the
/// connection pool and the limits. It is blocking (reqwest's blocking client
/// runs its own runtime thread), so build, call and drop it outside an async
/// context, e.g. from a worker thread or `spawn_blocking`.
pub struct EnaioClient {
    settings: EnaioSettings,
    objects_url: Url,
    http: Client,
    bucket: Option<TokenBucket>,
    slots: Slots,
}

impl fmt::Debug for EnaioClient {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("EnaioClient").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl EnaioClient {
    /// Checks the settings and builds the client; nothing is sent yet.
    pub fn new(settings: EnaioSettings) -> Result<EnaioClient, DmsError> {
        let invalid = |field: &'static str, message: String| DmsError::Settings { field, message };
        let mut base = Url::parse(&settings.base_url)
            .map_err(|error| invalid("base_url", format!("{:?} is not a URL: {error}", settings.base_url)))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            return Err(invalid("base_url", format!("{:?} is not an http(s) URL", settings.base_url)));
        }
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let objects_url =
            base.join("objects").map_err(|error| invalid("base_url", format!("cannot append objects: {error}")))?;
        if settings.user.is_empty() {
            return Err(invalid("user", "must not be empty".to_owned()));
        }
        let names = [
            ("folder_type", &settings.folder_type),
            ("register_type", &settings.register_type),
            ("document_type", &settings.document_type),
            ("folder_key_field", &settings.folder_key_field),
            ("register_name_field", &settings.register_name_field),
            ("external_id_field", &settings.external_id_field),
        ];
        for (field, name) in names {
            if !wire::is_name(name) {
                return Err(invalid(field, format!("{name:?} is not a plain name (letters, digits, _ and :)")));
            }
        }
        if settings.request_timeout.is_zero() {
            return Err(invalid("request_timeout", "must be positive".to_owned()));
        }
        if !(settings.rate_limit_per_sec.is_finite() && settings.rate_limit_per_sec >= 0.0) {
            return Err(invalid("rate_limit_per_sec", format!("{} is not a rate", settings.rate_limit_per_sec)));
        }
        if settings.max_concurrent_requests == 0 {
            return Err(invalid("max_concurrent_requests", "must be at least 1".to_owned()));
        }
        let http = Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(settings.request_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("scan2dms/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| invalid("base_url", format!("cannot build the http client: {}", error_chain(&error))))?;
        let bucket = (settings.rate_limit_per_sec > 0.0).then(|| TokenBucket::new(settings.rate_limit_per_sec));
        let slots = Slots::new(settings.max_concurrent_requests);
        Ok(EnaioClient { settings, objects_url, http, bucket, slots })
    }

    pub fn settings(&self) -> &EnaioSettings {
        &self.settings
    }

    fn search_url(&self) -> Url {
        self.object_url(&["search"])
    }

    /// `objects/<segment>/...`, each segment percent-encoded.
    fn object_url(&self, segments: &[&str]) -> Url {
        let mut url = self.objects_url.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.extend(segments);
        }
        url
    }

    /// Sends one request within the limits, with credentials, and hands a
    /// successful response to `read` while still holding the slot.
    fn execute<T>(
        &self,
        operation: &str,
        request: RequestBuilder,
        read: impl FnOnce(Response) -> Result<T, DmsError>,
    ) -> Result<T, DmsError> {
        let _slot = self.slots.acquire();
        if let Some(bucket) = &self.bucket {
            bucket.take();
        }
        let response = request
            .basic_auth(&self.settings.user, Some(&self.settings.password))
            .send()
            .map_err(|error| transport_error(operation, &error))?;
        let status = response.status();
        if status.is_success() {
            return read(response);
        }
        let location = response.headers().get(reqwest::header::LOCATION).cloned();
        let body = response.text().unwrap_or_default();
        Err(status_error(operation, status, &body, location.as_ref()))
    }

    /// A search for object ids of one type by field values.
    fn search_ids(
        &self,
        operation: &str,
        object_type: &str,
        conditions: &[(&str, &str)],
    ) -> Result<Vec<ObjectId>, DmsError> {
        self.search(operation, object_type, conditions, SEARCH_MAX_ITEMS)
    }

    fn search(
        &self,
        operation: &str,
        object_type: &str,
        conditions: &[(&str, &str)],
        max_items: u32,
    ) -> Result<Vec<ObjectId>, DmsError> {
        let (statement, parameters) = wire::select_ids(object_type, conditions);
        let body = SearchBody {
            query: SearchQuery {
                statement,
                parameters,
                skip_count: 0,
                max_items,
                handle_deleted_documents: "DELETED_DOCUMENTS_EXCLUDE",
            },
        };
        let request = self.http.post(self.search_url()).json(&body).header(reqwest::header::ACCEPT, "application/json");
        let response: ObjectsResponse = self.execute(operation, request, |response| read_json(operation, response))?;
        response
            .objects
            .iter()
            .map(|object| {
                let id =
                    object.object_id().ok_or_else(|| protocol(operation, "a found object has no system:objectId"))?;
                ObjectId::parse(&id).map_err(|error| protocol(operation, &error.to_string()))
            })
            .collect()
    }

    /// Inserts one object without content (a folder or a register).
    fn insert_metadata(
        &self,
        operation: &str,
        properties: BTreeMap<String, PropertyValue>,
    ) -> Result<ObjectId, DmsError> {
        let body = ObjectsBody { objects: vec![OutgoingObject { properties, content_streams: Vec::new() }] };
        let request =
            self.http.post(self.objects_url.clone()).json(&body).header(reqwest::header::ACCEPT, "application/json");
        let response = self.execute(operation, request, |response| read_json(operation, response))?;
        first_object_id(operation, &response)
    }

    /// The index fields of an object: the caller's fields under their enaio
    /// names, then the fields that identify it, then the system properties.
    fn properties(
        &self,
        object_type: &str,
        parent: Option<&ObjectId>,
        fields: &Fields,
        key: (&str, &str),
    ) -> BTreeMap<String, PropertyValue> {
        let mut properties: BTreeMap<String, PropertyValue> = fields
            .iter()
            .map(|(name, value)| {
                let name = self.settings.field_names.get(name).unwrap_or(name);
                (name.clone(), PropertyValue { value: value.clone() })
            })
            .collect();
        properties.insert(key.0.to_owned(), PropertyValue { value: key.1.to_owned() });
        properties.insert("system:objectTypeId".to_owned(), PropertyValue { value: object_type.to_owned() });
        if let Some(parent) = parent {
            properties.insert("system:parentId".to_owned(), PropertyValue { value: parent.as_str().to_owned() });
        }
        properties
    }
}

impl DmsTarget for EnaioClient {
    /// Searches each configured object type for one object: proves the URL,
    /// the credentials and that the server knows the types.
    fn health(&self) -> Result<Health, DmsError> {
        let started = Instant::now();
        let mut object_types: Vec<String> = Vec::new();
        for object_type in [&self.settings.folder_type, &self.settings.register_type, &self.settings.document_type] {
            if !object_types.contains(object_type) {
                self.search("health check", object_type, &[], 1)?;
                object_types.push(object_type.clone());
            }
        }
        Ok(Health { object_types, round_trip: started.elapsed() })
    }

    fn find_folder(&self, folder: &FolderSpec) -> Result<Vec<ObjectId>, DmsError> {
        let operation = format!("search folder with key {:?}", folder.key);
        let settings = &self.settings;
        self.search_ids(&operation, &settings.folder_type, &[(&settings.folder_key_field, &folder.key)])
    }

    fn create_folder(&self, folder: &FolderSpec) -> Result<ObjectId, DmsError> {
        let operation = format!("create folder with key {:?}", folder.key);
        let settings = &self.settings;
        let properties =
            self.properties(&settings.folder_type, None, &folder.fields, (&settings.folder_key_field, &folder.key));
        self.insert_metadata(&operation, properties)
    }

    fn find_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<Vec<ObjectId>, DmsError> {
        let operation = format!("search register {:?} in folder {folder_id}", register.name);
        let settings = &self.settings;
        let conditions = [("system:SDSTA_ID", folder_id.as_str()), (&settings.register_name_field, &register.name)];
        self.search_ids(&operation, &settings.register_type, &conditions)
    }

    fn create_register(&self, folder_id: &ObjectId, register: &RegisterSpec) -> Result<ObjectId, DmsError> {
        let operation = format!("create register {:?} in folder {folder_id}", register.name);
        let settings = &self.settings;
        let key = (settings.register_name_field.as_str(), register.name.as_str());
        let properties = self.properties(&settings.register_type, Some(folder_id), &register.fields, key);
        self.insert_metadata(&operation, properties)
    }

    fn find_document(&self, external_id: &str) -> Result<Vec<ObjectId>, DmsError> {
        let operation = format!("search document with external id {external_id:?}");
        let settings = &self.settings;
        self.search_ids(&operation, &settings.document_type, &[(&settings.external_id_field, external_id)])
    }

    /// Multipart as in spec §3.2: a `data` part with the JSON
    /// (`application/json`), and the file in a part whose name and
    /// `Content-ID` are the `cid` its content stream refers to. The file is
    /// streamed from disk, not loaded.
    fn insert_document(
        &self,
        parent: &ObjectId,
        document: &DocumentSpec,
        content: &Path,
    ) -> Result<ObjectId, DmsError> {
        let operation = format!("insert document with external id {:?}", document.external_id);
        let settings = &self.settings;
        let content_error = |source: std::io::Error| DmsError::Content {
            operation: operation.clone(),
            path: content.display().to_string(),
            source,
        };
        let file = File::open(content).map_err(content_error)?;
        let length = file.metadata().map_err(content_error)?.len();

        let key = (settings.external_id_field.as_str(), document.external_id.as_str());
        let properties = self.properties(&settings.document_type, Some(parent), &document.fields, key);
        let stream = OutgoingContentStream {
            mime_type: document.mime_type.clone(),
            file_name: document.file_name.clone(),
            cid: CONTENT_CID.to_owned(),
        };
        let body = ObjectsBody { objects: vec![OutgoingObject { properties, content_streams: vec![stream] }] };
        let data = serde_json::to_string(&body).map_err(|error| protocol(&operation, &error.to_string()))?;

        let data_part = multipart::Part::text(data)
            .mime_str("application/json;charset=UTF-8")
            .map_err(|error| protocol(&operation, &error_chain(&error)))?;
        let mut part_headers = HeaderMap::new();
        part_headers.insert("Content-ID", HeaderValue::from_static(CONTENT_CID));
        let content_part = multipart::Part::reader_with_length(file, length)
            .file_name(document.file_name.clone())
            .mime_str(&document.mime_type)
            .map_err(|_| {
                content_error(std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    format!("mime type {:?} is not valid", document.mime_type),
                ))
            })?
            .headers(part_headers);
        let form = multipart::Form::new().part("data", data_part).part(CONTENT_CID, content_part);

        let request = self
            .http
            .post(self.objects_url.clone())
            .multipart(form)
            .header(reqwest::header::ACCEPT, "application/json");
        let response = self.execute(&operation, request, |response| read_json(&operation, response))?;
        first_object_id(&operation, &response)
    }

    /// `GET objects/{id}/contents/file/1`, hashed while it streams in.
    fn fetch_content(&self, object_id: &ObjectId) -> Result<ContentDigest, DmsError> {
        let operation = format!("read content of object {object_id}");
        let url = self.object_url(&[object_id.as_str(), "contents", "file", "1"]);
        self.execute(&operation, self.http.get(url), |mut response| {
            let mut hasher = Sha256::new();
            let mut length = 0_u64;
            let mut buffer = vec![0_u8; 64 * 1024];
            loop {
                let count = response.read(&mut buffer).map_err(|error| DmsError::Transient {
                    operation: operation.clone(),
                    message: format!("content broke off after {length} bytes: {}", error_chain(&error)),
                })?;
                if count == 0 {
                    break;
                }
                hasher.update(&buffer[..count]);
                length += count as u64;
            }
            Ok(ContentDigest { sha256: hex::encode(hasher.finalize()), length })
        })
    }
}

/// Reads the whole body and parses it; a body that breaks off is transient,
/// one that does not parse is a protocol error.
fn read_json(operation: &str, response: Response) -> Result<ObjectsResponse, DmsError> {
    let bytes = response.bytes().map_err(|error| DmsError::Transient {
        operation: operation.to_owned(),
        message: format!("response broke off: {}", error_chain(&error)),
    })?;
    serde_json::from_slice(&bytes)
        .map_err(|error| protocol(operation, &format!("body is not the objects JSON: {error}")))
}

fn first_object_id(operation: &str, response: &ObjectsResponse) -> Result<ObjectId, DmsError> {
    let id = response
        .objects
        .first()
        .and_then(wire::IncomingObject::object_id)
        .ok_or_else(|| protocol(operation, "the answer names no system:objectId"))?;
    ObjectId::parse(&id).map_err(|error| protocol(operation, &error.to_string()))
}

fn protocol(operation: &str, message: &str) -> DmsError {
    DmsError::Protocol { operation: operation.to_owned(), message: message.to_owned() }
}

/// No answer at all: every such failure may be tried again, and for an
/// insert it may have been carried out.
fn transport_error(operation: &str, error: &reqwest::Error) -> DmsError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "no answer"
    };
    DmsError::Transient { operation: operation.to_owned(), message: format!("{kind}: {}", error_chain(error)) }
}

/// An answer that is not a success, sorted by what to do about it.
fn status_error(operation: &str, status: StatusCode, body: &str, location: Option<&HeaderValue>) -> DmsError {
    let operation = operation.to_owned();
    let code = status.as_u16();
    let message = match wire::server_message(body) {
        message if message.is_empty() => status.canonical_reason().unwrap_or("no message").to_owned(),
        message => message,
    };
    match code {
        401 | 403 => DmsError::Unauthorized { operation, status: code },
        408 | 429 | 500..=599 => DmsError::Transient { operation, message: format!("status {code}: {message}") },
        400..=499 => DmsError::Rejected { operation, status: code, message },
        300..=399 => {
            let target = location.and_then(|value| value.to_str().ok()).unwrap_or("nowhere");
            DmsError::Protocol { operation, message: format!("status {code}: redirected to {target}") }
        }
        _ => DmsError::Protocol { operation, message: format!("status {code}: {message}") },
    }
}

/// An error with its causes, as reqwest's own text is terse.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> EnaioSettings {
        EnaioSettings {
            base_url: "http://127.0.0.1:1/api/dms".to_owned(),
            user: "scan".to_owned(),
            password: "geheim".to_owned(),
            ..EnaioSettings::default()
        }
    }

    #[test]
    fn the_password_never_shows_in_debug() {
        let client = EnaioClient::new(settings()).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("geheim") && text.contains("***"), "{text}");
    }

    #[test]
    fn urls_are_built_under_the_base_with_encoded_ids() {
        let client = EnaioClient::new(settings()).unwrap();
        assert_eq!(client.search_url().as_str(), "http://127.0.0.1:1/api/dms/objects/search");
        let with_slash =
            EnaioClient::new(EnaioSettings { base_url: "https://gw/dms/".to_owned(), ..settings() }).unwrap();
        assert_eq!(
            with_slash.object_url(&["7", "contents", "file", "1"]).as_str(),
            "https://gw/dms/objects/7/contents/file/1"
        );
    }

    #[test]
    fn unusable_settings_name_their_field() {
        let cases = [
            (EnaioSettings { base_url: "ftp://x/".to_owned(), ..settings() }, "base_url"),
            (EnaioSettings { base_url: "not a url".to_owned(), ..settings() }, "base_url"),
            (EnaioSettings { user: String::new(), ..settings() }, "user"),
            (EnaioSettings { external_id_field: "ExtId = 'x' OR 1".to_owned(), ..settings() }, "external_id_field"),
            (EnaioSettings { max_concurrent_requests: 0, ..settings() }, "max_concurrent_requests"),
            (EnaioSettings { rate_limit_per_sec: f64::NAN, ..settings() }, "rate_limit_per_sec"),
            (EnaioSettings { request_timeout: Duration::ZERO, ..settings() }, "request_timeout"),
        ];
        for (settings, expected) in cases {
            match EnaioClient::new(settings) {
                Err(DmsError::Settings { field, .. }) => assert_eq!(field, expected),
                other => panic!("{expected}: {other:?}"),
            }
        }
    }

    #[test]
    fn statuses_are_sorted_by_what_to_do() {
        let classify = |code: u16, body: &str| status_error("op", StatusCode::from_u16(code).unwrap(), body, None);
        assert!(matches!(classify(401, ""), DmsError::Unauthorized { status: 401, .. }));
        assert!(matches!(classify(403, ""), DmsError::Unauthorized { status: 403, .. }));
        for code in [408, 429, 500, 502, 503] {
            assert!(classify(code, "").is_transient(), "{code}");
        }
        match classify(422, r#"{"message":"unknown object type Foo"}"#) {
            DmsError::Rejected { status, message, .. } => {
                assert_eq!((status, message.as_str()), (422, "unknown object type Foo"));
            }
            other => panic!("{other:?}"),
        }
        match classify(404, "") {
            DmsError::Rejected { message, .. } => assert_eq!(message, "Not Found"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(classify(302, ""), DmsError::Protocol { .. }));
    }
}
