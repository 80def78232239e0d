//! What a scanned document is, read from its OCR text: its type (section 5
//! of the delivery format) with a calibrated confidence, its key fields
//! (record keys, dates, amounts, tax kind), whether a printed key disagrees
//! with the record, and where documents start in a record that came
//! without document numbers or separator sheets.
//!
//! Key decisions:
//! - The type classifier is a linear model (multinomial logistic regression,
//!   L2, AdaGrad) over hashed word, word-pair and character n-gram features
//!   of normalised text. It is small, fast, explainable and deterministic
//!   for a seed; the record series narrows the candidate types.
//! - Training favours what carries over to layouts never seen: a feature is
//!   learnt only if at least two layouts print it and at most half of all
//!   layouts do, and every type weighs the same in total, so the catch-all
//!   letters type does not win by numbers alone.
//! - Confidence is calibrated by temperature scaling on out-of-fold
//!   predictions, pooled from folds of familiar and of unseen layouts, so a
//!   threshold on it is a statement about error rates, not a raw score. The
//!   pipeline files documents at or above its configured threshold and
//!   sends the rest to review (`low_classification_confidence`).
//! - Training text is the generator's clean truth text plus seeded OCR-like
//!   noise; real OCR text will tell how good that proxy is.
//! - A model is a versioned JSON file loaded at start; a file of another
//!   format version is refused.
//!
//! This crate does no I/O except reading and writing model files and, in
//! [`training`], reading the generator's truth files. It does not OCR, does
//! not decide batch outcomes and does not log.

mod calibration;
mod doc_type;
mod evaluation;
mod features;
mod fields;
mod linear;
mod model;
mod noise;
mod rng;
mod segment;
pub mod training;

pub use calibration::{ReliabilityBin, expected_calibration_error, reliability_bins};
pub use doc_type::{DocType, UnknownDocType};
pub use evaluation::{ECE_BINS, Evaluation, Scored, TypeFigures, evaluate, lowest_threshold_for_precision};
pub use features::{FeatureParams, normalize};
pub use fields::{
    Amount, Currency, DocumentKeys, Fields, KeyMismatch, TaxKind, extract_fields, key_mismatch, record_key_mismatches,
};
pub use model::{
    CalibrationSplit, CalibrationSummary, ClassifyError, Example, FORMAT_VERSION, Model, ModelError, Prediction,
    TrainError, TrainOptions, TrainingSummary, train,
};
pub use noise::{NoiseOptions, ocr_noise};
/// The record series, as the classifier's callers pass it.
pub use scan2dms_model::Series;
pub use segment::{segment, start_scores};
