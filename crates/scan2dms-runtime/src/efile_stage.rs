//! The e-file stage: one searchable PDF/A per document, with the page images
//! as delivered (G4 and JPEG embedded unchanged, anything else losslessly),
//! the OCR words as an invisible text layer, and the provenance.
//!
//! Files go to `batches/<id>/efiles/<record>/<document_no>.pdf`, written
//! under a temporary name and renamed, so a crash never leaves half a file
//! under the final name. The store learns each file's path, size and
//! SHA-256 in the transaction that ends the stage.

use std::collections::{BTreeMap, HashMap};

use rayon::prelude::*;
use scan2dms_core::{Event, StageOutcome, step};
use scan2dms_efile::{EfilePage, PageImage, Provenance, RawColor, SourceFile, TextWord, write_efile_to_vec};
use scan2dms_imaging::embed::{EncodedPage, colour_pixels, encoded_page};
use scan2dms_store::{BatchRow, DocumentRecord, EfileRecord, PageRecord};

use crate::ocr_stage::{bag_root, read_words};
use crate::{Observer, Pipeline, now_ms};

/// Smaller measured skew is left alone: it is below what the eye sees and
/// within the measurement's error (about 0.05° on the corpus).
const MIN_DESKEW_DEG: f32 = 0.1;

pub fn run(pipeline: &Pipeline, row: &BatchRow, _observer: &dyn Observer) -> Result<StageOutcome, String> {
    let bag = bag_root(pipeline, row)?;
    let documents = pipeline.store.documents(Some(&row.batch_id)).map_err(|error| error.to_string())?;
    let pages = pipeline.store.pages(&row.batch_id).map_err(|error| error.to_string())?;
    let pages: HashMap<(&str, u32), &PageRecord> =
        pages.iter().map(|page| ((page.record_id.as_str(), page.page_no), page)).collect();
    let titles = record_titles(pipeline, &row.batch_id);

    let efiles: Vec<Result<(String, u32, EfileRecord), String>> = pipeline.cpu_pool().install(|| {
        documents
            .par_iter()
            .map(|document| {
                let efile =
                    write_document(pipeline, row, &bag, document, &pages, titles.get(&document.record_id).cloned())?;
                Ok((document.record_id.clone(), document.document_no, efile))
            })
            .collect()
    });
    let efiles: Vec<(String, u32, EfileRecord)> = efiles.into_iter().collect::<Result<_, _>>()?;
    let (next, _) = step(&row.batch, now_ms(), &Event::Succeeded(StageOutcome::Completed), &pipeline.config.retry)
        .map_err(|error| error.to_string())?;
    pipeline
        .store
        .finish_efiles(&row.batch_id, &row.batch, &next, &efiles, now_ms())
        .map_err(|error| error.to_string())?;
    Ok(StageOutcome::Completed)
}

/// Record titles for the PDF title, from the batch's records.csv rows.
fn record_titles(pipeline: &Pipeline, batch_id: &str) -> HashMap<String, String> {
    pipeline.store.batch_records(batch_id).unwrap_or_default().into_iter().collect()
}

fn write_document(
    pipeline: &Pipeline,
    row: &BatchRow,
    bag: &std::path::Path,
    document: &DocumentRecord,
    pages: &HashMap<(&str, u32), &PageRecord>,
    title: Option<String>,
) -> Result<EfileRecord, String> {
    let limits = crate::validate_options(&pipeline.config).image_limits;
    let mut efile_pages = Vec::with_capacity(document.page_nos.len());
    let mut sources: BTreeMap<String, (String, Vec<u32>)> = BTreeMap::new();
    let mut log = vec![format!(
        "batch {} accepted; record {} document {}",
        row.batch_id, document.record_id, document.document_no
    )];
    for &page_no in &document.page_nos {
        let page = pages
            .get(&(document.record_id.as_str(), page_no))
            .ok_or_else(|| format!("record {} has no page {page_no}", document.record_id))?;
        let path = bag.join("data").join(&page.file);
        let image = page_image(&path, page.file_page as usize - 1, &limits)?;
        let result = page.result.as_ref();
        let words = read_words(pipeline, &row.batch_id, &page.record_id, page_no)?
            .into_iter()
            .map(|word| TextWord { text: word.text, bbox: word.bbox, line: word.line })
            .collect();
        let dpi = result.and_then(|result| result.dpi).unwrap_or(300.0);
        efile_pages.push(EfilePage {
            image,
            dpi,
            rotate_clockwise_deg: result.map_or(0, |result| result.rotation),
            deskew_deg: result
                .and_then(|result| result.skew)
                .filter(|skew| skew.abs() >= MIN_DESKEW_DEG)
                .unwrap_or(0.0),
            words,
        });
        let entry = sources
            .entry(format!("data/{}", page.file))
            .or_insert_with(|| (page.sha256.clone().unwrap_or_default(), Vec::new()));
        entry.1.push(page.file_page);
        if let Some(result) = result {
            let confidence = result.confidence.map_or_else(|| "-".to_owned(), |confidence| format!("{confidence:.0}"));
            log.push(format!(
                "page {page_no} from {} page {}: ocr {} confidence {confidence} rotation {} skew {}",
                page.file,
                page.file_page,
                result.status,
                result.rotation,
                result.skew.map_or_else(|| "-".to_owned(), |skew| format!("{skew:.2}"))
            ));
        }
    }
    let provenance = Provenance {
        batch_id: row.batch_id.clone(),
        record_id: document.record_id.clone(),
        document_no: document.document_no,
        title,
        sources: sources.into_iter().map(|(path, (sha256, pages))| SourceFile { path, sha256, pages }).collect(),
        producer: scan2dms_efile::PRODUCER.to_owned(),
        created: jiff::Timestamp::now().round(jiff::Unit::Second).map_or_else(|_| String::new(), |at| at.to_string()),
        processing_log: log,
    };
    let (bytes, summary) = write_efile_to_vec(&efile_pages, &provenance).map_err(|error| {
        format!("e-file of record {} document {}: {error}", document.record_id, document.document_no)
    })?;
    let relative = format!("batches/{}/efiles/{}/{}.pdf", row.batch_id, document.record_id, document.document_no);
    let target = pipeline.data_dir.join(&relative);
    let parent = target.parent().ok_or_else(|| format!("no parent for {}", target.display()))?;
    std::fs::create_dir_all(parent).map_err(|error| format!("cannot create {}: {error}", parent.display()))?;
    let temporary = target.with_extension("pdf.tmp");
    std::fs::write(&temporary, &bytes).map_err(|error| format!("cannot write {}: {error}", temporary.display()))?;
    std::fs::rename(&temporary, &target).map_err(|error| format!("cannot rename {}: {error}", temporary.display()))?;
    Ok(EfileRecord { path: relative, sha256: summary.sha256, bytes: summary.bytes })
}

/// The stored image when it can be embedded unchanged, else the decoded
/// samples (lossless): colour pages in colour, bitonal pages as 1 bit.
fn page_image(
    path: &std::path::Path,
    page_index: usize,
    limits: &scan2dms_imaging::Limits,
) -> Result<PageImage, String> {
    let info = scan2dms_imaging::probe(path, limits).map_err(|error| error.to_string())?;
    match encoded_page(path, &info, page_index, limits).map_err(|error| error.to_string())? {
        Some(EncodedPage::Jpeg { data, width, height, components }) => {
            return Ok(PageImage::Jpeg { data, width, height, components });
        }
        Some(EncodedPage::CcittG4 { mut bands, width, height, black_is_1, encoded_byte_align }) => {
            if bands.len() == 1 {
                let band = bands.remove(0);
                return Ok(PageImage::Ccitt { data: band.data, width, height, k: -1, black_is_1, encoded_byte_align });
            }
            let rows_per_strip = bands[0].rows;
            if bands.iter().rev().skip(1).all(|band| band.rows == rows_per_strip) {
                let strips = bands.into_iter().map(|band| band.data).collect();
                return Ok(PageImage::CcittStrips {
                    strips,
                    rows_per_strip,
                    width,
                    height,
                    k: -1,
                    black_is_1,
                    encoded_byte_align,
                });
            }
        }
        None => {}
    }
    if let Some(colour) = colour_pixels(path, &info, page_index, limits).map_err(|error| error.to_string())? {
        let (width, height) = colour.dimensions();
        return Ok(PageImage::Raw { pixels: colour.into_raw(), width, height, color: RawColor::Rgb8 });
    }
    let decoded = scan2dms_imaging::decode_page(path, page_index, limits).map_err(|error| error.to_string())?;
    let (width, height) = decoded.gray.dimensions();
    if decoded.info.color == scan2dms_imaging::ColorKind::Bilevel {
        return Ok(PageImage::Raw { pixels: pack_bilevel(&decoded.gray), width, height, color: RawColor::Bilevel });
    }
    Ok(PageImage::Raw { pixels: decoded.gray.into_raw(), width, height, color: RawColor::Gray8 })
}

/// One bit per pixel, MSB first, rows padded to bytes, 1 white.
fn pack_bilevel(gray: &image::GrayImage) -> Vec<u8> {
    let (width, height) = gray.dimensions();
    let row_bytes = (width as usize).div_ceil(8);
    let mut packed = vec![0u8; row_bytes * height as usize];
    for (y, row) in gray.as_raw().chunks_exact(width as usize).enumerate() {
        for (x, &luma) in row.iter().enumerate() {
            if luma >= 128 {
                packed[y * row_bytes + x / 8] |= 0x80 >> (x % 8);
            }
        }
    }
    packed
}
