//! The validate stage: unpack the delivery if it is an archive, run the
//! acceptance check, store the verdict, and publish the report.

use std::path::{Path, PathBuf};

use scan2dms_config::PipelineConfig;
use scan2dms_core::{Event, StageOutcome, step};
use scan2dms_delivery::archive::{self, ArchiveLimits};
use scan2dms_delivery::{ImageCheck, ValidateOptions, Validation, validate_delivery};
use scan2dms_model::{AcceptanceReport, Finding, ReasonCode};
use scan2dms_store::{BatchRow, ClaimOutcome, DeliveredRecord, PageRecord, StoreError, ValidationResult};

use crate::{Note, Observer, Pipeline, StoreOrderBook, now_ms};

/// Validation options from the pipeline configuration.
pub fn validate_options(config: &PipelineConfig) -> ValidateOptions {
    ValidateOptions {
        image_limits: scan2dms_imaging::Limits {
            max_pixels: config.limits.max_image_pixels,
            max_pages_per_file: config.limits.max_pages_per_file,
        },
        image_check: if config.validation.decode_images { ImageCheck::Decode } else { ImageCheck::Probe },
        threads: (config.validation.threads > 0).then_some(config.validation.threads),
    }
}

/// Runs the stage for a batch in `validating`. `Err` is a failure to run
/// (retried), not a rejection.
pub fn run(pipeline: &Pipeline, row: &BatchRow, observer: &dyn Observer) -> Result<StageOutcome, String> {
    let source = pipeline.data_dir.join(&row.source_path);
    let (validation, extra_reasons) = match unpack(pipeline, &row.batch_id, &source)? {
        Unpacked::Bag(bag_root) => {
            let mut extra = Vec::new();
            let inner = bag_root.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
            if inner != row.batch_id {
                extra.push(
                    Finding::new(
                        ReasonCode::ExternalIdMismatch,
                        format!("{} holds the bag directory {inner:?}, not {:?}", row.source_name, row.batch_id),
                    )
                    .file(row.source_name.clone()),
                );
            }
            let options = validate_options(&pipeline.config);
            // Hashing and decoding share the pipeline's pool with the OCR of
            // other batches (unless validation has threads of its own).
            let validation = pipeline
                .cpu_pool()
                .install(|| validate_delivery(&bag_root, &StoreOrderBook(&*pipeline.store), &options))
                .map_err(|error| error.to_string())?;
            (Some(validation), extra)
        }
        Unpacked::Refused(reason) => (None, vec![reason]),
    };

    let mut report = match &validation {
        Some(validation) => validation.report.clone(),
        None => AcceptanceReport::new(row.batch_id.clone(), Vec::new(), Vec::new()),
    };
    report.batch_id = row.batch_id.clone();
    if !extra_reasons.is_empty() {
        let mut reasons = extra_reasons;
        reasons.extend(report.reasons);
        report = AcceptanceReport::new(row.batch_id.clone(), reasons, report.warnings);
    }

    let mut result = to_result(report, validation.as_ref());
    loop {
        let outcome = if result.report.is_accepted() { StageOutcome::Accepted } else { StageOutcome::Rejected };
        let (next, _effects) = step(&row.batch, now_ms(), &Event::Succeeded(outcome), &pipeline.config.retry)
            .map_err(|error| error.to_string())?;
        match pipeline.store.finish_validation(&row.batch_id, &row.batch, &next, &result, now_ms()) {
            Ok(ClaimOutcome::Stored) => {
                publish_report(pipeline, &result.report).map_err(|error| error.to_string())?;
                let report = &result.report;
                observer.note(&Note::Validated {
                    batch_id: row.batch_id.clone(),
                    outcome: report.outcome.as_str().to_owned(),
                    reasons: report.reasons.len(),
                    warnings: report.warnings.len(),
                });
                return Ok(outcome);
            }
            // Another batch with one of these records was accepted between
            // the check and the commit: this one is a duplicate after all.
            Ok(ClaimOutcome::AlreadyDelivered(holders)) => {
                let mut reasons = result.report.reasons.clone();
                for (record_id, batch_id) in holders {
                    reasons.push(
                        Finding::new(
                            ReasonCode::DuplicateRecord,
                            format!("already delivered in accepted batch {batch_id}"),
                        )
                        .record(record_id.as_str())
                        .file("data/records.csv"),
                    );
                }
                result.report = AcceptanceReport::new(row.batch_id.clone(), reasons, result.report.warnings.clone());
            }
            Err(StoreError::Conflict { .. }) => return Err("the batch changed state while it was validated".to_owned()),
            Err(error) => return Err(error.to_string()),
        }
    }
}

enum Unpacked {
    Bag(PathBuf),
    Refused(Finding<ReasonCode>),
}

/// A bag directory as delivered, or an archive unpacked into `bag/`.
fn unpack(pipeline: &Pipeline, batch_id: &str, source: &Path) -> Result<Unpacked, String> {
    let metadata =
        std::fs::symlink_metadata(source).map_err(|error| format!("delivery {}: {error}", source.display()))?;
    if metadata.is_dir() {
        return Ok(Unpacked::Bag(source.to_owned()));
    }
    let dest = pipeline.batch_dir(batch_id).join("bag");
    if dest.exists() {
        // Left from an interrupted attempt.
        std::fs::remove_dir_all(&dest).map_err(|error| format!("cannot clear {}: {error}", dest.display()))?;
    }
    std::fs::create_dir_all(&dest).map_err(|error| format!("cannot create {}: {error}", dest.display()))?;
    unpack_archive(&pipeline.config, source, &dest).map(|unpacked| match unpacked {
        Ok(bag_root) => Unpacked::Bag(bag_root),
        Err(reason) => Unpacked::Refused(reason),
    })
}

/// Unpacks an archive delivery into `dest` within the configured limits:
/// the bag root, or the reason the contractor's archive is refused. `Err` is
/// our own failure (disk, permissions), which leaves the batch retryable.
pub fn unpack_archive(
    config: &PipelineConfig,
    archive_path: &Path,
    dest: &Path,
) -> Result<Result<PathBuf, Finding<ReasonCode>>, String> {
    let limits = ArchiveLimits {
        max_total_bytes: config.limits.max_archive_bytes,
        max_entries: config.limits.max_archive_entries,
        max_compression_ratio: config.limits.max_compression_ratio,
    };
    let name = archive_path.file_name().map(|name| name.to_string_lossy().into_owned()).unwrap_or_default();
    match archive::extract(archive_path, dest, &limits) {
        Ok(extracted) => Ok(Ok(extracted.bag_root)),
        Err(error) => match error.reason_code() {
            // The contractor's report names the archive as delivered, never
            // where it sits in our work area.
            Some(code) => {
                let detail = error.to_string().replace(&archive_path.display().to_string(), &name);
                Ok(Err(Finding::new(code, detail).file(name)))
            }
            None => Err(format!("cannot unpack {name}: {error}")),
        },
    }
}

fn to_result(report: AcceptanceReport, validation: Option<&Validation>) -> ValidationResult {
    let Some(validation) = validation else {
        return ValidationResult { report, order_id: None, records: Vec::new(), pages: Vec::new() };
    };
    let digests: std::collections::HashMap<&str, &str> = validation
        .payload
        .iter()
        .filter_map(|entry| Some((entry.path.strip_prefix("data/")?, entry.sha256.as_deref()?)))
        .collect();
    let sha256_of = |file: &str| digests.get(file).map(|digest| (*digest).to_owned());
    ValidationResult {
        order_id: validation.profile.order_id.clone(),
        records: validation
            .records
            .iter()
            .map(|record| DeliveredRecord {
                record_id: record.record_id.clone(),
                title: record.title.clone(),
                box_id: record.box_id.clone(),
                pages: record.pages,
            })
            .collect(),
        pages: validation
            .pages
            .iter()
            .map(|page| PageRecord {
                record_id: page.record_id.to_string(),
                page_no: page.page_no,
                document_no: page.document_no,
                file: page.file.clone(),
                file_page: page.file_page,
                sha256: sha256_of(&page.file),
                result: None,
            })
            .collect(),
        report,
    }
}

/// Writes `reports/<batch_id>.json` and `.txt`, replacing atomically.
fn publish_report(pipeline: &Pipeline, report: &AcceptanceReport) -> std::io::Result<()> {
    let dir = pipeline.reports_dir();
    std::fs::create_dir_all(&dir)?;
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    for (extension, text) in [("json", json), ("txt", report.to_string())] {
        let target = dir.join(format!("{}.{extension}", report.batch_id));
        let temporary = dir.join(format!(".{}.{extension}.tmp", report.batch_id));
        std::fs::write(&temporary, text)?;
        std::fs::rename(&temporary, &target)?;
    }
    Ok(())
}
