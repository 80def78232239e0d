//! Labelled documents from the ground truth of generated deliveries
//! (`make-deliveries`, truth schema `make-deliveries/truth/v1`).
//!
//! Each `DIR/truth/<batch>.json` lists a batch's documents with their type,
//! record, pages and the exact printed text of every page. A document's
//! training text is the text of its content pages joined by form feed;
//! separator sheets and blank back sides are left out, as the pipeline
//! leaves them out before classifying. A document delivered twice (a
//! redelivery, a duplicate-record defect) counts once. Each example's group
//! is its template, so calibration can hold whole layouts out.
//!
//! This is the only module that reads files besides the model file. It
//! reads, it does not generate: run the generator yourself (see the
//! `classify` bench for the commands).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use scan2dms_model::Series;
use serde::Deserialize;

use crate::doc_type::DocType;
use crate::model::{Example, Model, TrainError, TrainOptions, train};

/// One batch's ground truth, the parts this crate uses.
#[derive(Debug, Clone, Deserialize)]
pub struct TruthBatch {
    pub batch_id: String,
    pub series: Series,
    pub expected_outcome: String,
    #[serde(default)]
    pub document_split: Option<String>,
    #[serde(default)]
    pub warnings: Vec<TruthWarning>,
    pub documents: Vec<TruthDocument>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TruthWarning {
    pub code: String,
    #[serde(default)]
    pub record_id: Option<String>,
    #[serde(default)]
    pub page_no: Option<u32>,
    #[serde(default)]
    pub printed_key: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TruthDocument {
    pub record_id: String,
    pub document_no: u32,
    pub doc_type: DocType,
    #[serde(default)]
    pub cover: bool,
    #[serde(default)]
    pub template: Option<String>,
    /// The document date as printed (`dd.mm.yyyy`).
    #[serde(default)]
    pub date: Option<String>,
    pub key_fields: TruthKeyFields,
    pub pages: Vec<TruthPage>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TruthKeyFields {
    pub record_key: Option<String>,
    pub record_keys: Vec<String>,
    pub dates: Vec<String>,
    pub amounts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TruthPage {
    pub page_no: u32,
    pub separator: bool,
    pub blank: bool,
    pub text: String,
    #[serde(default)]
    pub stamp_text: Vec<String>,
}

impl TruthDocument {
    /// Pages that belong in the e-file: separator sheets removed, blank back
    /// sides kept.
    pub fn content_pages(&self) -> impl Iterator<Item = &TruthPage> {
        self.pages.iter().filter(|page| !page.separator)
    }

    /// The text a classifier sees: non-blank content pages joined by form feed.
    pub fn text(&self) -> String {
        self.content_pages().filter(|page| !page.blank).map(|page| page.text.as_str()).collect::<Vec<_>>().join("\u{c}")
    }

    /// The page number of the document's first content page.
    pub fn first_page_no(&self) -> Option<u32> {
        self.content_pages().next().map(|page| page.page_no)
    }
}

/// Why labelled documents could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("cannot list truth files in {path}: {source}")]
    ListDir { path: PathBuf, source: std::io::Error },
    #[error("cannot read truth file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("truth file {path} is not a make-deliveries truth file: {source}")]
    Parse { path: PathBuf, source: serde_json::Error },
    #[error("no truth files (truth/*.json) in {0}")]
    NoTruthFiles(PathBuf),
    #[error(transparent)]
    Train(#[from] TrainError),
}

/// Reads every batch truth file of a generated delivery directory, in file
/// name order. `dir` is the generator's `--out` directory (holding
/// `truth/`) or the `truth/` directory itself; `orders.json` and
/// `summary.json` are not batches and are skipped.
pub fn read_truth_dir(dir: &Path) -> Result<Vec<TruthBatch>, TrainingError> {
    let truth_dir = if dir.join("truth").is_dir() { dir.join("truth") } else { dir.to_owned() };
    let entries =
        std::fs::read_dir(&truth_dir).map_err(|source| TrainingError::ListDir { path: truth_dir.clone(), source })?;
    let mut paths: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| TrainingError::ListDir { path: truth_dir.clone(), source })?;
        let path = entry.path();
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") && name != "orders.json" && name != "summary.json" {
            paths.push(path);
        }
    }
    paths.sort();
    if paths.is_empty() {
        return Err(TrainingError::NoTruthFiles(truth_dir));
    }
    paths
        .into_iter()
        .map(|path| {
            let json =
                std::fs::read_to_string(&path).map_err(|source| TrainingError::Read { path: path.clone(), source })?;
            serde_json::from_str(&json).map_err(|source| TrainingError::Parse { path, source })
        })
        .collect()
}

/// One example per distinct document with text, in batch and document order.
pub fn examples_from_truth(batches: &[TruthBatch]) -> Vec<Example> {
    let mut seen: HashSet<(String, u32, String)> = HashSet::new();
    let mut examples = Vec::new();
    for batch in batches {
        for document in &batch.documents {
            let text = document.text();
            if text.trim().is_empty() {
                continue;
            }
            if seen.insert((document.record_id.clone(), document.document_no, text.clone())) {
                examples.push(Example {
                    text,
                    series: batch.series,
                    label: document.doc_type,
                    group: document.template.clone(),
                });
            }
        }
    }
    examples
}

/// The examples of a generated delivery directory.
pub fn read_examples(dir: &Path) -> Result<Vec<Example>, TrainingError> {
    Ok(examples_from_truth(&read_truth_dir(dir)?))
}

impl Model {
    /// Trains a model with [`TrainOptions::default`] on the documents of a
    /// generated delivery directory (see [`read_truth_dir`]).
    pub fn train_default_from(dir: &Path) -> Result<Model, TrainingError> {
        let examples = read_examples(dir)?;
        Ok(train(&examples, &TrainOptions::default())?)
    }
}
