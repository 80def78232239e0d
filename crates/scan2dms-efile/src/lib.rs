//! E-files: one searchable PDF/A-2b file per document, written from the page
//! images as delivered, an invisible OCR text layer and the provenance of the
//! document ([`write_efile`]), and the PDF/A rule checks that every e-file
//! can be run through ([`pdfa_checks::check_pdfa`]).
//!
//! Key decisions:
//! - **Hand-written PDF writer.** An e-file is a fixed, small object graph
//!   (catalog, pages, one image and one content stream per page, one font,
//!   XMP, ICC profile). Writing it directly gives byte-level control over the
//!   syntax rules of PDF/A (header, `obj`/`stream` spacing, xref) and streams
//!   the image bytes straight to the output. lopdf is used only to read files
//!   back in [`pdfa_checks`].
//! - **Images are not recompressed.** G4 becomes `/CCITTFaxDecode`, JPEG
//!   `/DCTDecode` with the delivered bytes unchanged; only raw pixels are
//!   deflated (lossless). The archive keeps what the contractor scanned.
//! - **PDF/A-2b, processing log in XMP.** PDF/A-3 would allow the log as an
//!   associated file, but it also allows arbitrary embedded files, which
//!   archive ingest policies commonly refuse; the log is a few text lines and
//!   fits the XMP as an `rdf:Seq` in our described extension schema
//!   (see [`xmp`]).
//! - **Upright pages, rotation in the content matrix.** The page's MediaBox
//!   is the upright page; the stored image is drawn through a rotating `cm`.
//!   So OCR word boxes (which are in upright coordinates) map to the page
//!   without any rotation, there is no `/Rotate`, and tools that ignore
//!   `/Rotate` still show the page upright.
//! - **Deterministic output.** No clock, no random: the same pages and
//!   provenance give the same bytes. The document ID is derived from the
//!   provenance (batch, record, document number, source hashes, time).
//!
//! What this crate does not do: OCR, image decoding, deskewing or
//! re-encoding pages (a page that needs it arrives as [`PageImage::Raw`]),
//! tagged PDF (PDF/A level A) or digital signatures.

mod font;
mod icc;
pub mod pdfa_checks;
mod writer;
pub mod xmp;

use std::io::Write;

pub use writer::write_efile;

/// The producer string that goes into the e-files of this build.
pub const PRODUCER: &str = concat!("scan2dms ", env!("CARGO_PKG_VERSION"));

/// One page as stored in the delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum PageImage {
    /// CCITT fax data (one strip), embedded as `/CCITTFaxDecode`. `k` is the
    /// PDF `/K`: -1 for G4, 0 for one-dimensional G3, positive for mixed G3.
    /// For a TIFF page, `black_is_1` is true when the TIFF says
    /// PhotometricInterpretation BlackIsZero (1) and false for WhiteIsZero (0).
    Ccitt { data: Vec<u8>, width: u32, height: u32, k: i32, black_is_1: bool, encoded_byte_align: bool },
    /// CCITT fax data in several strips, as TIFF files commonly store it
    /// (each strip is coded on its own, so the strips cannot be joined into
    /// one stream). Each strip becomes its own `/CCITTFaxDecode` image,
    /// drawn as a band of the page, still without recompression. Every strip
    /// holds `rows_per_strip` rows except the last, which holds the rest.
    CcittStrips {
        strips: Vec<Vec<u8>>,
        rows_per_strip: u32,
        width: u32,
        height: u32,
        k: i32,
        black_is_1: bool,
        encoded_byte_align: bool,
    },
    /// A baseline or progressive JPEG file with 1 (gray) or 3 (YCbCr/RGB)
    /// components, embedded byte for byte as `/DCTDecode`.
    Jpeg { data: Vec<u8>, width: u32, height: u32, components: u8 },
    /// Uncompressed pixels, rows top to bottom, deflated losslessly.
    Raw { pixels: Vec<u8>, width: u32, height: u32, color: RawColor },
}

/// Sample layout of [`PageImage::Raw`] pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawColor {
    /// One byte per pixel, 0 black, 255 white.
    Gray8,
    /// Three bytes per pixel, R G B.
    Rgb8,
    /// One bit per pixel, most significant bit first, each row padded to a
    /// whole byte, 0 black and 1 white.
    Bilevel,
}

/// One page of an e-file.
#[derive(Debug, Clone, PartialEq)]
pub struct EfilePage {
    pub image: PageImage,
    /// Resolution of the stored image, the same in both directions.
    pub dpi: f32,
    /// How far to turn the stored image clockwise so the page is upright:
    /// 0, 90, 180 or 270. Applied in the content matrix, never by re-encoding.
    pub rotate_clockwise_deg: u16,
    /// How far to turn the upright image anticlockwise about the page centre
    /// so its lines are level (within ±45°; 0 leaves it as it is). Also
    /// applied in the content matrix; word boxes stay in the coordinates of
    /// the image before this turn and are moved with it.
    pub deskew_deg: f32,
    /// OCR words in reading order.
    pub words: Vec<TextWord>,
}

/// One OCR word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextWord {
    pub text: String,
    /// `[left, top, right, bottom]` in pixels of the upright page, that is of
    /// the image as the OCR saw it after turning it by
    /// [`EfilePage::rotate_clockwise_deg`]; origin top left, right and
    /// bottom exclusive.
    pub bbox: [u32; 4],
    /// Line number on the page; words of one line share a baseline and font
    /// size in the text layer, so text extraction gives one line per OCR line.
    pub line: u32,
}

/// Where a document comes from, recorded in the e-file's XMP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provenance {
    pub batch_id: String,
    pub record_id: String,
    pub document_no: u32,
    /// Document title (Info `/Title` and `dc:title`); none is written when absent.
    pub title: Option<String>,
    pub sources: Vec<SourceFile>,
    /// Written as Info `/Producer`, `pdf:Producer`, `xmp:CreatorTool`; use [`PRODUCER`].
    pub producer: String,
    /// RFC 3339 date-time with seconds and an offset (`Z` or `+01:00`);
    /// fractions of a second are dropped.
    pub created: String,
    /// Processing log lines, embedded in the XMP.
    pub processing_log: Vec<String>,
}

/// A delivered file that pages of the document come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// Path inside the delivery, as in the manifest.
    pub path: String,
    /// Lowercase hex SHA-256 of the file.
    pub sha256: String,
    /// 1-based page numbers within the file that belong to this document.
    pub pages: Vec<u32>,
}

/// What was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfileSummary {
    pub bytes: u64,
    /// Lowercase hex SHA-256 of the whole e-file.
    pub sha256: String,
    pub pages: usize,
}

/// Why no e-file was written. Nothing about the input is partially written
/// before validation fails, except on [`EfileError::Io`].
#[derive(Debug, thiserror::Error)]
pub enum EfileError {
    #[error("a document needs at least one page")]
    NoPages,
    /// `page_no` is 1-based.
    #[error("page {page_no}: {reason}")]
    InvalidPage { page_no: usize, reason: String },
    #[error("provenance: {0}")]
    InvalidProvenance(String),
    #[error("cannot write e-file: {0}")]
    Io(#[from] std::io::Error),
}

/// Convenience for callers that want the e-file in memory.
pub fn write_efile_to_vec(pages: &[EfilePage], provenance: &Provenance) -> Result<(Vec<u8>, EfileSummary), EfileError> {
    let mut bytes = Vec::new();
    let summary = write_efile(pages, provenance, &mut bytes)?;
    bytes.flush()?;
    Ok((bytes, summary))
}
