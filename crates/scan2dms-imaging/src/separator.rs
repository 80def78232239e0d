//! Separator sheets: a page carrying a Code 128 barcode with the text
//! `DOCSEP` starts a new document (delivery format, section 2).
//!
//! Reading uses rxing's 1D decoders on the decoded gray page, restricted to
//! Code 128 so other barcodes on letters (franking, post codes) are not
//! mistaken for separators. Rows are scanned as stored (which also reads a
//! page stored upside down), then, only when nothing was found, across the
//! page for sideways scans: the 15 columns rxing would scan as rows on a
//! copy turned by 90°, taken without turning the whole page (turning an A4
//! page at 300 dpi cost 4 % of a whole run's CPU, more than the scan of
//! its rows). rxing's "try harder" mode, which its
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
    read_rows(page).or_else(|| read_rows(&sideways_rows(page)))
}

/// Rows rxing's plain mode scans: 15, `height / 32` apart, about the middle.
const PLAIN_ROWS: u32 = 15;

/// The rows rxing's plain mode would scan on the page turned clockwise by
/// 90°, in their order, as an image of their own; rxing scans all of them
/// on it, so it reads exactly what it would read on the turned page. Row
/// `r` of the turned page is column `r` of the page, read bottom up.
fn sideways_rows(page: &GrayImage) -> GrayImage {
    let (width, height) = page.dimensions();
    // On the turned page, `width` is the height.
    let (middle, step) = (width / 2, (width >> 5).max(1));
    let half = PLAIN_ROWS / 2;
    if middle < half * step || middle + half * step >= width {
        // Too narrow for all 15 (a few dozen pixels): turn it, it is cheap.
        return image::imageops::rotate90(page);
    }
    let mut rows = GrayImage::new(height, PLAIN_ROWS);
    for row in 0..PLAIN_ROWS {
        let column = middle + row * step - half * step;
        for y in 0..height {
            rows.put_pixel(height - 1 - y, row, *page.get_pixel(column, y));
        }
    }
    rows
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The narrow image holds exactly the rows of the turned page that
    /// rxing's plain mode scans there, in the order of the page.
    #[test]
    fn sideways_rows_are_the_rows_rxing_scans_on_the_turned_page() {
        let page = GrayImage::from_fn(701, 993, |x, y| image::Luma([((x * 7 + y * 13) % 251) as u8]));
        let turned = image::imageops::rotate90(&page);
        let rows = sideways_rows(&page);
        assert_eq!(rows.dimensions(), (turned.width(), PLAIN_ROWS));
        let (middle, step) = (turned.height() / 2, (turned.height() >> 5).max(1));
        for row in 0..PLAIN_ROWS {
            let source = middle + row * step - (PLAIN_ROWS / 2) * step;
            for x in 0..turned.width() {
                assert_eq!(rows.get_pixel(x, row), turned.get_pixel(x, source), "row {row}, x {x}");
            }
        }
        // On the narrow image rxing steps one row at a time (15 >> 5 is 0,
        // made 1) from the middle out: it scans all 15.
        // Too narrow for 15 rows: the whole page, turned.
        let tiny = GrayImage::new(10, 30);
        assert_eq!(sideways_rows(&tiny).dimensions(), (30, 10));
    }
}
