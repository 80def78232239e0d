//! The OCR stage: every page of an accepted batch is decoded, checked for
//! separator sheets and blank backs, turned upright, and recognised; then
//! each record is split into documents.
//!
//! Pages of all records run on the pipeline's CPU pool, one tesseract
//! engine per pool thread, created on first use and kept for the life of
//! the thread. A page never fails the stage: a page that cannot be decoded
//! or recognised ends with status `failed` or `timeout`, which the report
//! and the documents listing show. The stage fails (and is retried) only
//! when the batch's files or the store cannot be reached.
//!
//! Word boxes go to `batches/<id>/ocr/<record>/<page>.json` for the e-file
//! stage; text, status and confidence go to the store.
//!
//! Skew is measured (on tesseract's binary image of the page) and stored,
//! not corrected here: tesseract reads slightly skewed lines as well as
//! level ones, and the e-file stage levels the page by turning the image in
//! the PDF, leaving the scan's bytes as delivered.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rayon::prelude::*;
use scan2dms_core::documents::{BlankPages, PageFacts, split_record};
use scan2dms_core::{Event, StageOutcome, step};
use scan2dms_imaging::analysis::{BlankOptions, has_line_of_glyphs, is_blank, remove_faint_marks};
use scan2dms_imaging::separator::is_separator;
use scan2dms_model::{Finding, WarningCode};
use scan2dms_ocr::{Engine, EngineOptions, PageSegMode, PageStatus, PageText};
use scan2dms_store::{BatchRow, DocumentRecord, OcrOutcome, PageRecord, PageResult};
use serde::{Deserialize, Serialize};

use crate::{Observer, Pipeline, now_ms};

/// A word as the e-file stage reads it back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredWord {
    pub text: String,
    pub bbox: [u32; 4],
    pub line: u32,
}

/// Below this mean confidence the page is looked at for orientation.
const ORIENTATION_CHECK_BELOW: f32 = 70.0;

pub fn run(pipeline: &Pipeline, row: &BatchRow, _observer: &dyn Observer) -> Result<StageOutcome, String> {
    let bag = bag_root(pipeline, row)?;
    let pages = pipeline.store.pages(&row.batch_id).map_err(|error| error.to_string())?;
    let ocr_dir = pipeline.batch_dir(&row.batch_id).join("ocr");
    let options = engine_options(pipeline);
    let config = &pipeline.config.ocr;
    let limits = crate::validate_options(&pipeline.config).image_limits;

    let results: Vec<Result<PageResult, String>> = pipeline.cpu_pool().install(|| {
        pages
            .par_iter()
            .map(|page| {
                let result = analyse_page(
                    &bag.join("data").join(&page.file),
                    page,
                    &options,
                    config.detect_orientation,
                    &limits,
                );
                let words_path = ocr_dir.join(&page.record_id).join(format!("{}.json", page.page_no));
                let (result, words) = result;
                write_words(&words_path, &words)?;
                Ok(result)
            })
            .collect()
    });

    let mut page_results = Vec::with_capacity(pages.len());
    for (page, result) in pages.iter().zip(results) {
        page_results.push((page, result?));
    }
    let mut outcome = split_and_warn(&row.batch_id, &page_results, config.keep_blank_pages, config.min_confidence);
    if let Some(model) = pipeline.classifier()? {
        let series = batch_series(pipeline, row).ok_or_else(|| format!("batch {}: no order series", row.batch_id))?;
        classify_documents(&mut outcome, &page_results, &model, series, pipeline.config.classify.review_threshold);
    }
    let (next, _) = step(&row.batch, now_ms(), &Event::Succeeded(StageOutcome::Completed), &pipeline.config.retry)
        .map_err(|error| error.to_string())?;
    pipeline
        .store
        .finish_ocr(&row.batch_id, &row.batch, &next, &outcome, now_ms())
        .map_err(|error| error.to_string())?;
    Ok(StageOutcome::Completed)
}

fn engine_options(pipeline: &Pipeline) -> EngineOptions {
    EngineOptions {
        language: pipeline.config.ocr.language.clone(),
        page_seg_mode: PageSegMode::Auto,
        page_timeout: Duration::from_secs(pipeline.config.ocr.page_timeout_secs),
        tessdata_dir: None,
    }
}

/// Where the bag's files are: the delivered directory, or the unpacked archive.
pub fn bag_root(pipeline: &Pipeline, row: &BatchRow) -> Result<PathBuf, String> {
    scan2dms_delivery::archive::bag_root(
        &pipeline.data_dir.join(&row.source_path),
        &pipeline.batch_dir(&row.batch_id).join("bag"),
    )
}

thread_local! {
    /// The engine of this pool thread, kept across pages and batches.
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
}

fn with_engine<R>(options: &EngineOptions, work: impl FnOnce(&mut Engine) -> R) -> Result<R, String> {
    ENGINE.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|engine| engine.options() != options) {
            *slot = Some(Engine::new(options).map_err(|error| error.to_string())?);
        }
        let engine = slot.as_mut().ok_or_else(|| "no ocr engine".to_owned())?;
        Ok(work(engine))
    })
}

fn failed(detail: String, dpi: Option<f32>) -> (PageResult, Vec<StoredWord>) {
    let result = PageResult {
        status: PageStatus::Failed.as_str().to_owned(),
        confidence: None,
        blank: false,
        separator: false,
        rotation: 0,
        skew: None,
        dpi,
        text: String::new(),
    };
    tracing::warn!(%detail, "page failed");
    (result, Vec::new())
}

/// Everything the stage learns about one page. Never panics on bad input.
fn analyse_page(
    path: &Path,
    page: &PageRecord,
    options: &EngineOptions,
    detect_orientation: bool,
    limits: &scan2dms_imaging::Limits,
) -> (PageResult, Vec<StoredWord>) {
    let mut decoded = match scan2dms_imaging::decode_page(path, page.file_page as usize - 1, limits) {
        Ok(decoded) => decoded,
        Err(error) => return failed(error.to_string(), None),
    };
    let dpi = decoded.info.dpi;
    let dpi_hint = dpi.map_or(300, |dpi| dpi.round() as u32).clamp(70, 1200);
    if is_separator(&decoded.gray) {
        let result = PageResult {
            status: "separator".to_owned(),
            confidence: None,
            blank: false,
            separator: true,
            rotation: 0,
            skew: None,
            dpi,
            text: String::new(),
        };
        return (result, Vec::new());
    }
    let blank_options = BlankOptions::default();
    let little_ink = is_blank(&decoded.gray, &blank_options);
    // A page without real ink is read without its faint marks: the engine's
    // adaptive threshold would read the reverse side's show-through as text.
    if little_ink {
        remove_faint_marks(&mut decoded.gray, &blank_options);
    }
    // Dust and stains alone: no two marks of a letter's size side by side,
    // so nothing the reading below could accept as text.
    let recognised = if little_ink && !has_line_of_glyphs(&decoded.gray, dpi_hint, &blank_options) {
        Ok(None)
    } else {
        with_engine(options, |engine| read_page(engine, &decoded.gray, dpi_hint, little_ink, detect_orientation))
    };
    let (text, rotation) = match recognised {
        Ok(Some(found)) => found,
        Ok(None) => {
            let result = PageResult {
                status: PageStatus::Empty.as_str().to_owned(),
                confidence: None,
                blank: true,
                separator: false,
                rotation: 0,
                skew: None,
                dpi,
                text: String::new(),
            };
            return (result, Vec::new());
        }
        Err(error) => return failed(error, dpi),
    };
    let words = text
        .words
        .iter()
        .map(|word| StoredWord { text: word.text.clone(), bbox: word.bbox, line: word.line })
        .collect();
    let result = PageResult {
        status: text.status.as_str().to_owned(),
        confidence: text.mean_confidence,
        blank: false,
        separator: false,
        rotation,
        skew: text.skew_deg,
        dpi,
        text: text.text,
    };
    (result, words)
}

/// Reads a page, turned upright when its first reading looks turned and
/// the orientation check agrees; with the rotation applied (degrees
/// clockwise). `None`: a page with little ink on which nothing reads as
/// text, i.e. a blank one.
fn read_page(
    engine: &mut Engine,
    gray: &image::GrayImage,
    dpi_hint: u32,
    little_ink: bool,
    detect_orientation: bool,
) -> Option<(PageText, u16)> {
    let first = engine.recognize(gray, dpi_hint);
    // A page with only a page number and a name has as little ink as a
    // back side with scanner dust; it is read before it is called blank.
    if little_ink && !has_real_text(&first) {
        return None;
    }
    // Tesseract reads a page stored sideways as vertical text, often with
    // high confidence; its words then stand upright in their boxes.
    let first_sideways = reads_sideways(&first);
    if !detect_orientation || (looks_upright(&first) && !first_sideways) {
        return Some((first, 0));
    }
    let Some(orientation) = engine.detect_orientation(gray, dpi_hint) else { return Some((first, 0)) };
    let turned = match orientation.rotate_clockwise_deg {
        90 => image::imageops::rotate90(gray),
        180 => image::imageops::rotate180(gray),
        270 => image::imageops::rotate270(gray),
        _ => return Some((first, 0)),
    };
    let second = engine.recognize(&turned, dpi_hint);
    let turned_reads_level = first_sideways && second.status == PageStatus::Ok && !reads_sideways(&second);
    if turned_reads_level || second.mean_confidence.unwrap_or(0.0) > first.mean_confidence.unwrap_or(0.0) {
        Some((second, orientation.rotate_clockwise_deg))
    } else {
        Some((first, 0))
    }
}

/// Whether a reading of a page with little ink found text a person wrote or
/// printed there: at least two words of two or more letters or digits,
/// read with high confidence. Dust and scanner noise read as short
/// fragments with low confidence.
fn has_real_text(text: &PageText) -> bool {
    let words = text
        .words
        .iter()
        .filter(|word| word.confidence >= 80.0 && word.text.chars().filter(|c| c.is_alphanumeric()).count() >= 2);
    words.count() >= 2
}

/// Whether most words of a reading stand taller than wide: lines running
/// down the page, i.e. a page stored turned by 90° or 270°.
fn reads_sideways(text: &PageText) -> bool {
    let (mut tall, mut counted) = (0usize, 0usize);
    for word in text.words.iter().filter(|word| word.text.chars().count() >= 3) {
        let [left, top, right, bottom] = word.bbox;
        counted += 1;
        if bottom.saturating_sub(top) > right.saturating_sub(left) {
            tall += 1;
        }
    }
    counted >= 3 && tall * 2 > counted
}

/// An upright page reads with good confidence; anything else gets a look
/// for orientation.
fn looks_upright(text: &PageText) -> bool {
    text.status == PageStatus::Ok
        && text.mean_confidence.is_some_and(|confidence| confidence >= ORIENTATION_CHECK_BELOW)
}

fn write_words(path: &Path, words: &[StoredWord]) -> Result<(), String> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    }
    let json = serde_json::to_vec(words).map_err(|error| error.to_string())?;
    std::fs::write(path, json).map_err(|error| format!("cannot write {}: {error}", path.display()))
}

/// Reads the word boxes the OCR stage wrote for a page.
pub fn read_words(
    pipeline: &Pipeline,
    batch_id: &str,
    record_id: &str,
    page_no: u32,
) -> Result<Vec<StoredWord>, String> {
    let path = pipeline.batch_dir(batch_id).join("ocr").join(record_id).join(format!("{page_no}.json"));
    let bytes = std::fs::read(&path).map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    serde_json::from_slice(&bytes).map_err(|error| format!("{}: {error}", path.display()))
}

/// The series of the batch's order.
fn batch_series(pipeline: &Pipeline, row: &BatchRow) -> Option<scan2dms_model::Series> {
    let order_id = row.order_id.as_ref()?.parse::<scan2dms_model::OrderId>().ok()?;
    Some(pipeline.store.order(&order_id).ok()??.series)
}

/// Types each document, reads its key fields, sends the unsure ones to
/// review and warns where a printed record key disagrees with the record
/// (the cover sheet's key first).
fn classify_documents(
    outcome: &mut OcrOutcome,
    pages: &[(&PageRecord, PageResult)],
    model: &scan2dms_classify::Model,
    series: scan2dms_model::Series,
    threshold: f64,
) {
    use scan2dms_classify::{DocumentKeys, extract_fields, record_key_mismatches};
    let text_of: BTreeMap<(&str, u32), &str> =
        pages.iter().map(|(page, result)| ((page.record_id.as_str(), page.page_no), result.text.as_str())).collect();
    let mut read: Vec<(usize, scan2dms_classify::Fields, bool)> = Vec::new();
    for (index, document) in outcome.documents.iter_mut().enumerate() {
        let text = document
            .page_nos
            .iter()
            .filter_map(|page_no| text_of.get(&(document.record_id.as_str(), *page_no)).copied())
            .collect::<Vec<_>>()
            .join("\u{c}");
        let fields = extract_fields(&text, series);
        let mut named = BTreeMap::new();
        if let Some(key) = fields.record_keys.first() {
            named.insert("record_key".to_owned(), key.clone());
        }
        if let Some(date) = fields.document_date {
            named.insert("document_date".to_owned(), date.to_string());
        }
        if let Some(tax_kind) = fields.tax_kind {
            named.insert("tax_kind".to_owned(), tax_kind.as_str().to_owned());
        }
        let (doc_type, confidence) = match model.classify(&text, series) {
            Ok(prediction) => (prediction.doc_type.as_str().to_owned(), prediction.confidence),
            // A model without the series' types cannot decide: a person does.
            Err(error) => {
                tracing::warn!(%error, "document not classified");
                ("schriftverkehr".to_owned(), 0.0)
            }
        };
        let needs_review = confidence < threshold;
        read.push((index, fields, doc_type == "deckblatt"));
        document.classification = Some(scan2dms_store::Classification {
            doc_type,
            confidence: confidence as f32,
            needs_review,
            fields: named,
        });
        if needs_review {
            let finding = Finding::new(
                WarningCode::LowClassificationConfidence,
                format!("document {} classified with confidence {confidence:.2}, sent to review", document.document_no),
            );
            outcome.warnings.push(finding.record(document.record_id.as_str()));
        }
    }
    let mut by_record: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (position, (index, _, _)) in read.iter().enumerate() {
        by_record.entry(outcome.documents[*index].record_id.clone()).or_default().push(position);
    }
    for (record_id, positions) in by_record {
        let Ok(record) = record_id.parse::<scan2dms_model::RecordId>() else { continue };
        let keys: Vec<DocumentKeys<'_>> = positions
            .iter()
            .map(|&position| DocumentKeys { is_cover: read[position].2, fields: &read[position].1 })
            .collect();
        for mismatch in record_key_mismatches(&record, &keys) {
            let document = &outcome.documents[read[positions[mismatch.document_index]].0];
            let finding = Finding::new(
                WarningCode::KeyMismatch,
                format!(
                    "document {}{} prints record key {}",
                    document.document_no,
                    if mismatch.is_cover { " (cover sheet)" } else { "" },
                    mismatch.printed_key
                ),
            );
            outcome.warnings.push(finding.record(record_id.as_str()));
        }
    }
}

/// Documents per record, and the warnings the stage owns.
fn split_and_warn(
    batch_id: &str,
    pages: &[(&PageRecord, PageResult)],
    keep_blank: bool,
    min_confidence: f32,
) -> OcrOutcome {
    let mut warnings = Vec::new();
    let mut by_record: BTreeMap<&str, Vec<PageFacts>> = BTreeMap::new();
    for (page, result) in pages {
        let locate = |finding: Finding<WarningCode>| {
            finding.record(page.record_id.as_str()).page(page.page_no).file(page.file.as_str())
        };
        if result.blank {
            let kept = if keep_blank { "kept in the e-file" } else { "left out of the e-file" };
            warnings.push(locate(Finding::new(WarningCode::BlankPage, format!("blank page, {kept}"))));
        }
        if result.rotation != 0 {
            warnings.push(locate(Finding::new(
                WarningCode::RotatedPage,
                format!("stored rotated {}° clockwise, turned upright", (360 - u32::from(result.rotation)) % 360),
            )));
        }
        if result.status == "ok" && result.confidence.is_some_and(|confidence| confidence < min_confidence) {
            warnings.push(locate(Finding::new(
                WarningCode::LowOcrConfidence,
                format!("mean confidence {:.0} below {min_confidence:.0}", result.confidence.unwrap_or(0.0)),
            )));
        }
        by_record.entry(page.record_id.as_str()).or_default().push(PageFacts {
            page_no: page.page_no,
            document_no: page.document_no,
            separator: result.separator,
            blank: result.blank,
        });
    }
    let blank_pages = if keep_blank { BlankPages::Keep } else { BlankPages::Drop };
    let text_of: BTreeMap<(&str, u32), &str> =
        pages.iter().map(|(page, result)| ((page.record_id.as_str(), page.page_no), result.text.as_str())).collect();
    let mut documents = Vec::new();
    for (record_id, mut facts) in by_record {
        facts.sort_by_key(|facts| facts.page_no);
        let (mut plans, notes) = split_record(&facts, blank_pages);
        for note in notes {
            tracing::info!(batch_id, record_id, ?note, "document split");
        }
        // Neither numbered nor separated: the pages themselves tell where a
        // document starts (letterheads, dates, "Seite 1 von n").
        let unmarked = facts.iter().all(|page| page.document_no.is_none() && !page.separator);
        if unmarked && let [plan] = plans.as_slice() {
            let texts: Vec<&str> = plan
                .page_nos
                .iter()
                .map(|page_no| text_of.get(&(record_id, *page_no)).copied().unwrap_or(""))
                .collect();
            let starts = scan2dms_classify::segment(&texts);
            if starts.len() > 1 {
                let mut bounds = starts.clone();
                bounds.push(plan.page_nos.len());
                plans = bounds
                    .windows(2)
                    .enumerate()
                    .map(|(index, range)| scan2dms_core::documents::DocumentPlan {
                        document_no: index as u32 + 1,
                        page_nos: plan.page_nos[range[0]..range[1]].to_vec(),
                    })
                    .collect();
                tracing::info!(batch_id, record_id, documents = plans.len(), "documents split by page evidence");
            }
        }
        documents.extend(plans.into_iter().map(|plan| DocumentRecord {
            batch_id: batch_id.to_owned(),
            record_id: record_id.to_owned(),
            document_no: plan.document_no,
            state: "ocr_done".to_owned(),
            page_nos: plan.page_nos,
            efile: None,
            dms: None,
            classification: None,
            review: None,
        }));
    }
    let pages = pages.iter().map(|(page, result)| (page.record_id.clone(), page.page_no, result.clone())).collect();
    OcrOutcome { pages, documents, warnings }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images").join(name)
    }

    fn analyse_file(path: &Path) -> PageResult {
        let page = PageRecord {
            record_id: "KZ-2610-8636363".to_owned(),
            page_no: 1,
            document_no: None,
            file: path.file_name().unwrap().to_string_lossy().into_owned(),
            file_page: 1,
            sha256: None,
            result: None,
        };
        let options = EngineOptions { page_timeout: Duration::from_secs(120), ..EngineOptions::default() };
        analyse_page(path, &page, &options, true, &scan2dms_imaging::Limits::default()).0
    }

    fn analyse_fixture(name: &str) -> PageResult {
        analyse_file(&fixture(name))
    }

    #[test]
    fn a_back_side_showing_the_front_through_is_blank_not_text() {
        let result = analyse_fixture("show-through-back.png");
        assert!(result.blank, "{result:?}");
        assert_eq!(result.status, "empty");
        assert_eq!(result.text, "");
    }

    #[test]
    fn a_printed_page_still_reads() {
        let result = analyse_fixture("g4-300dpi.tif");
        assert!(!result.blank);
        assert_eq!(result.status, "ok");
        assert!(result.text.split_whitespace().count() > 20, "{:?}", result.text);
    }

    #[test]
    fn a_back_side_with_stains_and_dust_is_blank() {
        let result = analyse_fixture("blank-back-with-marks.jpg");
        assert!(result.blank, "{result:?}");
        assert_eq!((result.status.as_str(), result.text.as_str()), ("empty", ""));
    }

    /// A single line of print on an otherwise white page has as little ink
    /// as a blank back; it is read, and its words are kept.
    #[test]
    fn a_page_with_one_line_of_print_is_read_not_called_blank() {
        let limits = scan2dms_imaging::Limits::default();
        let printed = scan2dms_imaging::decode_page(&fixture("g4-300dpi.tif"), 0, &limits).unwrap().gray;
        let (width, height) = printed.dimensions();
        // The page's first line (its letterhead) lies in rows 369..412, columns 273..763.
        let line = image::GrayImage::from_fn(width, height, |x, y| {
            if (360..420).contains(&y) && (260..780).contains(&x) {
                *printed.get_pixel(x, y)
            } else {
                image::Luma([255])
            }
        });
        assert!(is_blank(&line, &BlankOptions::default()), "the test page must have little ink");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("one-line.png");
        line.save(&path).unwrap();
        let result = analyse_file(&path);
        assert!(!result.blank, "{result:?}");
        assert_eq!(result.status, "ok");
        assert!(result.text.split_whitespace().count() >= 2, "{:?}", result.text);
    }
}
