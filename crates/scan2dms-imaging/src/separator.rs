//! Separator sheets: a page carrying a Code 128 barcode with the text
//! `DOCSEP` starts a new document (delivery format, section 2).
//!
//! Reading uses rxing's 1D decoders on the decoded gray page, restricted to
//! Code 128 so other barcodes on letters (franking, post codes) are not
//! mistaken for separators. Rows are scanned as stored (which also reads a
//! page stored upside down), then, only when nothing was found, on a copy
//! turned by 90° for sideways scans. rxing's "try harder" mode, which its
//! helper switches on unless told otherwise, scans a row every few pixels
//! and turns the page itself: about 150 ms a page here, a fifth of the time
//! tesseract needs for the page. The plain mode scans 15 rows spread about
//! the middle of the page, where the contract's separator sheet carries its
//! barcode; it reads every separator sheet of the corpus in all four
//! orientations, in about a tenth of the time.
//!
//! This module only answers "is this a separator sheet"; what a separator
//! means for document boundaries is decided by the pipeline.

use std::collections::HashSet;

use image::GrayImage;
use rxing::{BarcodeFormat, DecodeHints, helpers::detect_in_luma_slice_with_hints};

/// The barcode text of a separator sheet.
pub const SEPARATOR_TEXT: &str = "DOCSEP";

/// The text of the first Code 128 barcode found on the page, if any.
pub fn read_code128(page: &GrayImage) -> Option<String> {
    read_rows(page).or_else(|| read_rows(&image::imageops::rotate90(page)))
}

/// Scans the rows of the image as it is.
fn read_rows(page: &GrayImage) -> Option<String> {
    let (width, height) = page.dimensions();
    if width == 0 || height == 0 {
        return None;
    }
    // rxing is pure Rust, but a panic in it must not take a worker down.
    let result = std::panic::catch_unwind(|| {
        let mut hints = DecodeHints {
            PossibleFormats: Some(HashSet::from([BarcodeFormat::CODE_128])),
            TryHarder: Some(false),
            ..DecodeHints::default()
        };
        detect_in_luma_slice_with_hints(page.as_raw(), width, height, Some(BarcodeFormat::CODE_128), &mut hints)
    });
    match result {
        Ok(Ok(found)) => Some(found.getText().to_owned()),
        _ => None,
    }
}

/// Whether the page is a separator sheet.
pub fn is_separator(page: &GrayImage) -> bool {
    read_code128(page).is_some_and(|text| text.trim() == SEPARATOR_TEXT)
}
