//! `pipeline.toml`: read it, then compile it into a [`PipelineConfig`] that is
//! known to be consistent before any work starts.
//!
//! Two layers, as in vector: [`RawConfig`] mirrors the file one to one
//! (`deny_unknown_fields`, so a misspelt key is an error, not a silent
//! default); [`compile`] checks every value and reports every problem at
//! once. Strings may hold `${VAR}` references to the environment, resolved at
//! compile time so secrets need not sit in the file. Every key has a default:
//! scan2dms runs with no file at all.
//!
//! This crate reads no files itself; callers hand it the text.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use scan2dms_core::RetryPolicy;
use serde::Deserialize;

/// The file as written, before any check.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawConfig {
    pub intake: RawIntake,
    pub limits: RawLimits,
    pub validation: RawValidation,
    pub retry: RawRetry,
    pub store: RawStore,
    pub ocr: RawOcr,
    pub dms: RawDms,
    pub classify: RawClassify,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawClassify {
    pub model: String,
    pub review_threshold: f64,
}

impl Default for RawClassify {
    fn default() -> Self {
        RawClassify { model: "classifier.json".to_owned(), review_threshold: 0.9 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawDms {
    pub target: String,
    pub url: String,
    pub user: String,
    pub password: String,
    pub folder_type: String,
    pub register_type: String,
    pub document_type: String,
    pub folder_key_field: String,
    pub register_name_field: String,
    pub external_id_field: String,
    pub register: String,
    pub fields: BTreeMap<String, String>,
    pub request_timeout_secs: u64,
    pub rate_limit_per_sec: f64,
    pub max_concurrent_requests: usize,
    pub max_attempts: u32,
    pub keep_staging: bool,
    pub xdomea_dir: String,
    pub xdomea_sender: String,
    pub xdomea_receiver: String,
}

impl Default for RawDms {
    fn default() -> Self {
        RawDms {
            target: "simulator".to_owned(),
            url: String::new(),
            user: "scan2dms".to_owned(),
            password: String::new(),
            folder_type: "Akte".to_owned(),
            register_type: "Register".to_owned(),
            document_type: "Dokument".to_owned(),
            folder_key_field: "Aktenzeichen".to_owned(),
            register_name_field: "Registername".to_owned(),
            external_id_field: "ExtId".to_owned(),
            register: "Eingang".to_owned(),
            fields: BTreeMap::new(),
            request_timeout_secs: 60,
            rate_limit_per_sec: 20.0,
            max_concurrent_requests: 4,
            max_attempts: 6,
            keep_staging: false,
            xdomea_dir: "xdomea".to_owned(),
            xdomea_sender: String::new(),
            xdomea_receiver: String::new(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawOcr {
    pub threads: usize,
    pub language: String,
    pub page_timeout_secs: u64,
    pub min_confidence: f32,
    pub blank_pages: String,
    pub detect_orientation: bool,
}

impl Default for RawOcr {
    fn default() -> Self {
        RawOcr {
            threads: 0,
            language: "deu".to_owned(),
            page_timeout_secs: 120,
            min_confidence: 60.0,
            blank_pages: "keep".to_owned(),
            detect_orientation: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawIntake {
    pub inbox_dir: String,
    pub settle_secs: u64,
    pub poll_interval_ms: u64,
}

impl Default for RawIntake {
    fn default() -> Self {
        RawIntake { inbox_dir: "inbox".to_owned(), settle_secs: 5, poll_interval_ms: 1_000 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawLimits {
    pub max_archive_bytes: u64,
    pub max_archive_entries: u64,
    pub max_compression_ratio: u64,
    pub max_image_pixels: u64,
    pub max_pages_per_file: u32,
}

impl Default for RawLimits {
    fn default() -> Self {
        RawLimits {
            max_archive_bytes: 20 * 1024 * 1024 * 1024,
            max_archive_entries: 200_000,
            max_compression_ratio: 100,
            max_image_pixels: 150_000_000,
            max_pages_per_file: 5_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawValidation {
    pub decode_images: bool,
    pub threads: usize,
}

impl Default for RawValidation {
    fn default() -> Self {
        RawValidation { decode_images: true, threads: 0 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawRetry {
    pub max_attempts: u32,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
}

impl Default for RawRetry {
    fn default() -> Self {
        RawRetry { max_attempts: 3, backoff_base_secs: 5, backoff_max_secs: 300 }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RawStore {
    pub url: String,
    pub lease_secs: u64,
    pub data_dir: Option<String>,
}

impl Default for RawStore {
    fn default() -> Self {
        RawStore { url: "sqlite://state.db".to_owned(), lease_secs: 60, data_dir: None }
    }
}

/// The checked configuration the rest of scan2dms runs on.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineConfig {
    pub intake: IntakeConfig,
    pub limits: Limits,
    pub validation: ValidationConfig,
    pub retry: RetryPolicy,
    pub store: StoreConfig,
    /// The data directory (work area, batches, e-files, reports; the shared
    /// mount when workers run on several hosts), as written in the file.
    /// `--data-dir` or `SCAN2DMS_DATA_DIR` override it; without any of them
    /// it is `./scan2dms-data`. A relative path is taken from the
    /// configuration file's directory (see [`from_file`]).
    pub data_dir: Option<PathBuf>,
    /// How long a worker's claim on a running batch lasts unless renewed;
    /// after it, another worker takes the batch over.
    pub lease: std::time::Duration,
    pub ocr: OcrConfig,
    pub dms: DmsConfig,
    pub classify: ClassifyConfig,
}

/// Document classification.
#[derive(Debug, Clone, PartialEq)]
pub struct ClassifyConfig {
    /// The trained model (`scan2dms classify train`), relative to the data
    /// directory. Without it documents stay unclassified and are filed into
    /// `dms.register`.
    pub model: PathBuf,
    /// Calibrated confidence below which a document goes to review and is
    /// not filed until a person decides.
    pub review_threshold: f64,
}

/// Which DMS the documents go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DmsTargetConfig {
    /// The built-in stand-in for enaio, started by the pipeline on a free
    /// local port with its data under `<data dir>/dms-sim`.
    Simulator,
    /// A real enaio gateway's DMS service.
    Enaio { url: String },
    /// XDOMEA 0401 hand-over packages, one zip per record, in this directory
    /// (relative to the data directory), from `sender` to `receiver`
    /// (authority codes in the directory service, e.g. DVDV).
    Xdomea { dir: PathBuf, sender: String, receiver: String },
}

/// The DMS target and how documents are filed there.
#[derive(Clone, PartialEq)]
pub struct DmsConfig {
    pub target: DmsTargetConfig,
    pub user: String,
    pub password: String,
    pub folder_type: String,
    pub register_type: String,
    pub document_type: String,
    pub folder_key_field: String,
    pub register_name_field: String,
    pub external_id_field: String,
    /// The register documents are filed in until they are classified.
    pub register: String,
    /// Our index field names mapped to the DMS's internal names.
    pub fields: BTreeMap<String, String>,
    pub request_timeout_secs: u64,
    /// 0 means no limit.
    pub rate_limit_per_sec: f64,
    pub max_concurrent_requests: usize,
    /// Rounds per DMS request before the stage fails (and is retried).
    pub max_attempts: u32,
    /// Keep the e-files in the work area once they are verified in the DMS.
    pub keep_staging: bool,
}

impl std::fmt::Debug for DmsConfig {
    /// The password never shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DmsConfig")
            .field("target", &self.target)
            .field("user", &self.user)
            .field("password", &"***")
            .field("folder_type", &self.folder_type)
            .field("register_type", &self.register_type)
            .field("document_type", &self.document_type)
            .field("register", &self.register)
            .field("fields", &self.fields)
            .field("keep_staging", &self.keep_staging)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct OcrConfig {
    /// Worker threads, each with its own engine; 0 means one per core.
    pub threads: usize,
    /// Tesseract language model(s), e.g. `deu` or `deu+eng`.
    pub language: String,
    pub page_timeout_secs: u64,
    /// Mean word confidence (0 to 100) below which a page is flagged.
    pub min_confidence: f32,
    /// Blank back sides stay in the e-file (`true`) or are left out.
    pub keep_blank_pages: bool,
    /// Turn pages stored sideways or upside down upright (tesseract OSD).
    pub detect_orientation: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntakeConfig {
    /// Relative paths are taken from the data directory.
    pub inbox_dir: PathBuf,
    /// A delivery is taken from the inbox once it has not changed for this long.
    pub settle_secs: u64,
    pub poll_interval_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_archive_bytes: u64,
    pub max_archive_entries: u64,
    pub max_compression_ratio: u64,
    pub max_image_pixels: u64,
    pub max_pages_per_file: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidationConfig {
    pub decode_images: bool,
    /// 0 means one per core.
    pub threads: usize,
}

/// Where the state lives. Relative SQLite paths are taken from the data directory.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreConfig {
    Sqlite { path: PathBuf },
    Postgres { url: String },
}

impl std::fmt::Debug for StoreConfig {
    /// Masks the password a PostgreSQL URL may carry.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreConfig::Sqlite { path } => f.debug_struct("Sqlite").field("path", path).finish(),
            StoreConfig::Postgres { url } => {
                let masked = match (url.find("://"), url.rfind('@')) {
                    (Some(scheme_end), Some(at)) if at > scheme_end => {
                        format!("{}://***{}", &url[..scheme_end], &url[at..])
                    }
                    _ => url.clone(),
                };
                f.debug_struct("Postgres").field("url", &masked).finish()
            }
        }
    }
}

/// Every problem found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .problems.join("\n  - "))]
pub struct ConfigError {
    pub problems: Vec<String>,
}

/// Parses and compiles configuration text. `source` names it in errors.
pub fn from_toml(text: &str, source: &str) -> Result<PipelineConfig, ConfigError> {
    let raw: RawConfig = toml::from_str(text)
        .map_err(|error| ConfigError { problems: vec![format!("{source}: {}", error.to_string().trim_end())] })?;
    compile(&raw, &|name| std::env::var(name).ok())
}

/// Reads, parses and compiles a configuration file. A relative
/// `store.data_dir` is resolved against the file's directory, so a unit file
/// and an operator's shell in another directory agree on it.
pub fn from_file(path: &Path) -> Result<PipelineConfig, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| ConfigError { problems: vec![format!("cannot read {}: {error}", path.display())] })?;
    let mut config = from_toml(&text, &path.display().to_string())?;
    if let Some(dir) = config.data_dir.take() {
        let base = path.parent().unwrap_or(Path::new(""));
        config.data_dir = Some(if dir.is_relative() { base.join(dir) } else { dir });
    }
    Ok(config)
}

/// The configuration scan2dms runs on when no file is given.
pub fn defaults() -> PipelineConfig {
    compile(&RawConfig::default(), &|_| None).expect("built-in defaults compile")
}

/// Checks every value of a raw configuration, resolving `${VAR}` with `env`.
pub fn compile(raw: &RawConfig, env: &dyn Fn(&str) -> Option<String>) -> Result<PipelineConfig, ConfigError> {
    let mut problems = Vec::new();
    let mut positive = |key: &str, value: u64| {
        if value == 0 {
            problems.push(format!("{key} must be greater than 0"));
        }
    };
    positive("limits.max_archive_bytes", raw.limits.max_archive_bytes);
    positive("limits.max_archive_entries", raw.limits.max_archive_entries);
    positive("limits.max_compression_ratio", raw.limits.max_compression_ratio);
    positive("limits.max_image_pixels", raw.limits.max_image_pixels);
    positive("limits.max_pages_per_file", u64::from(raw.limits.max_pages_per_file));
    positive("intake.poll_interval_ms", raw.intake.poll_interval_ms);
    positive("store.lease_secs", raw.store.lease_secs);
    positive("retry.max_attempts", u64::from(raw.retry.max_attempts));

    positive("ocr.page_timeout_secs", raw.ocr.page_timeout_secs);
    if raw.retry.backoff_max_secs < raw.retry.backoff_base_secs {
        problems.push("retry.backoff_max_secs must not be below retry.backoff_base_secs".to_owned());
    }
    if !(0.0..=100.0).contains(&raw.ocr.min_confidence) {
        problems.push("ocr.min_confidence must be between 0 and 100".to_owned());
    }
    let keep_blank_pages = match raw.ocr.blank_pages.as_str() {
        "keep" => true,
        "drop" => false,
        other => {
            problems.push(format!("ocr.blank_pages must be \"keep\" or \"drop\", not {other:?}"));
            true
        }
    };
    if raw.ocr.language.is_empty()
        || !raw.ocr.language.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'_')
    {
        problems
            .push(format!("ocr.language {:?} is not a tesseract language list like deu or deu+eng", raw.ocr.language));
    }
    let inbox_dir = interpolate("intake.inbox_dir", &raw.intake.inbox_dir, env, &mut problems);
    if inbox_dir.is_empty() {
        problems.push("intake.inbox_dir must not be empty".to_owned());
    }
    // The database of a deployment is the host's business, like the DMS URL.
    let store_url =
        env("SCAN2DMS_DATABASE_URL").unwrap_or_else(|| interpolate("store.url", &raw.store.url, env, &mut problems));
    let store = if let Some(path) = store_url.strip_prefix("sqlite://") {
        if path.is_empty() {
            problems.push("store.url: sqlite:// needs a file path, e.g. sqlite://state.db".to_owned());
        }
        StoreConfig::Sqlite { path: PathBuf::from(path) }
    } else if store_url.starts_with("postgres://") || store_url.starts_with("postgresql://") {
        StoreConfig::Postgres { url: store_url }
    } else {
        problems.push("store.url must start with sqlite:// or postgres://".to_owned());
        StoreConfig::Sqlite { path: PathBuf::from("state.db") }
    };
    let data_dir = raw.store.data_dir.as_ref().map(|dir| {
        let dir = interpolate("store.data_dir", dir, env, &mut problems);
        if dir.trim().is_empty() {
            problems.push("store.data_dir must not be empty; leave it out for ./scan2dms-data".to_owned());
        }
        PathBuf::from(dir)
    });

    let dms = compile_dms(&raw.dms, env, &mut problems);
    if !(0.0..=1.0).contains(&raw.classify.review_threshold) {
        problems.push("classify.review_threshold must be between 0 and 1".to_owned());
    }
    if raw.classify.model.trim().is_empty() {
        problems.push("classify.model must not be empty".to_owned());
    }

    if !problems.is_empty() {
        return Err(ConfigError { problems });
    }
    let secs_to_ms = |secs: u64| i64::try_from(secs.saturating_mul(1_000)).unwrap_or(i64::MAX);
    Ok(PipelineConfig {
        intake: IntakeConfig {
            inbox_dir: PathBuf::from(inbox_dir),
            settle_secs: raw.intake.settle_secs,
            poll_interval_ms: raw.intake.poll_interval_ms,
        },
        limits: Limits {
            max_archive_bytes: raw.limits.max_archive_bytes,
            max_archive_entries: raw.limits.max_archive_entries,
            max_compression_ratio: raw.limits.max_compression_ratio,
            max_image_pixels: raw.limits.max_image_pixels,
            max_pages_per_file: raw.limits.max_pages_per_file,
        },
        validation: ValidationConfig { decode_images: raw.validation.decode_images, threads: raw.validation.threads },
        retry: RetryPolicy {
            max_attempts: raw.retry.max_attempts,
            backoff_base_ms: secs_to_ms(raw.retry.backoff_base_secs),
            backoff_max_ms: secs_to_ms(raw.retry.backoff_max_secs),
        },
        store,
        data_dir,
        lease: std::time::Duration::from_secs(raw.store.lease_secs),
        ocr: OcrConfig {
            threads: raw.ocr.threads,
            language: raw.ocr.language.clone(),
            page_timeout_secs: raw.ocr.page_timeout_secs,
            min_confidence: raw.ocr.min_confidence,
            keep_blank_pages,
            detect_orientation: raw.ocr.detect_orientation,
        },
        dms,
        classify: ClassifyConfig {
            model: PathBuf::from(&raw.classify.model),
            review_threshold: raw.classify.review_threshold,
        },
    })
}

/// The `[dms]` section. `SCAN2DMS_DMS_URL`, `SCAN2DMS_DMS_USER` and
/// `SCAN2DMS_DMS_PASSWORD` override the file (a URL makes the target enaio
/// unless the file names another).
fn compile_dms(raw: &RawDms, env: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> DmsConfig {
    let url = env("SCAN2DMS_DMS_URL").unwrap_or_else(|| interpolate("dms.url", &raw.url, env, problems));
    let user = env("SCAN2DMS_DMS_USER").unwrap_or_else(|| interpolate("dms.user", &raw.user, env, problems));
    let password =
        env("SCAN2DMS_DMS_PASSWORD").unwrap_or_else(|| interpolate("dms.password", &raw.password, env, problems));
    let target_name =
        if env("SCAN2DMS_DMS_URL").is_some() && raw.target == "simulator" { "enaio" } else { &raw.target };
    let target = match target_name {
        "simulator" => DmsTargetConfig::Simulator,
        "enaio" => {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                problems.push(format!(
                    "dms.url must be the gateway's http(s) address of the DMS service (e.g. https://gateway/api/dms), not {url:?}"
                ));
            }
            if user.is_empty() {
                problems.push("dms.user must not be empty for target \"enaio\"".to_owned());
            }
            DmsTargetConfig::Enaio { url: url.trim_end_matches('/').to_owned() }
        }
        "xdomea" => {
            for (key, value) in [
                ("dms.xdomea_dir", &raw.xdomea_dir),
                ("dms.xdomea_sender", &raw.xdomea_sender),
                ("dms.xdomea_receiver", &raw.xdomea_receiver),
            ] {
                if value.trim().is_empty() {
                    problems.push(format!("{key} must not be empty for target \"xdomea\""));
                }
            }
            DmsTargetConfig::Xdomea {
                dir: PathBuf::from(&raw.xdomea_dir),
                sender: raw.xdomea_sender.clone(),
                receiver: raw.xdomea_receiver.clone(),
            }
        }
        other => {
            problems.push(format!("dms.target must be \"simulator\", \"enaio\" or \"xdomea\", not {other:?}"));
            DmsTargetConfig::Simulator
        }
    };
    for (key, value) in [
        ("dms.folder_type", &raw.folder_type),
        ("dms.register_type", &raw.register_type),
        ("dms.document_type", &raw.document_type),
        ("dms.folder_key_field", &raw.folder_key_field),
        ("dms.register_name_field", &raw.register_name_field),
        ("dms.external_id_field", &raw.external_id_field),
        ("dms.register", &raw.register),
    ] {
        if value.trim().is_empty() {
            problems.push(format!("{key} must not be empty"));
        }
    }
    if raw.request_timeout_secs == 0 {
        problems.push("dms.request_timeout_secs must be greater than 0".to_owned());
    }
    if !(raw.rate_limit_per_sec.is_finite() && raw.rate_limit_per_sec >= 0.0) {
        problems.push("dms.rate_limit_per_sec must be 0 (no limit) or a positive number".to_owned());
    }
    if raw.max_concurrent_requests == 0 {
        problems.push("dms.max_concurrent_requests must be greater than 0".to_owned());
    }
    if raw.max_attempts == 0 {
        problems.push("dms.max_attempts must be greater than 0".to_owned());
    }
    DmsConfig {
        target,
        user,
        password,
        folder_type: raw.folder_type.clone(),
        register_type: raw.register_type.clone(),
        document_type: raw.document_type.clone(),
        folder_key_field: raw.folder_key_field.clone(),
        register_name_field: raw.register_name_field.clone(),
        external_id_field: raw.external_id_field.clone(),
        register: raw.register.clone(),
        fields: raw.fields.clone(),
        request_timeout_secs: raw.request_timeout_secs,
        rate_limit_per_sec: raw.rate_limit_per_sec,
        max_concurrent_requests: raw.max_concurrent_requests,
        max_attempts: raw.max_attempts,
        keep_staging: raw.keep_staging,
    }
}

/// Replaces each `${NAME}` in `value`; an unset variable is a problem.
fn interpolate(key: &str, value: &str, env: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<String>) -> String {
    let mut out = String::with_capacity(value.len());
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            problems.push(format!("{key}: unterminated ${{ in {value:?}"));
            return out;
        };
        let name = &after[..end];
        match env(name) {
            Some(resolved) => out.push_str(&resolved),
            None => problems.push(format!("{key}: environment variable {name} is not set")),
        }
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_example_compiles_to_the_defaults() {
        let text = include_str!("../../../pipeline.toml");
        let config = from_toml(text, "pipeline.toml").unwrap();
        assert_eq!(config, defaults());
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut raw = RawConfig::default();
        raw.limits.max_image_pixels = 0;
        raw.retry.max_attempts = 0;
        raw.store.url = "mysql://x".to_owned();
        raw.intake.inbox_dir = "${SCAN2DMS_NOT_SET}/in".to_owned();
        let error = compile(&raw, &|_| None).unwrap_err();
        assert_eq!(
            error.problems,
            [
                "limits.max_image_pixels must be greater than 0",
                "retry.max_attempts must be greater than 0",
                "intake.inbox_dir: environment variable SCAN2DMS_NOT_SET is not set",
                "store.url must start with sqlite:// or postgres://",
            ]
        );
    }

    #[test]
    fn a_relative_data_dir_is_taken_from_the_config_files_directory() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pipeline.toml");
        std::fs::write(&file, "[store]\ndata_dir = \"shared/scan2dms\"\n").unwrap();
        assert_eq!(from_file(&file).unwrap().data_dir, Some(dir.path().join("shared/scan2dms")));
        std::fs::write(&file, "[store]\ndata_dir = \"/srv/scan2dms\"\n").unwrap();
        assert_eq!(from_file(&file).unwrap().data_dir, Some(PathBuf::from("/srv/scan2dms")));
        std::fs::write(&file, "[store]\ndata_dir = \"\"\n").unwrap();
        assert!(from_file(&file).unwrap_err().problems[0].contains("store.data_dir"));
        assert_eq!(defaults().data_dir, None);
        let missing = dir.path().join("absent.toml");
        assert!(from_file(&missing).unwrap_err().problems[0].contains("absent.toml"));
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let error = from_toml("[limits]\nmax_image_pixel = 5\n", "x.toml").unwrap_err();
        assert!(error.problems[0].contains("max_image_pixel"), "{error}");
    }

    #[test]
    fn environment_references_resolve_and_passwords_stay_masked() {
        let mut raw = RawConfig::default();
        raw.store.url = "postgres://scan:${PW}@db/scan2dms".to_owned();
        let config = compile(&raw, &|name| (name == "PW").then(|| "geheim".to_owned())).unwrap();
        assert_eq!(config.store, StoreConfig::Postgres { url: "postgres://scan:geheim@db/scan2dms".to_owned() });
        assert!(!format!("{config:?}").contains("geheim"));
    }

    #[test]
    fn dms_credentials_come_from_the_environment_and_never_show() {
        let env = |name: &str| match name {
            "SCAN2DMS_DMS_URL" => Some("https://gateway.example/api/dms/".to_owned()),
            "SCAN2DMS_DMS_PASSWORD" => Some("streng-geheim".to_owned()),
            _ => None,
        };
        let config = compile(&RawConfig::default(), &env).unwrap();
        assert_eq!(config.dms.target, DmsTargetConfig::Enaio { url: "https://gateway.example/api/dms".to_owned() });
        assert_eq!(config.dms.password, "streng-geheim");
        assert!(!format!("{config:?}").contains("streng-geheim"));

        let mut raw = RawConfig::default();
        raw.dms.target = "enaio".to_owned();
        raw.dms.max_concurrent_requests = 0;
        let error = compile(&raw, &|_| None).unwrap_err();
        assert_eq!(
            error.problems,
            [
                "dms.url must be the gateway's http(s) address of the DMS service (e.g. https://gateway/api/dms), not \"\"",
                "dms.max_concurrent_requests must be greater than 0",
            ]
        );
    }
}
