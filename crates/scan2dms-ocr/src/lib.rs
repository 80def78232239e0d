//! OCR of page images through libtesseract's C API: an [`Engine`] per worker
//! thread, created once and reused for many pages, that turns an 8-bit
//! grayscale page into text, word boxes with confidences and a
//! [`PageStatus`], and detects page orientation (tesseract OSD).
//!
//! Key decisions:
//! - Raw `tesseract-sys` bindings behind a small safe wrapper (`ffi.rs`, the
//!   only module with `unsafe`), not the `tesseract` crate: its safe API
//!   cannot pass the progress monitor that carries the per-page deadline,
//!   and has no orientation detection.
//! - The page segmentation mode is set explicitly (default
//!   [`PageSegMode::Auto`], the CLI's default): the C API would otherwise use
//!   mode 6, which is less accurate on skewed scans.
//! - A page never ends silently empty: a page with no words is
//!   [`PageStatus::Empty`], an engine error [`PageStatus::Failed`] with a
//!   detail, a page over its time limit [`PageStatus::Timeout`].
//!   [`Engine::recognize`] does not panic on any input.
//! - Tesseract must run single-threaded (one engine per core is faster than
//!   OpenMP inside one engine, about 1.7 s against 12.8 s per page here), and
//!   libgomp only reads `OMP_THREAD_LIMIT` when it is loaded:
//!   [`ensure_single_threaded_openmp`] re-executes the binary with it set.
//!
//! What it does not do: decoding, binarisation beyond tesseract's own Otsu,
//! deskewing or rotating pages (the caller turns a page by
//! [`Orientation::rotate_clockwise_deg`]), blank-page detection from pixels
//! (a bleed-through blank page can yield low-confidence garbage words and
//! status `Ok`; see [`PageStatus::Empty`]), and PDF output.

mod engine;
// The FFI to libtesseract; the only module allowed `unsafe` (the workspace
// denies it everywhere else).
#[allow(unsafe_code)]
mod ffi;
mod openmp;
mod page;
pub mod quality;

use std::path::PathBuf;
use std::time::Duration;

pub use engine::Engine;
pub use openmp::ensure_single_threaded_openmp;

/// How an [`Engine`] is set up; fixed for its lifetime.
#[derive(Debug, Clone, PartialEq)]
pub struct EngineOptions {
    /// Tesseract language model(s), e.g. `deu` or `deu+eng`.
    pub language: String,
    /// Layout analysis mode; [`PageSegMode::Auto`] by default.
    pub page_seg_mode: PageSegMode,
    /// Time limit for recognising one page. `Duration::ZERO` makes every
    /// page with text time out (useful only in tests).
    pub page_timeout: Duration,
    /// Folder holding `<language>.traineddata` (and `osd.traineddata` for
    /// orientation); tesseract's default search path when `None`.
    pub tessdata_dir: Option<PathBuf>,
}

impl Default for EngineOptions {
    /// German, automatic page segmentation, 60 s per page (a clean 300-dpi
    /// page takes about 2 s single-threaded), tesseract's default model path.
    fn default() -> EngineOptions {
        EngineOptions {
            language: "deu".to_owned(),
            page_seg_mode: PageSegMode::Auto,
            page_timeout: Duration::from_secs(60),
            tessdata_dir: None,
        }
    }
}

/// Tesseract's page segmentation modes that make sense for whole pages or
/// regions of them (the numbers are tesseract's `--psm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum PageSegMode {
    /// 3: fully automatic layout analysis (the CLI's default). Measured more
    /// accurate on skewed or noisy scans than `SingleBlock`.
    #[default]
    Auto,
    /// 4: a single column of text of variable sizes.
    SingleColumn,
    /// 6: a single uniform block of text (the C API's default, about 15%
    /// faster than `Auto`).
    SingleBlock,
    /// 11: as much text as possible in no particular order.
    SparseText,
}

impl PageSegMode {
    /// Tesseract's number for the mode.
    pub fn as_tesseract(self) -> u32 {
        match self {
            PageSegMode::Auto => 3,
            PageSegMode::SingleColumn => 4,
            PageSegMode::SingleBlock => 6,
            PageSegMode::SparseText => 11,
        }
    }
}

/// The outcome of recognising one page.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PageStatus {
    /// Recognition finished and found at least one word.
    Ok,
    /// Recognition finished and found no word (e.g. a clean blank page).
    /// A blank page with bleed-through or heavy noise may instead give `Ok`
    /// with a few low-confidence words: the engine reports what tesseract
    /// read; telling blank pages apart by their pixels is the imaging step's
    /// job.
    Empty,
    /// The engine could not recognise the page; [`PageText::detail`] says why.
    Failed,
    /// The page time limit was reached; text and words are left empty.
    Timeout,
}

impl PageStatus {
    /// `ok`, `empty`, `failed` or `timeout`, as in reports and JSON.
    pub fn as_str(&self) -> &'static str {
        match self {
            PageStatus::Ok => "ok",
            PageStatus::Empty => "empty",
            PageStatus::Failed => "failed",
            PageStatus::Timeout => "timeout",
        }
    }
}

/// Text and words of one page.
#[derive(Debug, Clone, PartialEq)]
pub struct PageText {
    pub status: PageStatus,
    /// Tesseract's plain-text rendering (what `tesseract page -` prints);
    /// empty unless the status is `Ok`.
    pub text: String,
    /// The words in reading order; whitespace-only "words" tesseract reports
    /// for image regions are left out.
    pub words: Vec<Word>,
    /// Mean of the word confidences weighted by word length (0–100); `None`
    /// when there are no words.
    pub mean_confidence: Option<f32>,
    /// How far the text is skewed, in degrees: turning the image
    /// anticlockwise by this much levels its lines. Measured by leptonica on
    /// the binary image tesseract made for this recognition (no second
    /// thresholding); `None` without words or when there are no lines to
    /// measure.
    pub skew_deg: Option<f32>,
    /// Why a page failed or timed out; `None` for `Ok` and `Empty`.
    pub detail: Option<String>,
}

/// One recognised word.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    /// left, top, right, bottom in pixels of the input image, right and
    /// bottom exclusive; always within the image.
    pub bbox: [u32; 4],
    /// Tesseract's word confidence, 0–100.
    pub confidence: f32,
    /// Index of the word's text line within the page, from 0, in reading
    /// order, without gaps; words of one line share it.
    pub line: u32,
}

/// What orientation detection found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Orientation {
    /// 0, 90, 180 or 270: how far to turn the stored image clockwise to make
    /// it upright (a page stored turned 90° clockwise gives 270).
    pub rotate_clockwise_deg: u16,
    /// Tesseract's orientation confidence (not a probability). Text pages of
    /// the corpus measured 7–19; a noise image about 2. Callers should
    /// demand a minimum (e.g. 5) before rotating.
    pub confidence: f32,
}

/// Why an engine could not be created or a model not loaded.
#[derive(Debug, thiserror::Error)]
pub enum OcrError {
    #[error("invalid language {language:?}: expected model names like deu or deu+eng")]
    InvalidLanguage { language: String },
    #[error("invalid tessdata directory {}: the path contains a nul byte or is not utf-8", path.display())]
    InvalidTessdataDir { path: PathBuf },
    #[error("tesseract model {} not found", path.display())]
    ModelNotFound { path: PathBuf },
    #[error("orientation detection unavailable: {message}")]
    Osd { message: String },
    #[error("tesseract could not load model {language:?} (code {code}); is its traineddata installed?")]
    Init { language: String, code: i32 },
}
