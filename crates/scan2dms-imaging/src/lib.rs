//! Page images: find out what a contractor's image file is, how many pages it
//! holds and how big they are ([`probe`]), and turn one page into an 8-bit
//! grayscale raster ([`decode_page`]).
//!
//! Supported: TIFF (single and multi-page; CCITT G4, LZW, Deflate, PackBits,
//! JPEG, uncompressed; bitonal, gray and colour), PNG, JPEG, and image-only
//! PDF pages (DCTDecode, CCITTFaxDecode, FlateDecode or unfiltered samples).
//!
//! Key decisions:
//! - The format is sniffed from the magic bytes, never from the extension.
//! - Every input is hostile. The pixel count a header declares is checked
//!   against [`Limits::max_pixels`] before any pixel buffer is allocated, page
//!   walks are bounded by [`Limits::max_pages_per_file`], TIFF IFD chains that
//!   loop end in [`ImageError::Malformed`], and a panic inside a third-party
//!   decoder is caught and reported as [`ImageError::Malformed`] so a worker
//!   survives any file.
//! - [`decode_page`] reads only the requested page of a multi-page TIFF; the
//!   pixels of other pages are never decoded. (PDF is the exception for
//!   *parsing*: lopdf has no lazy loader, so the object graph of the whole
//!   file is read, but only the requested page's image is decompressed.)
//!
//! [`analysis`] measures what needs no OCR on a decoded page (ink, blank);
//! [`separator`] finds separator sheets by their Code 128 barcode.
//!
//! What this crate deliberately does not do: orientation and deskewing (they
//! need the OCR engine and work on [`DecodedPage::gray`]), colour
//! management (colour is reduced to Rec. 601 luma), and PDF rendering (pages
//! with vector content or text are not rasterised; only the largest image
//! drawn on a page is taken).

pub mod analysis;
mod bilevel;
pub mod embed;
mod pdf;
mod raster;
pub mod separator;
mod tiff_file;

use std::fmt;
use std::fs::File;
use std::io::Read;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

/// Bounds that keep one hostile image from taking a worker down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest `width * height` of one page that is decoded.
    pub max_pixels: u64,
    /// Largest number of pages counted or walked in one file.
    pub max_pages_per_file: u32,
}

impl Default for Limits {
    /// 64 megapixels (an A3 page at 500 dpi, about 190 MB as RGB) and
    /// 5000 pages per file.
    fn default() -> Limits {
        Limits { max_pixels: 64_000_000, max_pages_per_file: 5000 }
    }
}

/// An image container, as recognised by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Tiff,
    Png,
    Jpeg,
    Pdf,
}

impl Format {
    /// Lowercase name, as used in reports and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Tiff => "tiff",
            Format::Png => "png",
            Format::Jpeg => "jpeg",
            Format::Pdf => "pdf",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a page stores colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ColorKind {
    /// One bit per pixel, black and white.
    Bilevel,
    /// Grayscale with more than one bit per pixel.
    Gray,
    /// RGB, YCbCr or a palette.
    Rgb,
    /// CMYK, Lab, multi-band or anything else.
    Other,
}

/// What the headers say about one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageInfo {
    pub width: u32,
    pub height: u32,
    /// Horizontal resolution in dots per inch, when the file records one.
    pub dpi: Option<f32>,
    pub color: ColorKind,
    /// `ccitt_g4`, `ccitt_g3`, `lzw`, `deflate`, `packbits`, `jpeg`, `none`
    /// (TIFF); `png`; `jpeg`; `dct`, `ccitt_g4`, `ccitt_g3`, `deflate`,
    /// `none` (PDF).
    pub compression: String,
}

impl PageInfo {
    /// `width * height`, without overflow.
    pub fn pixel_count(&self) -> u64 {
        u64::from(self.width) * u64::from(self.height)
    }
}

/// What [`probe`] found in one file.
#[derive(Debug, Clone, PartialEq)]
pub struct FileInfo {
    pub format: Format,
    pub pages: Vec<PageInfo>,
}

/// One decoded page.
#[derive(Debug, Clone)]
pub struct DecodedPage {
    pub info: PageInfo,
    /// 8-bit luma, 0 is black, 255 is white.
    pub gray: image::GrayImage,
}

/// Why a file could not be probed or a page not decoded.
///
/// [`ImageError::Malformed`] and [`ImageError::Unsupported`] messages start
/// with the file name; the structured variants carry no path, so callers that
/// report them attach the file themselves.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("cannot read {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("unknown image format (not tiff, png, jpeg or pdf by its magic bytes)")]
    UnknownFormat,
    #[error("malformed image: {0}")]
    Malformed(String),
    #[error("image of {width}x{height} pixels exceeds the limit of {max_pixels} pixels")]
    TooLarge { width: u32, height: u32, max_pixels: u64 },
    #[error("file has more than {max_pages_per_file} pages")]
    TooManyPages { max_pages_per_file: u32 },
    #[error("page index {page_index} out of range, the file has {page_count} pages")]
    PageOutOfRange { page_index: usize, page_count: usize },
    #[error("unsupported image: {0}")]
    Unsupported(String),
}

/// Recognises an image container by its first bytes (at least 8 are needed
/// for PNG; fewer bytes never match it).
pub fn sniff_format(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        // Classic TIFF. BigTIFF (II+ / MM+) is accepted as well: the tiff
        // crate reads it and the contract does not exclude it.
        Some(Format::Tiff)
    } else if head.starts_with(b"II+\0") || head.starts_with(b"MM\0+") {
        Some(Format::Tiff)
    } else if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(Format::Png)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(Format::Jpeg)
    } else if head.starts_with(b"%PDF-") {
        Some(Format::Pdf)
    } else {
        None
    }
}

/// Reads the headers of `path`: its format and, per page, the dimensions,
/// resolution, colour kind and compression. No pixel data is decoded.
///
/// Errors with [`ImageError::TooLarge`] when any page declares more than
/// `limits.max_pixels` pixels and with [`ImageError::TooManyPages`] when the
/// file has more than `limits.max_pages_per_file` pages.
pub fn probe(path: &Path, limits: &Limits) -> Result<FileInfo, ImageError> {
    let format = sniff_file(path)?;
    let pages = guard_panics(path, || match format {
        Format::Tiff => tiff_file::probe(path, limits),
        Format::Png => raster::probe_png(path, limits).map(|page| vec![page]),
        Format::Jpeg => raster::probe_jpeg(path, limits).map(|page| vec![page]),
        Format::Pdf => pdf::probe(path, limits),
    })?;
    Ok(FileInfo { format, pages })
}

/// Decodes page `page_index` (0-based) of `path` into 8-bit grayscale.
///
/// The page's declared pixel count is checked against `limits.max_pixels`
/// before its pixel buffer is allocated.
pub fn decode_page(path: &Path, page_index: usize, limits: &Limits) -> Result<DecodedPage, ImageError> {
    let format = sniff_file(path)?;
    if page_index >= limits.max_pages_per_file as usize {
        return Err(ImageError::TooManyPages { max_pages_per_file: limits.max_pages_per_file });
    }
    guard_panics(path, || match format {
        Format::Tiff => tiff_file::decode_page(path, page_index, limits),
        Format::Png | Format::Jpeg => {
            if page_index > 0 {
                return Err(ImageError::PageOutOfRange { page_index, page_count: 1 });
            }
            raster::decode(path, format, limits)
        }
        Format::Pdf => pdf::decode_page(path, page_index, limits),
    })
}

fn sniff_file(path: &Path) -> Result<Format, ImageError> {
    let mut file = open(path)?;
    let mut head = [0u8; 8];
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
            Err(source) => {
                return Err(ImageError::Io { path: path.to_path_buf(), source });
            }
        }
    }
    sniff_format(&head[..filled]).ok_or(ImageError::UnknownFormat)
}

pub(crate) fn open(path: &Path) -> Result<File, ImageError> {
    File::open(path).map_err(|source| ImageError::Io { path: path.to_path_buf(), source })
}

pub(crate) fn io_error(path: &Path, source: std::io::Error) -> ImageError {
    ImageError::Io { path: path.to_path_buf(), source }
}

pub(crate) fn malformed(path: &Path, detail: impl fmt::Display) -> ImageError {
    ImageError::Malformed(format!("{}: {detail}", path.display()))
}

pub(crate) fn unsupported(path: &Path, detail: impl fmt::Display) -> ImageError {
    ImageError::Unsupported(format!("{}: {detail}", path.display()))
}

/// Checks a declared page size before anything is allocated for it.
pub(crate) fn check_pixels(width: u32, height: u32, limits: &Limits) -> Result<(), ImageError> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(ImageError::TooLarge { width, height, max_pixels: limits.max_pixels });
    }
    Ok(())
}

/// Runs a third-party parser or decoder and turns its panic into
/// [`ImageError::Malformed`].
///
/// Defence in depth: tiff, png, zune-jpeg, fax and lopdf are fuzzed, but a
/// decoder that panics on a hostile file must not take the worker (and the
/// rest of the batch) down with it. `catch_unwind` is safe code; nothing
/// observable leaks out of the closure except its result, so asserting unwind
/// safety is sound here.
pub(crate) fn guard_panics<T>(path: &Path, work: impl FnOnce() -> Result<T, ImageError>) -> Result<T, ImageError> {
    match catch_unwind(AssertUnwindSafe(work)) {
        Ok(result) => result,
        Err(payload) => {
            let message = payload
                .downcast_ref::<&str>()
                .map(|text| (*text).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_owned());
            Err(malformed(path, format_args!("decoder panicked: {message}")))
        }
    }
}
