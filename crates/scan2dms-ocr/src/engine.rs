//! [`Engine`]: one tesseract instance for one worker thread, loaded once and
//! reused for every page that thread recognises; orientation requests go to
//! one instance with the `osd` model that all engines of the process share.
//!
//! Key decisions:
//! - Engines are created under a process-wide lock. Tesseract keeps some
//!   parameters (e.g. `debug_file`) in globals that initialisation and
//!   `SetVariable` write; serialising creation makes that race-free and costs
//!   nothing measurable (about 0.12 s once per worker).
//! - Tesseract's diagnostic chatter ("Empty page!!", "Detected N
//!   diacritics") is sent to `/dev/null` once the model is loaded, so worker
//!   logs stay readable and carry no page content; a missing model is
//!   checked for before loading so that error still has a clear message.
//! - The deadline is a cancel callback on tesseract's progress monitor (see
//!   `ffi.rs`). It interrupts recognition between text lines; layout
//!   analysis before it (well under a second on a 300-dpi page) cannot be
//!   interrupted, so a page may overrun its limit by that much. Nothing keeps
//!   running after a timeout: the call returns, the engine is cleared and
//!   ready for the next page.
//! - After every page the engine drops the page's image and results
//!   (`TessBaseAPIClear`), so memory does not grow with the number of pages.
//! - The `osd` model is loaded once per process (per tessdata folder), on
//!   the first orientation request, and shared behind a lock. Loading it
//!   costs about a third of a second, detecting a page's orientation far
//!   less, and few pages need it: one instance per worker would load it
//!   once per worker for a handful of pages.
//!
//! It does not: rotate pages, retry, or run more than one page at a time.

use std::ffi::CString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::ffi::{self, RecognizeOutcome, TessApi};
use crate::{EngineOptions, OcrError, Orientation, PageStatus, PageText, page};

/// Tesseract rejects images narrower or lower than this (it cannot scale them).
const MIN_SIDE_PIXELS: u32 = 3;
/// Tesseract stores coordinates in 16-bit integers.
const MAX_SIDE_PIXELS: u32 = i16::MAX as u32;

/// Serialises engine initialisation (see the module header).
static INIT_LOCK: Mutex<()> = Mutex::new(());

/// The process's OSD engine for one tessdata folder; `Err` remembers why
/// loading failed, so it is not retried on every page.
type SharedOsd = Arc<Mutex<Result<TessApi, String>>>;

/// The OSD engines loaded so far, by tessdata folder (`None`: tesseract's
/// default). Nearly always one.
static OSD_ENGINES: Mutex<Vec<(Option<PathBuf>, SharedOsd)>> = Mutex::new(Vec::new());

/// The shared OSD engine for `tessdata_dir`, loaded on first use.
fn shared_osd(tessdata_dir: Option<&Path>) -> SharedOsd {
    // A poisoned lock only means another thread panicked while holding it;
    // the list stays consistent, as it is only ever pushed to.
    let mut engines = OSD_ENGINES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, osd)) = engines.iter().find(|(dir, _)| dir.as_deref() == tessdata_dir) {
        return Arc::clone(osd);
    }
    let loaded = load("osd", tessdata_dir, ffi::OEM_DEFAULT)
        .map(|mut api| {
            api.set_page_seg_mode(ffi::PSM_OSD_ONLY);
            api
        })
        .map_err(|error| error.to_string());
    let osd = Arc::new(Mutex::new(loaded));
    engines.push((tessdata_dir.map(Path::to_path_buf), Arc::clone(&osd)));
    osd
}

/// A loaded tesseract engine. `Send`, not `Sync`: keep one per thread.
#[derive(Debug)]
pub struct Engine {
    api: TessApi,
    options: EngineOptions,
    /// The process's OSD engine, once this engine has asked for it.
    osd: Option<SharedOsd>,
}

impl Engine {
    /// Loads `options.language` and sets the page segmentation mode.
    pub fn new(options: &EngineOptions) -> Result<Engine, OcrError> {
        let api = load(&options.language, options.tessdata_dir.as_deref(), ffi::OEM_LSTM_ONLY)?;
        let mut engine = Engine { api, options: options.clone(), osd: None };
        engine.api.set_page_seg_mode(options.page_seg_mode.as_tesseract());
        Ok(engine)
    }

    /// Changes the time limit for the following pages.
    pub fn set_page_timeout(&mut self, page_timeout: std::time::Duration) {
        self.options.page_timeout = page_timeout;
    }

    /// The options this engine was created with (and its current time limit).
    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Recognises one page. `dpi` is the page's resolution (0 when unknown:
    /// tesseract then estimates it from the text height). Never panics; the
    /// status tells what happened.
    pub fn recognize(&mut self, page: &image::GrayImage, dpi: u32) -> PageText {
        let (width, height) = page.dimensions();
        if let Some(problem) = size_problem(width, height) {
            return page::page_without_text(PageStatus::Failed, problem);
        }
        let started = Instant::now();
        let deadline = started.checked_add(self.options.page_timeout);
        self.api.set_image(page, (dpi > 0).then_some(dpi));
        let outcome = self.api.recognize_until(deadline);
        let result = match outcome {
            RecognizeOutcome::Finished => {
                let text = self.api.utf8_text();
                let words = self.api.words();
                // Leptonica: degrees clockwise to level; ours: anticlockwise.
                let skew = self.api.skew_of_binary_image().map(|(angle, _confidence)| -angle);
                page::finished_page(text, words, skew, width, height)
            }
            RecognizeOutcome::DeadlineExceeded { progress } => page::page_without_text(
                PageStatus::Timeout,
                format!(
                    "page recognition stopped at its time limit of {:.1} s after {:.1} s ({progress}% done)",
                    self.options.page_timeout.as_secs_f64(),
                    started.elapsed().as_secs_f64(),
                ),
            ),
            RecognizeOutcome::Failed { code } => {
                page::page_without_text(PageStatus::Failed, format!("tesseract recognition failed with code {code}"))
            }
        };
        self.api.clear();
        result
    }

    /// Detects how the page is turned, with tesseract's OSD model. `None`
    /// when the page has too little text to decide, is too small, or the
    /// `osd` model is missing (see [`Engine::try_detect_orientation`] for
    /// the reason). Not bound by the page time limit.
    pub fn detect_orientation(&mut self, page: &image::GrayImage, dpi: u32) -> Option<Orientation> {
        self.try_detect_orientation(page, dpi).ok().flatten()
    }

    /// As [`Engine::detect_orientation`], but a missing or unloadable `osd`
    /// model is an error rather than `None`.
    pub fn try_detect_orientation(
        &mut self,
        page: &image::GrayImage,
        dpi: u32,
    ) -> Result<Option<Orientation>, OcrError> {
        let tessdata_dir = self.options.tessdata_dir.as_deref();
        let osd = self.osd.get_or_insert_with(|| shared_osd(tessdata_dir));
        // Tesseract cannot have left the instance half-used: `clear` below
        // runs before the guard drops, and a Rust panic cannot happen inside
        // the C calls.
        let mut guard = osd.lock().unwrap_or_else(PoisonError::into_inner);
        let api = match &mut *guard {
            Ok(api) => api,
            Err(message) => return Err(OcrError::Osd { message: message.clone() }),
        };
        let (width, height) = page.dimensions();
        if size_problem(width, height).is_some() {
            return Ok(None);
        }
        api.set_image(page, (dpi > 0).then_some(dpi));
        let detected = api.detect_orientation();
        api.clear();
        Ok(detected.and_then(|(orient_deg, confidence)| {
            // Tesseract's `orient_deg` is how far the page content is turned
            // clockwise; turning the image back means the rest of the circle.
            let rotate_clockwise_deg = match orient_deg {
                0 => 0,
                90 => 270,
                180 => 180,
                270 => 90,
                _ => return None,
            };
            Some(Orientation { rotate_clockwise_deg, confidence })
        }))
    }
}

/// Why tesseract cannot take an image of this size, if it cannot.
fn size_problem(width: u32, height: u32) -> Option<String> {
    if width < MIN_SIDE_PIXELS || height < MIN_SIDE_PIXELS {
        return Some(format!(
            "image of {width}x{height} pixels is too small to recognise (at least {MIN_SIDE_PIXELS}x{MIN_SIDE_PIXELS})"
        ));
    }
    if width > MAX_SIDE_PIXELS || height > MAX_SIDE_PIXELS {
        return Some(format!(
            "image of {width}x{height} pixels exceeds tesseract's limit of {MAX_SIDE_PIXELS} pixels per side"
        ));
    }
    None
}

/// Checks and loads one model into a new tesseract instance.
fn load(language: &str, tessdata_dir: Option<&Path>, engine_mode: u32) -> Result<TessApi, OcrError> {
    let language_is_valid = !language.is_empty()
        && language
            .split('+')
            .all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    let c_language = ffi::c_string(language)
        .filter(|_| language_is_valid)
        .ok_or_else(|| OcrError::InvalidLanguage { language: language.to_owned() })?;
    let c_tessdata_dir: Option<CString> = match tessdata_dir {
        None => None,
        Some(dir) => {
            for part in language.split('+') {
                let model = dir.join(format!("{part}.traineddata"));
                if !model.is_file() {
                    return Err(OcrError::ModelNotFound { path: model });
                }
            }
            let invalid = || OcrError::InvalidTessdataDir { path: PathBuf::from(dir) };
            Some(dir.to_str().and_then(ffi::c_string).ok_or_else(invalid)?)
        }
    };
    // A poisoned lock only means another thread panicked while holding it;
    // the guarded state is tesseract's, which a Rust panic cannot corrupt.
    let _guard = INIT_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
    let mut api = TessApi::init(c_tessdata_dir.as_deref(), &c_language, engine_mode)
        .map_err(|code| OcrError::Init { language: language.to_owned(), code })?;
    if let (Some(name), Some(value)) = (ffi::c_string("debug_file"), ffi::c_string("/dev/null")) {
        // Best effort: if the parameter is unknown, tesseract keeps printing.
        let _ = api.set_variable(&name, &value);
    }
    Ok(api)
}
