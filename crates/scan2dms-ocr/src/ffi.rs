//! The only module with `unsafe`: a minimal owning wrapper around one
//! `TessBaseAPI` handle of libtesseract's C API.
//!
//! Key decisions:
//! - [`TessApi`] owns its handle and deletes it on drop; every method takes
//!   `&mut self` (or `&self` for read-only calls), so Rust's borrow rules give
//!   the single-threaded access tesseract requires. It is `Send` (the handle
//!   has no thread affinity) but not `Sync`.
//! - The per-page deadline uses the `ETEXT_DESC` monitor: a cancel callback
//!   that compares `Instant::now()` with the deadline and records that it
//!   fired. Tesseract asks it before each word (in LSTM mode: each text line)
//!   of recognition and then stops and returns with the remaining words faked
//!   out. The callback's state lives on the stack of
//!   [`TessApi::recognize_until`], which outlives the call to
//!   `TessBaseAPIRecognize`, the only place that can invoke it.
//! - Every string tesseract allocates is copied into a Rust `String` and freed
//!   with `TessDeleteText` at once; iterators are deleted before returning.
//!
//! It does not: decide page status, filter words or know about options; that
//! is `engine.rs`. It does not expose raw pointers outside this module.

use std::cell::Cell;
use std::ffi::{CStr, CString, c_char, c_int, c_void};
use std::ptr;
use std::time::Instant;

use tesseract_sys as sys;

/// One word as tesseract's result iterator reports it.
#[derive(Debug, Clone)]
pub(crate) struct RawWord {
    pub text: String,
    /// left, top, right, bottom (right and bottom exclusive), input pixels.
    pub bbox: [i32; 4],
    pub confidence: f32,
    /// Running count of text lines seen so far, starting at 0.
    pub line: u32,
}

/// What `TessBaseAPIRecognize` did under a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecognizeOutcome {
    Finished,
    /// The deadline passed; `progress` is tesseract's percentage at that point.
    DeadlineExceeded {
        progress: i32,
    },
    /// Tesseract returned an error code without our callback cancelling it.
    Failed {
        code: i32,
    },
}

/// An initialised `TessBaseAPI`.
#[derive(Debug)]
pub(crate) struct TessApi {
    handle: ptr::NonNull<sys::TessBaseAPI>,
}

// SAFETY: a TessBaseAPI instance has no thread affinity (no thread-locals,
// no thread-bound resources); tesseract's rule is one thread at a time per
// instance, which `&mut self` on every mutating method and the absence of a
// `Sync` impl guarantee.
unsafe impl Send for TessApi {}

/// The page segmentation modes this crate passes through, as tesseract's numbers.
pub(crate) const PSM_OSD_ONLY: u32 = sys::TessPageSegMode_PSM_OSD_ONLY;

pub(crate) const OEM_LSTM_ONLY: u32 = sys::TessOcrEngineMode_OEM_LSTM_ONLY;
pub(crate) const OEM_DEFAULT: u32 = sys::TessOcrEngineMode_OEM_DEFAULT;

impl TessApi {
    /// Creates a handle and loads `language` from `datapath` (tesseract's
    /// default search path when `None`). On failure returns tesseract's
    /// return code; the handle is freed.
    pub(crate) fn init(datapath: Option<&CStr>, language: &CStr, engine_mode: u32) -> Result<TessApi, i32> {
        // SAFETY: TessBaseAPICreate has no preconditions; it returns a new
        // heap object or null on allocation failure.
        let raw = unsafe { sys::TessBaseAPICreate() };
        let handle = ptr::NonNull::new(raw).ok_or(-1)?;
        let api = TessApi { handle };
        let datapath_ptr = datapath.map_or(ptr::null(), CStr::as_ptr);
        // SAFETY: the handle is valid; both strings are NUL-terminated and
        // outlive the call (tesseract copies them). A null datapath is
        // documented as "use the default".
        let code = unsafe { sys::TessBaseAPIInit2(api.handle.as_ptr(), datapath_ptr, language.as_ptr(), engine_mode) };
        if code != 0 {
            return Err(code); // `api` is dropped here, which deletes the handle.
        }
        Ok(api)
    }

    pub(crate) fn set_page_seg_mode(&mut self, mode: u32) {
        // SAFETY: valid handle; every TessPageSegMode value is accepted.
        unsafe { sys::TessBaseAPISetPageSegMode(self.handle.as_ptr(), mode) }
    }

    /// Sets a tesseract parameter; false when the name is unknown or the
    /// value invalid.
    pub(crate) fn set_variable(&mut self, name: &CStr, value: &CStr) -> bool {
        // SAFETY: valid handle and NUL-terminated strings that outlive the call.
        unsafe { sys::TessBaseAPISetVariable(self.handle.as_ptr(), name.as_ptr(), value.as_ptr()) != 0 }
    }

    /// Hands an 8-bit grayscale image to tesseract (which copies it) and
    /// sets its resolution when `ppi` is given. Dimensions must have been
    /// checked by the caller to fit in `c_int` and be non-zero.
    pub(crate) fn set_image(&mut self, page: &image::GrayImage, ppi: Option<u32>) {
        let width = c_int::try_from(page.width()).unwrap_or(c_int::MAX);
        let height = c_int::try_from(page.height()).unwrap_or(c_int::MAX);
        let pixels: &[u8] = page.as_raw();
        debug_assert_eq!(pixels.len() as u64, u64::from(page.width()) * u64::from(page.height()));
        // SAFETY: `pixels` holds width*height bytes, row-major with
        // bytes_per_line = width and 1 byte per pixel, exactly as described
        // to tesseract (the caller keeps both dimensions within c_int).
        // SetImage copies the data into its own Pix, so the borrow only has
        // to last for the call.
        unsafe { sys::TessBaseAPISetImage(self.handle.as_ptr(), pixels.as_ptr(), width, height, 1, width) }
        if let Some(ppi) = ppi {
            let ppi = c_int::try_from(ppi).unwrap_or(c_int::MAX);
            // SAFETY: valid handle, an image is set.
            unsafe { sys::TessBaseAPISetSourceResolution(self.handle.as_ptr(), ppi) }
        }
    }

    /// Runs layout analysis and recognition on the image set last, asking
    /// tesseract to stop once `deadline` has passed (`None`: no deadline).
    pub(crate) fn recognize_until(&mut self, deadline: Option<Instant>) -> RecognizeOutcome {
        let state = DeadlineState { deadline, fired: Cell::new(false) };
        // SAFETY: TessMonitorCreate has no preconditions.
        let monitor = unsafe { sys::TessMonitorCreate() };
        if monitor.is_null() {
            return RecognizeOutcome::Failed { code: -1 };
        }
        // SAFETY: `monitor` is a valid ETEXT_DESC. The cancel-this pointer is
        // `&state`, which lives until the end of this function, after the
        // monitor is deleted; tesseract only dereferences it (through
        // `cancel_when_past_deadline`) inside TessBaseAPIRecognize below, on
        // this thread.
        let code = unsafe {
            sys::TessMonitorSetCancelFunc(monitor, Some(cancel_when_past_deadline));
            sys::TessMonitorSetCancelThis(monitor, ptr::from_ref(&state).cast_mut().cast::<c_void>());
            let code = sys::TessBaseAPIRecognize(self.handle.as_ptr(), monitor);
            let progress = sys::TessMonitorGetProgress(monitor);
            sys::TessMonitorDelete(monitor);
            (code, progress)
        };
        match code {
            (_, progress) if state.fired.get() => RecognizeOutcome::DeadlineExceeded { progress },
            (0, _) => RecognizeOutcome::Finished,
            (code, _) => RecognizeOutcome::Failed { code },
        }
    }

    /// The recognised text in tesseract's own layout (what the CLI prints).
    pub(crate) fn utf8_text(&mut self) -> String {
        // SAFETY: valid handle; the result is null or a new[]-allocated
        // NUL-terminated string that `take_text` frees.
        unsafe { take_text(sys::TessBaseAPIGetUTF8Text(self.handle.as_ptr())) }
    }

    /// Every word of the last recognition, in reading order.
    pub(crate) fn words(&mut self) -> Vec<RawWord> {
        let level = sys::TessPageIteratorLevel_RIL_WORD;
        let line_level = sys::TessPageIteratorLevel_RIL_TEXTLINE;
        let mut words = Vec::new();
        // SAFETY: valid handle after a recognition; the iterator is null
        // when there are no results, otherwise owned here and deleted below.
        let iterator = unsafe { sys::TessBaseAPIGetIterator(self.handle.as_ptr()) };
        if iterator.is_null() {
            return words;
        }
        // SAFETY: `iterator` is valid until TessResultIteratorDelete at the
        // end. The page iterator is a view into it (not separately owned).
        // Text pointers are freed by `take_text`. Out-pointers are locals.
        unsafe {
            let page_iterator = sys::TessResultIteratorGetPageIterator(iterator);
            let mut line: Option<u32> = None;
            loop {
                if sys::TessPageIteratorIsAtBeginningOf(page_iterator, line_level) != 0 || line.is_none() {
                    line = Some(line.map_or(0, |line| line + 1));
                }
                let text = take_text(sys::TessResultIteratorGetUTF8Text(iterator, level));
                let confidence = sys::TessResultIteratorConfidence(iterator, level);
                let (mut left, mut top, mut right, mut bottom) = (0, 0, 0, 0);
                let has_box = sys::TessPageIteratorBoundingBox(
                    page_iterator,
                    level,
                    &mut left,
                    &mut top,
                    &mut right,
                    &mut bottom,
                ) != 0;
                if has_box {
                    words.push(RawWord { text, bbox: [left, top, right, bottom], confidence, line: line.unwrap_or(0) });
                }
                if sys::TessResultIteratorNext(iterator, level) == 0 {
                    break;
                }
            }
            sys::TessResultIteratorDelete(iterator);
        }
        words
    }

    /// Orientation and script detection on the image set last; the engine
    /// must have been initialised with the `osd` model. Returns tesseract's
    /// `orient_deg` (0, 90, 180, 270) and its confidence, or `None` when it
    /// could not decide (too little text).
    pub(crate) fn detect_orientation(&mut self) -> Option<(i32, f32)> {
        let mut orient_deg: c_int = 0;
        let mut orient_conf: f32 = 0.0;
        let mut script_name: *const c_char = ptr::null();
        let mut script_conf: f32 = 0.0;
        // SAFETY: valid handle with an image set; all out-pointers are
        // locals. `script_name` receives a pointer into the OSD model's
        // unicharset (tesseract 5 does not allocate it, despite an old
        // comment in capi.h); it is never read or freed here.
        let found = unsafe {
            sys::TessBaseAPIDetectOrientationScript(
                self.handle.as_ptr(),
                &mut orient_deg,
                &mut orient_conf,
                &mut script_name,
                &mut script_conf,
            )
        };
        (found != 0).then_some((orient_deg, orient_conf))
    }

    /// The skew of the page recognised last, measured by leptonica's
    /// `pixFindSkew` on the binary image tesseract made of it (a shared
    /// reference, no new thresholding): degrees to turn the image clockwise
    /// to level it, and leptonica's confidence. `None` when there is no
    /// binary image or leptonica finds no lines to measure.
    pub(crate) fn skew_of_binary_image(&mut self) -> Option<(f32, f32)> {
        // SAFETY: valid handle after a recognition. The result is null or a
        // clone of tesseract's binary Pix (its reference count raised), which
        // this function owns and destroys below.
        let mut pix = unsafe { sys::TessBaseAPIGetThresholdedImage(self.handle.as_ptr()) };
        if pix.is_null() {
            return None;
        }
        let (mut angle, mut confidence) = (0.0f32, 0.0f32);
        // SAFETY: `pix` is a valid 1-bpp Pix; the out-pointers are locals.
        // pixDestroy takes the address of our pointer, drops the reference
        // and nulls it.
        let code = unsafe {
            let code = leptonica_sys::pixFindSkew(pix, &mut angle, &mut confidence);
            leptonica_sys::pixDestroy(&mut pix);
            code
        };
        (code == 0 && angle.is_finite() && confidence > 0.0).then_some((angle, confidence))
    }

    /// Frees the image and the results of the last page; the model stays.
    pub(crate) fn clear(&mut self) {
        // SAFETY: valid handle; Clear is allowed in any state.
        unsafe { sys::TessBaseAPIClear(self.handle.as_ptr()) }
    }
}

impl Drop for TessApi {
    fn drop(&mut self) {
        // SAFETY: the handle came from TessBaseAPICreate and is deleted
        // exactly once; TessBaseAPIDelete calls End itself.
        unsafe { sys::TessBaseAPIDelete(self.handle.as_ptr()) }
    }
}

/// The state behind the monitor's cancel-this pointer.
struct DeadlineState {
    deadline: Option<Instant>,
    fired: Cell<bool>,
}

/// Tesseract's cancel callback: true (stop) once the deadline has passed.
/// It must not unwind into C: nothing in it can panic.
unsafe extern "C" fn cancel_when_past_deadline(cancel_this: *mut c_void, _words: c_int) -> bool {
    // SAFETY: `cancel_this` is the `&DeadlineState` set in `recognize_until`,
    // alive for the whole TessBaseAPIRecognize call that invokes us, and
    // only read here (the flag is a Cell, so a shared reference suffices).
    let state = unsafe { &*cancel_this.cast_const().cast::<DeadlineState>() };
    if state.deadline.is_some_and(|deadline| Instant::now() >= deadline) {
        state.fired.set(true);
        return true;
    }
    false
}

/// Copies a tesseract-allocated string and frees it; "" for null.
///
/// # Safety
/// `text` is null or a NUL-terminated string allocated by tesseract for the
/// caller to free, not used afterwards.
unsafe fn take_text(text: *mut c_char) -> String {
    if text.is_null() {
        return String::new();
    }
    // SAFETY: per the function contract.
    unsafe {
        let owned = CStr::from_ptr(text).to_string_lossy().into_owned();
        sys::TessDeleteText(text);
        owned
    }
}

/// A C string for tesseract, or `None` when `value` contains a NUL byte.
pub(crate) fn c_string(value: &str) -> Option<CString> {
    CString::new(value).ok()
}
