//! The acceptance check of one delivery: everything in section 3 of the
//! delivery format that needs no OCR.
//!
//! Order of work: BagIt fixity and completeness first (it reads every byte,
//! on all cores), then bag-info, the two CSV files, orders and earlier
//! deliveries, and finally every referenced page image is probed and decoded
//! in parallel. Each step adds its reasons and the next step still runs
//! where it can, so the contractor gets the whole list in one report.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use scan2dms_bagit::{BagReport, FindingKind};
use scan2dms_imaging::ImageError;
use scan2dms_model::{AcceptanceReport, BatchId, Finding, OrderId, ReasonCode, RecordId, Series, WarningCode};

use crate::orders::read_order_list;
use crate::profile::{BagProfile, check_profile};
use crate::sheets::{INDEX_FILE, PageRow, RECORDS_FILE, RecordRow, cross_check, parse_index, parse_records};
use crate::text::{IndexEncoding, decode, read_csv_table};

/// An order as validation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderView {
    pub series: Series,
    pub records: HashSet<RecordId>,
}

/// An earlier batch named by `Replaces-Batch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PriorBatch {
    Rejected,
    /// Accepted, or still being validated: it cannot be replaced.
    NotRejected,
}

pub type LookupError = Box<dyn std::error::Error + Send + Sync>;

/// What validation needs to know beyond the bag: the orders and the earlier
/// deliveries. The pipeline answers from its state store, `scan2dms
/// validate` from a directory of order lists.
pub trait OrderBook {
    fn order(&self, order_id: &OrderId) -> Result<Option<OrderView>, LookupError>;
    /// For each given record delivered by an accepted batch other than
    /// `this_batch`: the batch that delivered it.
    fn delivered(&self, record_ids: &[RecordId], this_batch: &str) -> Result<HashMap<RecordId, BatchId>, LookupError>;
    /// What became of an earlier batch; `None` when it is unknown.
    fn prior_batch(&self, batch_id: &BatchId) -> Result<Option<PriorBatch>, LookupError>;
    /// False when the book has no delivery history (stateless validation):
    /// duplicate deliveries and `Replaces-Batch` then go unchecked.
    fn knows_deliveries(&self) -> bool;
}

/// Order lists read from a directory of `<order_id>.csv`, without history.
#[derive(Debug, Default)]
pub struct DirectoryOrderBook {
    orders: HashMap<OrderId, OrderView>,
}

impl DirectoryOrderBook {
    /// Reads every `*.csv` in `dir`; a broken order list is an error.
    pub fn read(dir: &Path) -> Result<DirectoryOrderBook, LookupError> {
        let mut orders = HashMap::new();
        let entries = std::fs::read_dir(dir)
            .map_err(|error| format!("cannot read order directory {}: {error}", dir.display()))?;
        for entry in entries {
            let path = entry?.path();
            if path.extension().is_some_and(|extension| extension == "csv") {
                let list = read_order_list(&path)?;
                let records = list.records.into_iter().map(|record| record.record_id).collect();
                orders.insert(list.order_id, OrderView { series: list.series, records });
            }
        }
        Ok(DirectoryOrderBook { orders })
    }

    pub fn empty() -> DirectoryOrderBook {
        DirectoryOrderBook::default()
    }
}

impl OrderBook for DirectoryOrderBook {
    fn order(&self, order_id: &OrderId) -> Result<Option<OrderView>, LookupError> {
        Ok(self.orders.get(order_id).cloned())
    }

    fn delivered(&self, _: &[RecordId], _: &str) -> Result<HashMap<RecordId, BatchId>, LookupError> {
        Ok(HashMap::new())
    }

    fn prior_batch(&self, _: &BatchId) -> Result<Option<PriorBatch>, LookupError> {
        Ok(None)
    }

    fn knows_deliveries(&self) -> bool {
        false
    }
}

/// How much checking to do, within which limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ValidateOptions {
    pub image_limits: scan2dms_imaging::Limits,
    pub image_check: ImageCheck,
    /// Threads for hashing and decoding; `None` uses every core.
    pub threads: Option<usize>,
}

/// How far page images are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageCheck {
    /// Headers only: format, page count, pixel count, resolution.
    Probe,
    /// Headers, then every referenced page fully decoded.
    Decode,
}

/// A payload file with its SHA-256 (when the bag's manifests gave one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadEntry {
    /// Relative to the bag root, e.g. `data/images/a.tif`.
    pub path: String,
    pub bytes: u64,
    pub sha256: Option<String>,
}

/// The verdict and everything read on the way, for the pipeline to store.
#[derive(Debug, Clone)]
pub struct Validation {
    pub report: AcceptanceReport,
    pub profile: BagProfile,
    pub records: Vec<RecordRow>,
    pub pages: Vec<PageRow>,
    pub payload: Vec<PayloadEntry>,
    /// Checks that could not run and why (e.g. no delivery history).
    pub notes: Vec<String>,
}

/// The check itself could not run (as opposed to finding the delivery bad).
#[derive(Debug, thiserror::Error)]
pub enum ValidationError {
    #[error("{}: not a bag directory", .0.display())]
    NotADirectory(PathBuf),
    #[error("bagit check of {}: {message}", path.display())]
    Bag { path: PathBuf, message: String },
    #[error("looking up orders or earlier deliveries: {0}")]
    Lookup(LookupError),
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
}

/// Validates the bag in `bag_dir` (its directory name is the batch id).
pub fn validate_delivery(
    bag_dir: &Path,
    book: &dyn OrderBook,
    options: &ValidateOptions,
) -> Result<Validation, ValidationError> {
    if !bag_dir.is_dir() {
        return Err(ValidationError::NotADirectory(bag_dir.to_owned()));
    }
    let batch_id = bag_dir.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    let mut reasons = Vec::new();
    let mut warnings = Vec::new();
    let mut notes = Vec::new();

    let bag = scan2dms_bagit::validate_bag(bag_dir, &scan2dms_bagit::ValidateOptions { threads: options.threads })
        .map_err(|error| ValidationError::Bag { path: bag_dir.to_owned(), message: error.to_string() })?;
    add_bag_findings(&bag, &mut reasons);

    let profile = check_profile(&bag.bag_info, &mut reasons);
    if let Some(external_id) = &profile.external_identifier
        && external_id != &batch_id
    {
        reasons.push(
            Finding::new(
                ReasonCode::ExternalIdMismatch,
                format!("External-Identifier is {external_id:?}, the bag directory is {batch_id:?}"),
            )
            .file("bag-info.txt"),
        );
    }
    if batch_id.parse::<BatchId>().is_err() {
        reasons.push(Finding::new(
            ReasonCode::InvalidBagInfoField,
            format!(
                "the bag directory name {batch_id:?} is not a valid batch id (^[A-Za-z0-9][A-Za-z0-9._-]{{0,63}}$)"
            ),
        ));
    }

    let encoding = profile.index_encoding.unwrap_or(IndexEncoding::Utf8);
    let records_table = read_sheet(bag_dir, RECORDS_FILE, encoding, &mut reasons)?;
    let index_table = read_sheet(bag_dir, INDEX_FILE, encoding, &mut reasons)?;
    let records = records_table.as_ref().map(|table| parse_records(table, &mut reasons)).unwrap_or_default();
    let pages = index_table.as_ref().map(|table| parse_index(table, &mut reasons)).unwrap_or_default();
    // Only a fully read index.csv says which files are unreferenced or
    // which pages are missing; a partial one would add noise to its reasons.
    let index_complete = index_table
        .as_ref()
        .is_some_and(|table| table.header == crate::sheets::INDEX_HEADER && pages.len() == table.rows.len());
    if records_table.as_ref().is_some_and(|table| table.header == crate::sheets::RECORDS_HEADER)
        && index_table.is_some()
    {
        cross_check(&records, &pages, index_complete, &mut reasons);
    }

    check_orders(&batch_id, &profile, &records, book, &mut reasons, &mut notes)?;

    let payload_paths: HashSet<&str> = bag.payload_files.iter().map(|file| file.path.as_str()).collect();
    let files = check_page_paths(&pages, &payload_paths, &mut reasons);
    check_images(bag_dir, &files, &profile, options, &mut reasons, &mut warnings);

    let referenced: HashSet<String> = pages.iter().map(|page| format!("data/{}", page.file)).collect();
    for file in bag.payload_files.iter().filter(|_| index_complete) {
        if file.path != RECORDS_FILE && file.path != INDEX_FILE && !referenced.contains(&file.path) {
            warnings.push(
                Finding::new(WarningCode::UnreferencedFile, "a payload file that index.csv does not reference")
                    .file(file.path.strip_prefix("data/").unwrap_or(&file.path)),
            );
        }
    }

    let payload = payload_with_sha256(bag_dir, &bag, options.threads)?;
    Ok(Validation {
        report: AcceptanceReport::new(batch_id, reasons, warnings),
        profile,
        records,
        pages,
        payload,
        notes,
    })
}

/// Every payload file with its SHA-256: from the bag's sha256 manifest when
/// it has one, computed here otherwise (a sha512-only bag), because the
/// e-files' provenance names each source by its SHA-256.
fn payload_with_sha256(
    bag_dir: &Path,
    bag: &BagReport,
    threads: Option<usize>,
) -> Result<Vec<PayloadEntry>, ValidationError> {
    use scan2dms_bagit::Algorithm;
    let entry = |file: &scan2dms_bagit::PayloadFile| -> Result<PayloadEntry, ValidationError> {
        let known = file
            .digests
            .iter()
            .find(|(algorithm, _)| *algorithm == Algorithm::Sha256)
            .map(|(_, digest)| digest.clone());
        let sha256 = match known {
            Some(digest) => Some(digest),
            // An unreadable file is already a reason; it has no digest.
            None if file.digests.is_empty() => None,
            None => {
                let path = bag_dir.join(&file.path);
                let (_, digests) = scan2dms_bagit::digest_file(&path, &[Algorithm::Sha256])
                    .map_err(|source| ValidationError::Io { path: path.clone(), source })?;
                digests.into_iter().next().map(|(_, digest)| digest)
            }
        };
        Ok(PayloadEntry { path: file.path.clone(), bytes: file.bytes, sha256 })
    };
    with_threads(threads, || bag.payload_files.par_iter().map(entry).collect::<Result<Vec<_>, _>>())
}

/// Runs `work` on a pool of `threads` threads, or on rayon's global pool.
fn with_threads<T: Send>(threads: Option<usize>, work: impl FnOnce() -> T + Send) -> T {
    match threads.and_then(|threads| rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok()) {
        Some(pool) => pool.install(work),
        None => work(),
    }
}

fn add_bag_findings(bag: &BagReport, reasons: &mut Vec<Finding<ReasonCode>>) {
    for finding in &bag.findings {
        let code = match finding.kind {
            FindingKind::BadBagitTxt | FindingKind::BadLayout => ReasonCode::BadBagitTxt,
            FindingKind::BadBagInfo => ReasonCode::InvalidBagInfoField,
            FindingKind::ChecksumMismatch => ReasonCode::ChecksumMismatch,
            FindingKind::MissingFile | FindingKind::UnreadableFile | FindingKind::BadFetch => ReasonCode::MissingFile,
            // A manifest line that cannot be read lists nothing: the files it
            // meant to cover are, as far as fixity goes, unlisted.
            FindingKind::UnlistedFile | FindingKind::BadManifest => ReasonCode::UnlistedFile,
            FindingKind::OxumMismatch => ReasonCode::OxumMismatch,
            FindingKind::PathEscape => ReasonCode::PathEscape,
        };
        let mut reason = Finding::new(code, finding.detail.clone());
        if let Some(path) = &finding.path {
            reason = reason.file(path.clone());
        }
        reasons.push(reason);
    }
}

/// Largest records.csv or index.csv read. A box of files has a few
/// thousand pages, some 60 bytes of index.csv each; half a million rows
/// still fit. Anything larger is refused before it is read, so a line without an
/// end cannot take the memory of the host.
const MAX_SHEET_BYTES: u64 = 32 << 20;

fn read_sheet(
    bag_dir: &Path,
    file: &str,
    encoding: IndexEncoding,
    reasons: &mut Vec<Finding<ReasonCode>>,
) -> Result<Option<crate::text::CsvTable>, ValidationError> {
    let path = bag_dir.join(file);
    let bytes = match scan2dms_bagit::read_at_most(&path, MAX_SHEET_BYTES) {
        Ok(Some(bytes)) => bytes,
        Ok(None) => {
            reasons.push(
                Finding::new(
                    ReasonCode::BadCsvHeader,
                    format!("larger than the {} MiB a sheet may have", MAX_SHEET_BYTES >> 20),
                )
                .file(file),
            );
            return Ok(None);
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            reasons.push(Finding::new(ReasonCode::MissingFile, format!("{file} is required")).file(file));
            return Ok(None);
        }
        Err(source) => return Err(ValidationError::Io { path, source }),
    };
    let text = match decode(&bytes, encoding) {
        Ok(text) => text,
        Err(detail) => {
            reasons.push(
                Finding::new(ReasonCode::BadEncoding, format!("{} declared: {detail}", encoding.name())).file(file),
            );
            return Ok(None);
        }
    };
    match read_csv_table(&text) {
        Ok(table) => Ok(Some(table)),
        Err(detail) => {
            reasons.push(Finding::new(ReasonCode::BadCsvHeader, format!("not a valid CSV table: {detail}")).file(file));
            Ok(None)
        }
    }
}

fn check_orders(
    batch_id: &str,
    profile: &BagProfile,
    records: &[RecordRow],
    book: &dyn OrderBook,
    reasons: &mut Vec<Finding<ReasonCode>>,
    notes: &mut Vec<String>,
) -> Result<(), ValidationError> {
    if let Some(order_id) = &profile.order_id {
        match book.order(order_id).map_err(ValidationError::Lookup)? {
            None => reasons.push(
                Finding::new(ReasonCode::UnknownOrder, format!("Order-Identifier {order_id} names no imported order"))
                    .file("bag-info.txt"),
            ),
            Some(order) => {
                if let Some(series) = profile.series
                    && series != order.series
                {
                    reasons.push(
                        Finding::new(
                            ReasonCode::SeriesMismatch,
                            format!("Record-Series is {series}, order {order_id} is {}", order.series),
                        )
                        .file("bag-info.txt"),
                    );
                }
                for record in records {
                    if !order.records.contains(&record.record_id) {
                        reasons.push(
                            Finding::new(ReasonCode::NotInOrder, format!("not in order {order_id}"))
                                .record(record.record_id.as_str())
                                .file(RECORDS_FILE),
                        );
                    }
                }
            }
        }
    }

    if !book.knows_deliveries() {
        notes.push("no delivery history: duplicate deliveries and Replaces-Batch were not checked".to_owned());
        return Ok(());
    }
    let replaced = profile.replaces_batch.as_ref();
    if let Some(replaced) = replaced {
        match book.prior_batch(replaced).map_err(ValidationError::Lookup)? {
            Some(PriorBatch::Rejected) => {}
            Some(PriorBatch::NotRejected) => reasons.push(
                Finding::new(
                    ReasonCode::InvalidBagInfoField,
                    format!(
                        "Replaces-Batch: batch {replaced} was not rejected; only a rejected batch can be redelivered"
                    ),
                )
                .file("bag-info.txt"),
            ),
            None => reasons.push(
                Finding::new(ReasonCode::InvalidBagInfoField, format!("Replaces-Batch: batch {replaced} is unknown"))
                    .file("bag-info.txt"),
            ),
        }
    }
    let record_ids: Vec<RecordId> = records.iter().map(|record| record.record_id.clone()).collect();
    let delivered = book.delivered(&record_ids, batch_id).map_err(ValidationError::Lookup)?;
    for record in records {
        if let Some(first) = delivered.get(&record.record_id)
            && Some(first) != replaced
        {
            reasons.push(
                Finding::new(ReasonCode::DuplicateRecord, format!("already delivered in accepted batch {first}"))
                    .record(record.record_id.as_str())
                    .file(RECORDS_FILE),
            );
        }
    }
    Ok(())
}

/// Checks each index.csv path; returns the usable files with the rows that
/// reference them.
fn check_page_paths<'a>(
    pages: &'a [PageRow],
    payload_paths: &HashSet<&str>,
    reasons: &mut Vec<Finding<ReasonCode>>,
) -> BTreeMap<&'a str, Vec<&'a PageRow>> {
    let mut files: BTreeMap<&str, Vec<&PageRow>> = BTreeMap::new();
    let mut reported = HashSet::new();
    for page in pages {
        let fault = |code: ReasonCode, detail: String| {
            Finding::new(code, detail).record(page.record_id.as_str()).page(page.page_no).file(page.file.as_str())
        };
        if let Some(problem) = path_problem(&page.file) {
            reasons.push(fault(ReasonCode::PathEscape, format!("index.csv line {}: {problem}", page.line)));
            continue;
        }
        if !payload_paths.contains(format!("data/{}", page.file).as_str()) {
            if reported.insert(page.file.as_str()) {
                reasons.push(fault(
                    ReasonCode::MissingFile,
                    format!("index.csv line {}: no such file in data/", page.line),
                ));
            }
            continue;
        }
        files.entry(page.file.as_str()).or_default().push(page);
    }
    files
}

/// Why an index.csv path is not a plain relative path inside `data/`.
fn path_problem(file: &str) -> Option<&'static str> {
    if file.is_empty() {
        Some("the file name is empty")
    } else if file.starts_with('/') || file.as_bytes().get(1) == Some(&b':') {
        Some("an absolute path leaves data/")
    } else if file.contains('\\') {
        Some("backslashes are not allowed; use forward slashes")
    } else if file.split('/').any(|part| part == "..") {
        Some("a `..` component leaves data/")
    } else if file.split('/').any(|part| part.is_empty() || part == ".") {
        Some("empty or `.` path components are not allowed")
    } else {
        None
    }
}

fn check_images(
    bag_dir: &Path,
    files: &BTreeMap<&str, Vec<&PageRow>>,
    profile: &BagProfile,
    options: &ValidateOptions,
    reasons: &mut Vec<Finding<ReasonCode>>,
    warnings: &mut Vec<Finding<WarningCode>>,
) {
    let data_dir = bag_dir.join("data");
    let check_file = |(file, rows): (&&str, &Vec<&PageRow>)| -> (Vec<Finding<ReasonCode>>, Vec<Finding<WarningCode>>) {
        let mut reasons = Vec::new();
        let mut warnings = Vec::new();
        let path = data_dir.join(file);
        let first = rows[0];
        // Image errors start with the file's path in our work area; the
        // finding names the file by its place in the bag instead.
        let in_work_area = format!("{}: ", path.display());
        let fault = |code: ReasonCode, row: &PageRow, detail: String| {
            let detail = detail.replace(&in_work_area, "");
            Finding::new(code, detail).record(row.record_id.as_str()).page(row.page_no).file(*file)
        };
        let info = match scan2dms_imaging::probe(&path, &options.image_limits) {
            Ok(info) => info,
            Err(error) => {
                reasons.push(fault(image_error_code(&error), first, error.to_string()));
                return (reasons, warnings);
            }
        };
        let mut decoded = BTreeSet::new();
        for row in rows {
            let page_count = info.pages.len();
            let Some(page) = info.pages.get(row.file_page as usize - 1) else {
                reasons.push(fault(
                    ReasonCode::FilePageOutOfRange,
                    row,
                    format!("file_page {} but the file has {page_count} page(s)", row.file_page),
                ));
                continue;
            };
            if page.pixel_count() > options.image_limits.max_pixels {
                reasons.push(fault(
                    ReasonCode::ImageTooLarge,
                    row,
                    format!(
                        "{}x{} pixels exceed the limit of {}",
                        page.width, page.height, options.image_limits.max_pixels
                    ),
                ));
                continue;
            }
            if let (Some(declared), Some(dpi)) = (profile.scan_dpi, page.dpi)
                && dpi + 1.0 < declared as f32
            {
                let warning = Finding::new(WarningCode::LowDpi, format!("{} dpi, declared {declared}", dpi.round()))
                    .record(row.record_id.as_str())
                    .page(row.page_no)
                    .file(*file);
                warnings.push(warning);
            }
            if options.image_check == ImageCheck::Decode
                && decoded.insert(row.file_page)
                && let Err(error) =
                    scan2dms_imaging::decode_page(&path, row.file_page as usize - 1, &options.image_limits)
            {
                reasons.push(fault(image_error_code(&error), row, error.to_string()));
            }
        }
        (reasons, warnings)
    };
    let run = || files.par_iter().map(check_file).collect::<Vec<_>>();
    let results = with_threads(options.threads, run);
    for (file_reasons, file_warnings) in results {
        reasons.extend(file_reasons);
        warnings.extend(file_warnings);
    }
}

fn image_error_code(error: &ImageError) -> ReasonCode {
    match error {
        ImageError::TooLarge { .. } | ImageError::TooManyPages { .. } => ReasonCode::ImageTooLarge,
        ImageError::PageOutOfRange { .. } => ReasonCode::FilePageOutOfRange,
        _ => ReasonCode::UndecodableImage,
    }
}
