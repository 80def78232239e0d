//! A page's image data as the file stores it, for embedding in a PDF without
//! recompression: CCITT G4 stays CCITT (`/CCITTFaxDecode`), JPEG stays JPEG
//! (`/DCTDecode`), byte for byte. An archive copy of a scan must not lose
//! image data to a re-encode.
//!
//! Only streams a PDF reader can take as they are qualify: G4 TIFF pages in
//! the usual bit order (each strip is a G4 stream of its own, so a page of
//! several strips becomes several bands), a JPEG file with gray or RGB
//! samples, a PDF page image with a single DCT or G4 filter. Everything else
//! (LZW or Deflate TIFF, PNG, JPEG inside TIFF, CMYK) returns `None`, and the
//! caller embeds the decoded samples losslessly instead.

use std::path::Path;

use crate::{ColorKind, Format, ImageError, Limits};

/// An encoded page image that a PDF can embed unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodedPage {
    /// CCITT Group 4 data in horizontal bands from top to bottom, each an
    /// independent G4 stream of `rows` rows (one band for a PDF image or a
    /// single-strip TIFF). `black_is_1` as in PDF's CCITTFaxDecode.
    CcittG4 { bands: Vec<CcittBand>, width: u32, height: u32, black_is_1: bool, encoded_byte_align: bool },
    /// A complete JPEG stream (baseline or progressive) with 1 or 3 components.
    Jpeg { data: Vec<u8>, width: u32, height: u32, components: u8 },
}

/// One band of a G4 page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CcittBand {
    pub data: Vec<u8>,
    pub rows: u32,
}

/// The page's stored stream when it can be embedded unchanged, else `None`.
/// `info` is the file's [`crate::probe`], which callers usually have.
pub fn encoded_page(
    path: &Path,
    info: &crate::FileInfo,
    page_index: usize,
    limits: &Limits,
) -> Result<Option<EncodedPage>, ImageError> {
    let Some(page) = info.pages.get(page_index) else {
        return Err(ImageError::PageOutOfRange { page_index, page_count: info.pages.len() });
    };
    match info.format {
        Format::Jpeg => {
            let components = match page.color {
                ColorKind::Gray => 1,
                ColorKind::Rgb => 3,
                _ => return Ok(None),
            };
            let data = std::fs::read(path).map_err(|source| crate::io_error(path, source))?;
            Ok(Some(EncodedPage::Jpeg { data, width: page.width, height: page.height, components }))
        }
        // The TIFF and PDF readers are third-party code on contractor bytes:
        // a panic in them is a malformed page, as in decoding.
        Format::Tiff => crate::guard_panics(path, || crate::tiff_file::g4_bands(path, page_index)),
        Format::Pdf => crate::guard_panics(path, || crate::pdf::encoded_image(path, page_index, limits)),
        Format::Png => Ok(None),
    }
}

/// The page's pixels in colour, for a colour page that cannot be embedded
/// as stored (PNG; a TIFF with RGB samples; a PDF image with
/// Flate-compressed RGB samples or a colour table), so the e-file keeps its
/// colour losslessly. `None` for gray and bitonal pages and for formats
/// without a colour path here (their colour pages are JPEG, which is
/// embedded as stored).
pub fn colour_pixels(
    path: &Path,
    info: &crate::FileInfo,
    page_index: usize,
    limits: &Limits,
) -> Result<Option<image::RgbImage>, ImageError> {
    let Some(page) = info.pages.get(page_index) else {
        return Err(ImageError::PageOutOfRange { page_index, page_count: info.pages.len() });
    };
    if page.color != ColorKind::Rgb {
        return Ok(None);
    }
    match info.format {
        Format::Png => {
            let file = crate::open(path)?;
            let mut reader = image::ImageReader::with_format(std::io::BufReader::new(file), image::ImageFormat::Png);
            reader.limits(crate::raster::image_limits(limits));
            let decoded = crate::guard_panics(path, || {
                reader.decode().map_err(|error| crate::malformed(path, format_args!("png: {error}")))
            })?;
            Ok(Some(decoded.into_rgb8()))
        }
        Format::Tiff => crate::guard_panics(path, || crate::tiff_file::rgb_page(path, page_index, limits)),
        Format::Pdf => crate::guard_panics(path, || crate::pdf::rgb_page(path, page_index, limits)),
        Format::Jpeg => Ok(None),
    }
}
