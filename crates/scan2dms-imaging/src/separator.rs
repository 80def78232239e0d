//! Separator sheets: a page carrying a Code 128 barcode with the text
//! `DOCSEP` starts a new document (delivery format, section 2).
//!
//! Reading uses rxing's 1D decoders on the decoded gray page, restricted to
//! Code 128 so other barcodes on letters (franking, post codes) are not
//! mistaken for separators. The reader also tries the page turned by 90°,
//! since rough batches hold sideways scans.
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
    let (width, height) = page.dimensions();
    if width == 0 || height == 0 {
        return None;
    }
    // rxing is pure Rust, but a panic in it must not take a worker down.
    let result = std::panic::catch_unwind(|| {
        let mut hints = DecodeHints {
            PossibleFormats: Some(HashSet::from([BarcodeFormat::CODE_128])),
            TryHarder: Some(true),
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
